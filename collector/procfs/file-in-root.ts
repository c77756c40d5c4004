/**
 * Reads a small file named by a (hostile) process, as that process would see it, without ever leaving its
 * root. The collector runs as root: a path from a process's argv must not make it read the host's files.
 * Every component is resolved here, under `/proc/PID/root`; symbolic links are followed by hand and only
 * within that root (an absolute target restarts at the process's root, `..` never climbs above it); the
 * fully resolved path is opened with O_NOFOLLOW and must be a regular file no larger than the bound
 * (Kubernetes mounts ConfigMap and projected files as links into `..data/`, so links are followed).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from "node:fs";
import { isExpectedFsError } from "./proc-reader.js";

/** Linux's own bound on links followed while resolving one path (MAXSYMLINKS, include/linux/namei.h). */
const MAX_LINKS = 40;

/**
 * Resolves `path` as the process sees it: its root is `rootDir` (`/proc/PID/root`), its working
 * directory `cwd` (the target of `/proc/PID/cwd`, a path inside that root). Returns the host path with
 * every link resolved, or null when the path leaves nothing to open.
 */
export function resolveInRoot(rootDir: string, path: string, cwd = "/"): string | null {
  let pending = (path.startsWith("/") ? path : `${cwd}/${path}`).split("/");
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const hostPath = `${rootDir}/${[...done, part].join("/")}`;
    let isLink: boolean;
    try {
      isLink = lstatSync(hostPath).isSymbolicLink();
    } catch (error) {
      if (isExpectedFsError(error)) return null;
      throw error;
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) return null;
    const target = readlinkSync(hostPath);
    if (target.startsWith("/")) done.length = 0;
    pending = [...target.split("/"), ...pending];
  }
  if (done.length === 0) return null;
  return `${rootDir}/${done.join("/")}`;
}

/**
 * The text of a regular file inside a process's root, or null when it is missing, a link, not a regular
 * file, or larger than `maxBytes`. A directory swapped for a link between resolution and open is the one
 * race left; the final open never follows a link.
 */
export function readFileInRoot(
  rootDir: string,
  path: string,
  maxBytes: number,
  cwd = "/",
): { text: string } | { refused: string } {
  let hostPath: string | null;
  try {
    hostPath = resolveInRoot(rootDir, path, cwd);
  } catch (error) {
    return { refused: `cannot resolve: ${(error as Error).message}` };
  }
  if (hostPath === null) return { refused: "no such file inside the process's root" };
  let fd: number;
  try {
    fd = openSync(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return { refused: `cannot open: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { refused: "not a regular file" };
    if (stat.size > maxBytes) return { refused: `larger than ${maxBytes} bytes` };
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) return { refused: `larger than ${maxBytes} bytes` };
    }
    return { text: buffer.subarray(0, length).toString("utf8") };
  } finally {
    closeSync(fd);
  }
}
