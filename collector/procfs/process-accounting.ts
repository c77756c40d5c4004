/**
 * BSD process accounting as the source of exited processes: turned on once at start (`accton FILE`,
 * never per tick), read incrementally each tick, turned off on exit by the last rightsize collector
 * that uses it.
 *
 * Accounting is host-global: the kernel writes to one file at a time, and `accton` silently takes it
 * from whoever had it. So rightsize keeps one registry per host in {@link REGISTRY_DIR} (root-only, on
 * tmpfs: it does not survive a reboot, nor does the kernel's accounting): the file in use and the
 * collectors reading it. The first collector turns accounting on into its own state folder; later ones
 * (a `run` beside the daemon, two test files in parallel) join and read the same file from its current
 * end; each leaves by removing itself, and the last one turns accounting off. A collector that finds
 * accounting owned by something else (atop's atopacctd, Debian's acct service writing its pacct, a
 * registry whose file is gone) does not touch it and falls back to polling children lists.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { coerceError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { ACCT_V3_RECORD_BYTES, type AcctRecord, parseAcctRecords } from "./acct-format.js";
import { listDir } from "./proc-reader.js";
import { parseStat } from "./procfs-parse.js";

/** How exited processes are accounted: `auto` tries process accounting and falls back to the poll. */
export type AccountingMode = "auto" | "acct" | "poll";

/** Host-wide registry of the accounting file rightsize collectors share (root-only tmpfs). */
export const REGISTRY_DIR = "/run/rightsize";
/** Default state folder of the daemon; the accounting file lives here (root-only). */
export const DEFAULT_STATE_DIR = "/var/lib/rightsize";

/**
 * Accounting files other tools write (Debian/Red Hat acct service: /var/log/account/pacct,
 * /var/account/pacct; atop's atopacctd: /run/pacct_source names its file, atop.d/atop.acct).
 */
const FOREIGN_ACCOUNTING_FILES = [
  "/var/log/account/pacct",
  "/var/account/pacct",
  "/var/log/pacct",
  "/var/cache/atop.d/atop.acct",
  "/run/pacct_shadow.d/atop.acct",
];
/** Daemons that own process accounting while they run (atop: atopacctd.c). */
const FOREIGN_ACCOUNTING_DAEMONS = new Set(["atopacctd", "psacctd"]);

/** Reads of the accounting file are at most this big per tick (a backlog is read over later ticks). */
const READ_CHUNK_BYTES = 64 * ACCT_V3_RECORD_BYTES * 1024;
/** A lock older than this is a crashed collector's: taken over. */
const STALE_LOCK_MS = 10_000;

export interface ExitSource {
  readonly method: "acct" | "poll";
  /** Records appended since the last call (empty for the poll). */
  readNew(): AcctRecord[];
  /** Leaves the shared accounting (the last user turns it off). Idempotent. */
  close(): void;
}

/** The poll: no exit records; the tree walker's children lists and parents' cutime do the accounting. */
export const pollExitSource: ExitSource = { method: "poll", readNew: () => [], close: () => {} };

export interface AccountingOptions {
  mode: AccountingMode;
  /** Root-only folder for the accounting file ({@link DEFAULT_STATE_DIR} for the daemon). */
  stateDir: string;
  logger: Logger;
  procRoot?: string;
  /** Host-wide registry folder; tests on one host must share the default. */
  registryDir?: string;
  /** `accton` binary (Debian package acct). */
  accton?: string;
}

interface Registry {
  file: string;
  /** Collectors reading the file: pid and start ticks (pid reuse). */
  users: Array<{ pid: number; startTicks: number }>;
}

export class AccountingUnavailable extends Error {
  override name = "AccountingUnavailable";
}

/**
 * Opens the source of exited processes per `mode`, logging which method is used and why. `acct` throws
 * {@link AccountingUnavailable} when accounting cannot be used; `auto` falls back to the poll.
 */
export function openExitSource(options: AccountingOptions): ExitSource {
  if (options.mode === "poll") {
    options.logger.info({ method: "poll" }, "exited processes: polling children lists (configured)");
    return pollExitSource;
  }
  try {
    const source = SharedAccounting.open(options);
    options.logger.info(
      { method: "acct", file: source.file, joined: source.joined },
      source.joined
        ? "exited processes: BSD process accounting, joined the file another rightsize collector turned on"
        : "exited processes: BSD process accounting, turned on",
    );
    return source;
  } catch (error) {
    const reason = coerceError(error).message;
    if (options.mode === "acct") throw new AccountingUnavailable(reason, { cause: error });
    options.logger.info(
      { method: "poll", reason },
      "exited processes: polling children lists (accounting unavailable)",
    );
    return pollExitSource;
  }
}

function ownStartTicks(procRoot: string, pid: number): number | null {
  try {
    const stat = parseStat(readFileSync(`${procRoot}/${pid}/stat`, "latin1"));
    return stat?.startTicks ?? null;
  } catch {
    return null;
  }
}

/** A folder only root (this user) can write, made if missing; never a symlink or a shared folder. */
function privateFolder(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const info = lstatSync(path);
  const uid = process.geteuid?.() ?? 0;
  if (!info.isDirectory()) throw new AccountingUnavailable(`${path} is not a directory`);
  if (info.uid !== uid) throw new AccountingUnavailable(`${path} is owned by uid ${info.uid}, not ${uid}`);
  if ((info.mode & 0o022) !== 0)
    throw new AccountingUnavailable(
      `${path} is writable by others (mode ${(info.mode & 0o777).toString(8)})`,
    );
}

class SharedAccounting implements ExitSource {
  readonly method = "acct" as const;
  private offset: number;
  private closed = false;
  private readonly buffer = Buffer.alloc(READ_CHUNK_BYTES);

  private constructor(
    readonly file: string,
    private readonly fd: number,
    readonly joined: boolean,
    private readonly options: Required<Pick<AccountingOptions, "registryDir" | "accton" | "procRoot">> &
      AccountingOptions,
  ) {
    // A joiner starts at the end: what came before belongs to processes that exited before it looked.
    this.offset = joined ? fstatSync(fd).size - (fstatSync(fd).size % ACCT_V3_RECORD_BYTES) : 0;
  }

  static open(input: AccountingOptions): SharedAccounting {
    const options = {
      registryDir: REGISTRY_DIR,
      accton: "/usr/sbin/accton",
      procRoot: "/proc",
      ...input,
    };
    if ((process.geteuid?.() ?? -1) !== 0)
      throw new AccountingUnavailable("not root (CAP_SYS_PACCT is needed)");
    privateFolder(options.registryDir);
    const me = { pid: process.pid, startTicks: ownStartTicks(options.procRoot, process.pid) ?? 0 };
    return withLock(options.registryDir, () => {
      const registry = readRegistry(options.registryDir);
      const users = (registry?.users ?? []).filter(
        (user) => ownStartTicks(options.procRoot, user.pid) === user.startTicks && user.pid !== me.pid,
      );
      if (registry && users.length > 0) {
        // Another rightsize collector reads a file: join it, if it is still there and still ours.
        const fd = openReadOnly(registry.file);
        writeRegistry(options.registryDir, { file: registry.file, users: [...users, me] });
        return new SharedAccounting(registry.file, fd, true, options);
      }
      // No live rightsize user. The previous owner may have crashed with accounting on into its file;
      // anything else having it on is another tool's, and is left alone.
      const foreign = foreignOwner(options.procRoot, registry?.file ?? null);
      if (foreign) throw new AccountingUnavailable(`process accounting is in use by ${foreign}`);
      privateFolder(options.stateDir);
      const file = join(options.stateDir, "pacct");
      const writeFd = openSync(
        file,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
        0o600,
      );
      closeSync(writeFd);
      const result = spawnSync(options.accton, [file], { encoding: "utf8", timeout: 10_000 });
      if (result.error || result.status !== 0) {
        const why = result.error?.message ?? (result.stderr.trim() || `exit status ${result.status}`);
        throw new AccountingUnavailable(`${options.accton} ${file} failed: ${why}`);
      }
      const fd = openReadOnly(file);
      writeRegistry(options.registryDir, { file, users: [me] });
      return new SharedAccounting(file, fd, false, options);
    });
  }

  readNew(): AcctRecord[] {
    if (this.closed) return [];
    const records: AcctRecord[] = [];
    const size = fstatSync(this.fd).size;
    // Read at most one chunk per tick; a record written half-way is left for the next read.
    if (size > this.offset) {
      const want = Math.min(size - this.offset, this.buffer.length);
      const got = readSync(this.fd, this.buffer, 0, want, this.offset);
      const parsed = parseAcctRecords(this.buffer, got, this.offset);
      this.offset += parsed.used;
      records.push(...parsed.records);
    }
    return records;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    try {
      withLock(this.options.registryDir, () => {
        const registry = readRegistry(this.options.registryDir);
        if (!registry || registry.file !== this.file) return;
        const users = registry.users.filter(
          (user) =>
            user.pid !== process.pid && ownStartTicks(this.options.procRoot, user.pid) === user.startTicks,
        );
        if (users.length > 0) {
          writeRegistry(this.options.registryDir, { file: registry.file, users });
          return;
        }
        // The last user turns accounting off (rightsize turned it on) and removes its file.
        spawnSync(this.options.accton, ["off"], { timeout: 10_000 });
        unlinkQuietly(join(this.options.registryDir, "acct.json"));
        unlinkQuietly(registry.file);
      });
    } catch (error) {
      this.options.logger.warn({ err: coerceError(error) }, "leaving process accounting failed");
    }
  }
}

function openReadOnly(file: string): number {
  try {
    return openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new AccountingUnavailable(`cannot open the accounting file ${file}: ${coerceError(error).message}`);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function readRegistry(dir: string): Registry | null {
  try {
    const value = JSON.parse(readFileSync(join(dir, "acct.json"), "utf8")) as Partial<Registry>;
    if (typeof value.file !== "string" || !Array.isArray(value.users)) return null;
    const users = value.users.filter(
      (user): user is Registry["users"][number] =>
        typeof user === "object" &&
        user !== null &&
        Number.isInteger(user.pid) &&
        Number.isInteger(user.startTicks),
    );
    return { file: value.file, users };
  } catch {
    return null;
  }
}

function writeRegistry(dir: string, registry: Registry): void {
  const temporary = join(dir, `acct.json.${process.pid}`);
  writeFileSync(temporary, JSON.stringify(registry), { mode: 0o600 });
  renameSync(temporary, join(dir, "acct.json"));
}

/** Runs `work` holding the registry lock (O_EXCL lock file; a stale one from a crash is broken). */
function withLock<T>(dir: string, work: () => T): T {
  const lock = join(dir, "acct.lock");
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      closeSync(openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkQuietly(lock);
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new AccountingUnavailable(`the registry lock ${lock} is held`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return work();
  } finally {
    unlinkQuietly(lock);
  }
}

/**
 * Who else has process accounting on, as far as can be told without taking it: an accounting daemon
 * running, or a known accounting file (not the crashed rightsize's own) that grows when a process exits.
 */
function foreignOwner(procRoot: string, ownFile: string | null): string | null {
  for (const entry of listDir(procRoot) ?? []) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`${procRoot}/${entry}/comm`, "latin1").trim();
    } catch {
      continue;
    }
    if (FOREIGN_ACCOUNTING_DAEMONS.has(comm)) return `${comm} (pid ${entry})`;
  }
  const files = FOREIGN_ACCOUNTING_FILES.filter((file) => file !== ownFile);
  const sizes = files.map((file) => sizeOf(file));
  spawnSync("/bin/true");
  for (let index = 0; index < files.length; index++) {
    const before = sizes[index] ?? null;
    const after = sizeOf(files[index]!);
    if (before !== null && after !== null && after > before) return `the accounting file ${files[index]}`;
  }
  return null;
}

function sizeOf(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}
