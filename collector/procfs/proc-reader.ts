/**
 * Thin synchronous readers of procfs and cgroupfs. procfs reports size 0 for its files, so readFileSync
 * grows its buffer by trial; reading with readSync into one reused buffer is about a third cheaper, and
 * re-reading through a kept fd (pread at offset 0 regenerates the file) halves that again (measured
 * when written; the tick they serve: BENCHMARKS.md "collector"). A file that vanished (the process
 * exited) or that we may not read returns `undefined`.
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";

/** Errors that mean "the process or file is gone, or not ours to read": expected, not failures. */
const EXPECTED_CODES = new Set(["ENOENT", "ESRCH", "EACCES", "EPERM", "ENOTDIR", "EINVAL", "ENXIO"]);

export function isExpectedFsError(error: unknown): boolean {
  return EXPECTED_CODES.has((error as NodeJS.ErrnoException)?.code ?? "");
}

/** The initial buffer holds any stat/status/io file; larger files (net/tcp on busy hosts) grow it. */
const INITIAL_BUFFER_BYTES = 64 * 1024;

/** Files shorter than this come whole from one read (see readFd); half of the smallest page size. */
const SINGLE_READ_BYTES = 2048;

export class ProcReader {
  private buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private readonly kept = new Map<string, number>();

  /**
   * @param maxKeptFds - fds kept open for re-reading; beyond this files are opened per read. 4,096 stays
   *   well under the usual 20k–1M nofile limits while covering hundreds of tracked threads.
   */
  constructor(private readonly maxKeptFds = 4096) {}

  /** Reads a whole file; `undefined` when it does not exist (any more) or may not be read. */
  read(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (error) {
      if (isExpectedFsError(error)) return undefined;
      throw error;
    }
    try {
      return this.readFd(fd, 0);
    } catch (error) {
      if (isExpectedFsError(error)) return undefined;
      throw error;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads a file through an fd kept open across calls. The fd stays bound to the process it was opened
   * for: once that process exits, reads fail with ESRCH instead of silently reading a reused pid.
   * `mayBeEmpty`: an empty file is an answer (a children list), not a sign of an exited process, and its
   * fd is kept.
   */
  readKept(path: string, mayBeEmpty = false): string | undefined {
    let fd = this.kept.get(path);
    if (fd === undefined) {
      if (this.kept.size >= this.maxKeptFds) return this.read(path);
      try {
        fd = openSync(path, "r");
      } catch (error) {
        if (isExpectedFsError(error)) return undefined;
        throw error;
      }
      this.kept.set(path, fd);
    }
    try {
      const text = this.readFd(fd, 0);
      if (text.length === 0 && !mayBeEmpty) {
        // An exited process's files read empty on some kernels.
        this.forget(path);
        return undefined;
      }
      return text;
    } catch (error) {
      this.forget(path);
      if (isExpectedFsError(error)) return undefined;
      throw error;
    }
  }

  /** Closes kept fds whose path starts with `prefix` (a process's or thread's folder). */
  forgetPrefix(prefix: string): void {
    for (const path of this.kept.keys()) if (path.startsWith(prefix)) this.forget(path);
  }

  forget(path: string): void {
    const fd = this.kept.get(path);
    if (fd === undefined) return;
    this.kept.delete(path);
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing to release
    }
  }

  get keptFds(): number {
    return this.kept.size;
  }

  close(): void {
    for (const path of [...this.kept.keys()]) this.forget(path);
  }

  private readFd(fd: number, position: number): string {
    let length = 0;
    for (;;) {
      if (length === this.buffer.length) {
        const bigger = Buffer.allocUnsafe(this.buffer.length * 2);
        this.buffer.copy(bigger, 0, 0, length);
        this.buffer = bigger;
      }
      const room = this.buffer.length - length;
      const read = readSync(fd, this.buffer, length, room, position + length);
      length += read;
      // A seq_file read returns whole records until the next one would overflow its one-page buffer
      // (fs/seq_file.c seq_read_iter), so a short read under half a page with room to spare is the whole
      // file: stat, io, schedstat, status and small children lists need no second pread to see EOF.
      if (read === 0 || (read < room && length < SINGLE_READ_BYTES)) break;
    }
    return this.buffer.toString("utf8", 0, length);
  }
}

/** Lists a folder; `undefined` when it is gone or unreadable. */
export function listDir(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch (error) {
    if (isExpectedFsError(error)) return undefined;
    throw error;
  }
}

/** Reads a symlink (an fd link, a namespace); `undefined` when gone or unreadable. */
export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch (error) {
    if (isExpectedFsError(error)) return undefined;
    throw error;
  }
}
