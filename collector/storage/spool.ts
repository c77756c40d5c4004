/**
 * The on-disk spool: where the writer's batches wait while the database is unreachable.
 *
 * Append-only segment files in one folder (`segment-000000000001-PID.spool`, …), replayed in name order.
 * Writers of several processes may share the folder; each replays its own segments and those of
 * processes that are gone.
 * Each record is one line `CRC32HEX<TAB>JSON<LF>`: the checksum tells a torn or corrupted line (a crash
 * mid-write, a full disk) from a good one, so a bad line is skipped with a warning and the rest of the
 * segment still replays. A segment is removed only when the caller says its records are committed.
 *
 * The spool is bounded: an append that would take it past `maxBytes` is refused and counted; that is the
 * only way the collector loses data.
 *
 * The collector runs as root and replays what it finds here into the database, so the folder is trusted
 * only when nobody else can write into it (docs/collector-storage.md "Where the spool lives"): it must be
 * owned by the effective user and writable by nobody else, on a path no other user can swap; folders are
 * 0700 and files 0600. Files are opened without following links and without blocking (a FIFO named like a
 * segment would otherwise freeze the event loop), and only regular files owned by the effective user are
 * read. Anything else named like a segment is moved to `quarantine/`, counted and logged, never retried. The spool does file I/O synchronously: appends are one small write
 * per flush interval (one batch a second), and a synchronous write cannot interleave with a rotation.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { crc32 } from "node:zlib";
import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { isProcessAlive } from "../../common/process-alive.js";

/** `segment-SEQUENCE-PID.spool`: the pid of the process that wrote it (absent in older spools). */
const SEGMENT_PATTERN = /^segment-(\d{12})(?:-(\d+))?\.spool$/;

/** Open flags (fs.constants, open(2)): never follow a link, never wait on a FIFO. */
const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** A new segment: must not exist yet (O_EXCL also refuses a planted link of that name). */
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW;
const APPEND_FLAGS = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;
/** Group- or other-writable bits. */
const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/** The spool folder, or a path leading to it, could be written by someone else: refused. */
export class SpoolFolderUntrustedError extends Error {
  override name = "SpoolFolderUntrustedError";
}

function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}

/**
 * Makes (0700) and checks the spool folder: an absolute path whose every ancestor is owned by root or the
 * effective user and not writable by others unless sticky (as /tmp: nobody else can rename our entry
 * there), the folder itself a real directory (not a link) owned by the effective user and writable by
 * nobody else. A folder of ours readable by others is tightened to 0700 (command lines are in it).
 * The same rule as OpenSSH's StrictModes for ~/.ssh (sshd_config(5)).
 */
export function prepareSpoolFolder(dir: string): void {
  if (!isAbsolute(dir)) throw new SpoolFolderUntrustedError(`spool folder ${dir}: not an absolute path`);
  const uid = effectiveUid();
  try {
    mkdirSync(dir, { recursive: true, mode: FOLDER_MODE });
  } catch (error) {
    throw new SpoolFolderUntrustedError(`spool folder ${dir}: cannot create it: ${describeError(error)}`, {
      cause: error,
    });
  }
  for (let ancestor = dirname(dir); ; ancestor = dirname(ancestor)) {
    const stats = statSync(ancestor);
    if (stats.uid !== 0 && stats.uid !== uid)
      throw new SpoolFolderUntrustedError(
        `spool folder ${dir}: ${ancestor} belongs to uid ${stats.uid}, who could replace the spool`,
      );
    if ((stats.mode & WRITABLE_BY_OTHERS) !== 0 && (stats.mode & STICKY) === 0)
      throw new SpoolFolderUntrustedError(
        `spool folder ${dir}: ${ancestor} is writable by others (mode ${octal(stats.mode)}) without the sticky bit`,
      );
    if (dirname(ancestor) === ancestor) break;
  }
  const stats = lstatSync(dir);
  if (!stats.isDirectory())
    throw new SpoolFolderUntrustedError(`spool folder ${dir}: not a directory (a link or a file)`);
  if (stats.uid !== uid)
    throw new SpoolFolderUntrustedError(
      `spool folder ${dir}: owned by uid ${stats.uid}, not by this process's uid ${uid}`,
    );
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0)
    throw new SpoolFolderUntrustedError(
      `spool folder ${dir}: writable by others (mode ${octal(stats.mode)}); make it 0700`,
    );
  if ((stats.mode & 0o077) !== 0) chmodSync(dir, FOLDER_MODE);
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** Why a file in the spool folder may not be read, or null when it is a regular file of ours. */
function untrustedFile(stats: Stats): string | null {
  if (!stats.isFile()) return "not a regular file";
  if (stats.uid !== effectiveUid()) return `owned by uid ${stats.uid}`;
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) return `writable by others (mode ${octal(stats.mode)})`;
  return null;
}

/** When the spool calls fsync. */
export type SpoolSync = "append" | "rotate";

export interface SpoolOptions {
  dir: string;
  /** Bound on the bytes of all segments together. */
  maxBytes: number;
  logger: Logger;
  /**
   * A segment is sealed and a new one started past this size, so replay reads bounded pieces and frees
   * disk as it goes. @defaultValue 8 MiB, or maxBytes / 8 when that is smaller
   */
  segmentBytes?: number;
  /**
   * "append": fsync after every append (a batch survives a power cut as soon as `append` returns);
   * "rotate": only when a segment is sealed or the spool closed (a crash of the process loses nothing,
   * since the page cache outlives it; a power cut may lose the open segment's tail).
   * @defaultValue "append" — one batch per flush interval makes it cheap; see BENCHMARKS.md "ingest".
   */
  sync?: SpoolSync;
}

/** What reading a segment found. */
export interface SegmentContents {
  records: unknown[];
  /** Lines skipped because their checksum or JSON was bad (a torn write). */
  corruptLines: number;
}

export interface SpoolStats {
  bytes: number;
  segments: number;
  appendedRecords: number;
  droppedRecords: number;
  /** Entries named like segments that could not be read safely, moved to `quarantine/`. */
  quarantined: number;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly logger: Logger;
  private readonly segmentBytes: number;
  private readonly sync: SpoolSync;
  /** Sizes of every segment on disk, by path, in replay order (Map keeps insertion order). */
  private readonly sizes = new Map<string, number>();
  private nextSequence: number;
  private active: { path: string; fd: number } | null = null;
  private appended = 0;
  private dropped = 0;
  private quarantinedCount = 0;
  /** Entries that could neither be read nor moved aside: skipped, never retried. */
  private readonly ignored = new Set<string>();

  /** Opens (creating if needed) the spool folder and takes stock of what a previous process left. */
  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.logger = options.logger;
    this.segmentBytes = Math.max(1, options.segmentBytes ?? Math.min(8 * 1024 * 1024, options.maxBytes / 8));
    this.sync = options.sync ?? "append";
    prepareSpoolFolder(this.dir);
    // A new process never appends to an old segment: its tail may be torn, and a good line glued to a
    // torn one would be lost with it.
    this.nextSequence = this.adopt() + 1;
  }

  /**
   * Takes over the segments no live process owns: its own, those of dead processes and unowned ones.
   * Several writers may share one folder (each `rightsize run` on a host uses the default): a writer
   * leaves a live one's segments alone, and picks them up once that process is gone. Returns the
   * highest sequence number seen, so new segments sort after every existing one.
   */
  private adopt(): number {
    let last = 0;
    const names = readdirSync(this.dir)
      .filter((name) => SEGMENT_PATTERN.test(name))
      .sort();
    for (const name of names) {
      const match = SEGMENT_PATTERN.exec(name)!;
      last = Math.max(last, Number(match[1]));
      const path = join(this.dir, name);
      if (this.sizes.has(path) || this.ignored.has(path)) continue;
      const owner = match[2] === undefined ? undefined : Number(match[2]);
      if (owner !== undefined && owner !== process.pid && isProcessAlive(owner)) continue;
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch {
        continue; // Replayed and removed by another writer in between.
      }
      const problem = untrustedFile(stats);
      if (problem) this.quarantine(path, problem);
      else this.sizes.set(path, stats.size);
    }
    return last;
  }

  /** Bytes on disk in all segments. */
  get bytes(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  /** True when records wait for replay. */
  hasRecords(): boolean {
    for (const size of this.sizes.values()) if (size > 0) return true;
    return false;
  }

  stats(): SpoolStats {
    return {
      bytes: this.bytes,
      segments: this.sizes.size,
      appendedRecords: this.appended,
      droppedRecords: this.dropped,
      quarantined: this.quarantinedCount,
    };
  }

  /**
   * Appends one record. Returns false, and counts it, when the spool is full or the disk refuses the
   * write: the caller decides how loudly to report it. Never throws.
   */
  append(record: unknown): boolean {
    const json = JSON.stringify(record);
    const line = Buffer.from(`${crc32(json).toString(16).padStart(8, "0")}\t${json}\n`);
    if (this.bytes + line.length > this.maxBytes) {
      this.dropped++;
      return false;
    }
    try {
      if (this.active && (this.sizes.get(this.active.path) ?? 0) + line.length > this.segmentBytes) {
        this.seal();
      }
      const active = this.active ?? this.startSegment();
      writeFully(active.fd, line);
      if (this.sync === "append") fsyncSync(active.fd);
      this.sizes.set(active.path, (this.sizes.get(active.path) ?? 0) + line.length);
      this.appended++;
      return true;
    } catch (error) {
      this.logger.error({ err: describeError(error), dir: this.dir }, "cannot write to the spool");
      // Whatever part of the line reached the file is a torn line: checksum-skipped at replay. A fresh
      // segment keeps later appends from being glued to it.
      this.sealQuietly();
      this.dropped++;
      return false;
    }
  }

  /**
   * The segments to replay, oldest first. Seals the open segment first, so everything appended so far
   * is included and later appends go to a new segment.
   */
  segments(): string[] {
    this.seal();
    this.adopt();
    return [...this.sizes.keys()].sort();
  }

  /**
   * Reads a segment's good records in order, skipping (and counting) torn or corrupt lines. A segment that
   * cannot be read safely (a link, a FIFO, a folder, someone else's file, a read error) is quarantined
   * and reads as empty, so it never blocks the replay.
   */
  read(path: string): SegmentContents {
    const empty = { records: [], corruptLines: 0 };
    let text: string;
    let fd: number | undefined;
    try {
      fd = openSync(path, READ_FLAGS);
      const problem = untrustedFile(fstatSync(fd));
      if (problem) {
        closeSync(fd);
        fd = undefined;
        this.quarantine(path, problem);
        return empty;
      }
      text = readFileSync(fd, "utf8");
    } catch (error) {
      // Another writer sharing the folder replayed and removed it first: nothing left to do.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") this.sizes.delete(path);
      else this.quarantine(path, describeError(error));
      return empty;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const records: unknown[] = [];
    let corruptLines = 0;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      // A last line without its newline was cut mid-write: torn, whatever its content looks like.
      const torn = end === -1;
      if (torn) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      if (line.length === 0) continue;
      const record = torn ? undefined : parseLine(line);
      if (record === undefined) corruptLines++;
      else records.push(record.value);
    }
    if (corruptLines > 0) {
      this.logger.warn({ segment: path, corruptLines }, "skipped torn or corrupt spool lines");
    }
    return { records, corruptLines };
  }

  /** Deletes a replayed segment: call only once all its records are committed. */
  remove(path: string): void {
    if (this.active?.path === path) this.seal();
    rmSync(path, { force: true });
    this.sizes.delete(path);
  }

  /**
   * Sets one record aside in `rejected/records.spool` (same line format) instead of replaying it: for a
   * record the database refuses for good, so it neither blocks the replay nor vanishes. Returns the file.
   */
  reject(record: unknown): string {
    const folder = join(this.dir, "rejected");
    prepareSpoolFolder(folder);
    const target = join(folder, "records.spool");
    const json = JSON.stringify(record);
    let fd = openAppend(target);
    if (fd === null) {
      this.quarantine(target, "not a regular file of ours");
      fd = openAppend(target);
      if (fd === null) throw new Error(`cannot open ${target} safely`);
    }
    try {
      writeFully(fd, Buffer.from(`${crc32(json).toString(16).padStart(8, "0")}\t${json}\n`));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return target;
  }

  /** Seals the open segment (fsync + close). The spool stays usable: the next append starts a segment. */
  close(): void {
    this.seal();
  }

  /**
   * Moves an entry that cannot be read safely to `quarantine/` (rename does not follow links nor open
   * FIFOs), counts and logs it. When even that fails it is remembered and skipped, never retried.
   */
  private quarantine(path: string, reason: string): void {
    this.sizes.delete(path);
    this.quarantinedCount++;
    const folder = join(this.dir, "quarantine");
    const target = join(folder, `${basename(path)}.${Date.now()}`);
    try {
      prepareSpoolFolder(folder);
      renameSync(path, target);
      this.logger.error({ entry: path, movedTo: target, reason }, "spool entry quarantined: not replayed");
    } catch (error) {
      this.ignored.add(path);
      this.logger.error(
        { entry: path, reason, err: describeError(error) },
        "spool entry cannot be read nor moved aside: skipped",
      );
    }
  }

  private startSegment(): { path: string; fd: number } {
    const name = `segment-${String(this.nextSequence++).padStart(12, "0")}-${process.pid}.spool`;
    const path = join(this.dir, name);
    const fd = openSync(path, CREATE_FLAGS, FILE_MODE);
    this.active = { path, fd };
    this.sizes.set(path, 0);
    if (this.sync === "append") fsyncDirectory(this.dir);
    return this.active;
  }

  private seal(): void {
    if (!this.active) return;
    const { fd } = this.active;
    this.active = null;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private sealQuietly(): void {
    try {
      this.seal();
    } catch (error) {
      this.logger.warn({ err: describeError(error) }, "cannot seal spool segment");
    }
  }
}

/** Opens a file for appending without following a link; null when it is not a regular file of ours. */
function openAppend(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, APPEND_FLAGS, FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") return null;
    throw error;
  }
  if (untrustedFile(fstatSync(fd)) !== null) {
    closeSync(fd);
    return null;
  }
  return fd;
}

/** What `rightsize status` shows of a spool folder, read without creating or adopting anything. */
export interface SpoolInspection {
  dir: string;
  exists: boolean;
  segments: number;
  bytes: number;
  rejectedBytes: number;
  quarantined: number;
}

export function inspectSpool(dir: string): SpoolInspection {
  const result: SpoolInspection = {
    dir,
    exists: false,
    segments: 0,
    bytes: 0,
    rejectedBytes: 0,
    quarantined: 0,
  };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return result;
  }
  result.exists = true;
  for (const name of names) {
    if (!SEGMENT_PATTERN.test(name)) continue;
    try {
      const stats = lstatSync(join(dir, name));
      if (!stats.isFile()) continue;
      result.segments++;
      result.bytes += stats.size;
    } catch {
      // Removed in between.
    }
  }
  try {
    result.rejectedBytes = lstatSync(join(dir, "rejected", "records.spool")).size;
  } catch {
    // Nothing set aside.
  }
  try {
    result.quarantined = readdirSync(join(dir, "quarantine")).length;
  } catch {
    // Nothing quarantined.
  }
  return result;
}

function writeFully(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
}

/** A new file's name is durable only once its folder is synced. */
function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is still synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** One spool line, or undefined when its checksum or JSON is bad. Exported for tests. */
export function parseLine(line: string): { value: unknown } | undefined {
  const tab = line.indexOf("\t");
  if (tab !== 8) return undefined;
  const json = line.slice(tab + 1);
  if (crc32(json).toString(16).padStart(8, "0") !== line.slice(0, tab)) return undefined;
  try {
    return { value: JSON.parse(json) };
  } catch {
    return undefined;
  }
}
