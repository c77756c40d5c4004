/**
 * The trust model (docs/collector-storage.md "Whose processes become executions"): which processes the
 * `collect` daemon may turn into task executions. Anyone can set RIGHTSIZE_* variables or give a process
 * an Airflow-shaped argv; what an ordinary user cannot forge is their uid and their cgroup: only root
 * (through systemd, a container runtime or the kubelet) places a process in a system service's or a
 * container's cgroup. Pure functions of plain data: discovery.ts reads /proc and asks.
 */
import { TRUST_ENTRY } from "../../common/config.js";

/** One parsed `collector.trust` setting. */
export interface TrustPolicy {
  /** `any`: every process (rightsize before the trust model; only for hosts without other users). */
  any: boolean;
  /** Real uids whose processes are trusted wherever they run (`root` is uid 0). */
  uids: Set<number>;
  /** `system-services`: processes in a systemd system service or scope (`/system.slice/…`). */
  systemServices: boolean;
  /** `containers`: processes in a Kubernetes pod or a container runtime's cgroup, outside user.slice. */
  containers: boolean;
}

/** What discovery knows of a candidate root. */
export interface ProcessCredentials {
  /** Real uid from /proc/PID/status; null when unreadable. */
  uid: number | null;
  /** Its cgroup paths, one per hierarchy, from /proc/PID/cgroup. */
  cgroupPaths: string[];
}

/** The default: useful on an Airflow worker (a systemd service, a container or a pod), closed to logins. */
export const DEFAULT_TRUST = ["root", "system-services", "containers"];

export class TrustSettingError extends Error {
  override name = "TrustSettingError";
}

/**
 * Parses `collector.trust` entries. `user:NAME` is looked up in `users` (name → uid, from the host's
 * /etc/passwd: see {@link parsePasswd}); an unknown name is an error, not a silent "trust nobody".
 */
export function parseTrustPolicy(entries: string[], users: Map<string, number>): TrustPolicy {
  const policy: TrustPolicy = { any: false, uids: new Set(), systemServices: false, containers: false };
  for (const entry of entries) {
    if (!TRUST_ENTRY.test(entry)) throw new TrustSettingError(`collector.trust: unknown entry '${entry}'`);
    if (entry === "any") policy.any = true;
    else if (entry === "root") policy.uids.add(0);
    else if (entry === "system-services") policy.systemServices = true;
    else if (entry === "containers") policy.containers = true;
    else if (entry.startsWith("uid:")) {
      const uid = Number(entry.slice(4));
      // uid_t is 32 bits; (uid_t)-1 means "no uid" (setresuid(2)).
      if (uid >= 4_294_967_295) throw new TrustSettingError(`collector.trust: '${entry}' is not a uid`);
      policy.uids.add(uid);
    } else {
      const name = entry.slice(5);
      const uid = users.get(name);
      if (uid === undefined) throw new TrustSettingError(`collector.trust: no user '${name}' on this host`);
      policy.uids.add(uid);
    }
  }
  return policy;
}

/** name → uid from /etc/passwd text (passwd(5): name:password:UID:GID:GECOS:home:shell). */
export function parsePasswd(text: string): Map<string, number> {
  const users = new Map<string, number>();
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    const uid = Number(fields[2]);
    if (fields.length >= 3 && fields[0] && Number.isInteger(uid)) users.set(fields[0], uid);
  }
  return users;
}

/** The real uid from /proc/PID/status (`Uid:\treal\teffective\tsaved\tfs`, proc(5)). */
export function parseStatusUid(status: string | undefined): number | null {
  const match = status === undefined ? null : /(?:^|\n)Uid:\s+(\d+)/.exec(status);
  return match ? Number(match[1]) : null;
}

/** Kubernetes (kubepods), Docker, containerd, CRI-O, Podman (libpod): cgroup names of container runtimes. */
const CONTAINER_CGROUP = /(^|\/)(kubepods|docker|containerd|crio|libpod|cri-containerd)([-./]|$)/;

/**
 * Whether a process may be attributed. A login session or a user's own services live under
 * `/user.slice` (systemd.special(7)), whatever they name themselves: never a system service nor a
 * trusted container, even a rootless one.
 */
export function isTrusted(process: ProcessCredentials, policy: TrustPolicy): boolean {
  if (policy.any) return true;
  if (process.uid !== null && policy.uids.has(process.uid)) return true;
  const paths = process.cgroupPaths;
  if (paths.length === 0 || paths.some((path) => path.startsWith("/user.slice"))) return false;
  if (policy.systemServices && paths.some((path) => path.startsWith("/system.slice/"))) return true;
  if (policy.containers && paths.some((path) => CONTAINER_CGROUP.test(path))) return true;
  return false;
}
