/**
 * The embedded (PGlite) database shared by every rightsize process on a host: one process owns the
 * folder, the others talk to it.
 *
 * PGlite is Postgres in WebAssembly inside one process; two processes on one folder corrupt it. So the
 * first process to open the folder takes its lock (`FOLDER.lock`: pid and start time) and becomes the
 * owner: it opens PGlite, migrates, and serves the Postgres wire protocol on a Unix socket in the folder
 * (`FOLDER/.s.rightsize`, mode 0600: only the same user; a folder path too long for a socket address
 * is reached through a descriptor of the folder, see {@link socketAddress}). Every later process (a
 * `run` beside a `collect` daemon, ten `run`s an orchestrator starts at once, `status` while they run)
 * finds the lock held by a live process and connects to the socket with postgres.js instead: it never loads PGlite, and its
 * queries go through the owner one turn at a time (db/embedded-server.ts).
 *
 * An owner that closes keeps serving until its clients have disconnected, at most {@link DRAIN_MS}, then
 * hands over: it removes the socket, closes PGlite and frees the lock. A client that loses its owner
 * (handed over, or killed) gets a connection error; the writer spools and reconnects, and the first
 * process to find the lock free (or its holder dead) becomes the next owner. A lock whose process is gone
 * (killed -9) is taken over; a lock held by a live process that does not serve the socket (another
 * program, an older rightsize) is refused with a clear error.
 */
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { DatabaseUnavailableError, describeError, NoEmbeddedOwnerError } from "../common/errors.js";
import { type Logger, silentLogger } from "../common/logger.js";
import { isSameProcessAlive, processStartTicks } from "../common/process-alive.js";
import type { DatabaseHandle, DatabaseTarget, Db } from "./client.js";
import { type EmbeddedServer, startEmbeddedServer } from "./embedded-server.js";
import { type SeedOutcome, seedFromTemplate } from "./embedded-template.js";
import { migrationsFolder } from "./migrations-folder.js";
import * as schema from "./schema.js";

/** The socket's name in the database folder. */
export const OWNER_SOCKET_NAME = ".s.rightsize";

/**
 * How long an owner that closes waits for its clients to disconnect before it hands over. Chosen value:
 * long enough for `run`s that end together to write their last batch through it (one flush interval,
 * 1 s by default, plus the write), short enough that a `run` owning the database outlives its own
 * command by seconds, not minutes, when a long task is still connected. A client cut off loses nothing
 * (it spools and reconnects), so the bound trades only a reconnect against the owner's exit.
 */
export const DRAIN_MS = 10_000;

/**
 * How long a process waits for a live lock holder's socket to answer before calling the lock foreign.
 * An owner listens before it opens PGlite (milliseconds after it takes the lock) and removes the socket
 * only just before it closes PGlite and frees the lock (PGlite's close took 0.25 s on a 2-core host at
 * load 20, BENCHMARKS.md "wrapper"); 5 s covers both on a loaded host. Chosen value.
 */
const FOREIGN_WAIT_MS = 5_000;
const RETRY_MS = 50;

/**
 * How long a client waits for the owner's first answer: the owner may still be creating PGlite's folder
 * and migrating, which took 40 s for a new folder and 5 s to reopen one on a 2-core host at load 20
 * (BENCHMARKS.md "wrapper"). A `run` loses nothing meanwhile: its command runs and its rows wait in
 * memory. Chosen value.
 */
const OWNER_ANSWER_SECONDS = 120;

/** sun_path holds 108 bytes with its terminating NUL on Linux (unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Set on the postgres.js client of a handle served by an owner: db/copy.ts cannot COPY FROM STDIN there. */
export const SERVED_BY_OWNER = Symbol.for("rightsize.embedded.servedByOwner");

export interface EmbeddedOptions {
  /** postgres.js pool size for a client. @defaultValue 4 */
  maxConnections?: number;
  logger?: Logger;
  /**
   * Only through a live owner: with none, throw {@link NoEmbeddedOwnerError} instead of becoming the
   * owner (`run`: starting PGlite would cost the wrapped task seconds and hundreds of MB; its rows go to
   * the spool instead). @defaultValue false
   */
  clientOnly?: boolean;
}

export function ownerSocketPath(folder: string): string {
  return join(folder, OWNER_SOCKET_NAME);
}

/**
 * Whether the folder's socket path is over sun_path's limit, so that it is reached through a descriptor
 * ({@link socketAddress}); throws where that cannot be done (no /proc), naming the path and the limit.
 */
function socketNeedsDescriptor(folder: string): boolean {
  const path = ownerSocketPath(folder);
  const bytes = Buffer.byteLength(path);
  if (bytes <= MAX_SOCKET_PATH_BYTES) return false;
  if (existsSync("/proc/self/fd")) return true;
  throw new DatabaseUnavailableError(
    `embedded database folder ${folder}: its socket path ${path} is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES} a Unix socket path holds (unix(7)); use a shorter folder (--db PATH) or --db postgres://…`,
  );
}

/** The address a process binds or connects the owner's socket by, and how to let it go. */
interface SocketAddress {
  path: string;
  release(): void;
}

/**
 * How this process reaches the socket in `folder`. A path up to sun_path's limit is used as is. A longer
 * one (a deep home or CI workspace) is reached as `/proc/self/fd/N/.s.rightsize`, N a descriptor of the
 * folder this process holds open for as long as it binds or connects: the kernel resolves that magic link
 * to the folder itself (proc(5), /proc/PID/fd), so the socket stays in the 0700 folder, and no other
 * folder (a shared /tmp or runtime folder) is trusted with it. Descriptors are close-on-exec (libuv), so
 * the wrapped command never inherits one. Where /proc is absent, a long path is refused naming the limit.
 */
function socketAddress(folder: string): SocketAddress {
  const path = ownerSocketPath(folder);
  if (!socketNeedsDescriptor(folder)) return { path, release: () => {} };
  const fd = openSync(folder, constants.O_RDONLY | constants.O_DIRECTORY);
  let open = true;
  return {
    path: `/proc/self/fd/${fd}/${OWNER_SOCKET_NAME}`,
    release: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

interface LockHolder {
  pid: number;
  startTicks: number | null;
}

/** Reads `PID [START_TICKS]` (older lock files hold only the pid). */
function readLock(lockFile: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(lockFile, "utf8");
  } catch {
    return null;
  }
  const [pid, start] = text.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(pid) || pid! <= 0) return null;
  return { pid: pid!, startTicks: Number.isInteger(start) ? start! : null };
}

function createExclusive(file: string, content: string): boolean {
  try {
    const fd = openSync(file, "wx", 0o600);
    writeSync(fd, content);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Whether the lock's holder still runs. This very process counts too (a second open of a folder it owns
 * goes through its own socket rather than corrupting the folder with a second PGlite), but only with a
 * matching start time: a bare pid equal to ours was left by an earlier process that had it.
 */
function holderIsAlive(holder: LockHolder | null): boolean {
  if (holder === null) return false;
  if (holder.pid === process.pid)
    return holder.startTicks !== null && holder.startTicks === processStartTicks(process.pid);
  return isSameProcessAlive(holder.pid, holder.startTicks);
}

/**
 * Takes the folder's lock, or says who holds it. A dead holder's lock is removed under a second lock
 * (`.takeover`), so two processes that both found it stale cannot each remove the other's fresh lock.
 */
function tryLock(lockFile: string): { unlock: () => void } | { holder: LockHolder } {
  const me = `${process.pid} ${processStartTicks(process.pid) ?? ""}`.trim();
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(lockFile, me)) return { unlock: () => rmSync(lockFile, { force: true }) };
    const holder = readLock(lockFile);
    if (holderIsAlive(holder)) return { holder: holder! };
    const takeover = `${lockFile}.takeover`;
    if (!createExclusive(takeover, me)) {
      // Another process is taking over; a takeover left by a dead process is cleared for the next try.
      if (!holderIsAlive(readLock(takeover))) rmSync(takeover, { force: true });
      continue;
    }
    try {
      if (!holderIsAlive(readLock(lockFile))) rmSync(lockFile, { force: true });
    } finally {
      rmSync(takeover, { force: true });
    }
  }
  return { holder: readLock(lockFile) ?? { pid: 0, startTicks: null } };
}

/** A live process holds the embedded database's lock: it is open, and must not be deleted under it. */
export class EmbeddedDatabaseInUseError extends Error {
  override name = "EmbeddedDatabaseInUseError";
  constructor(
    readonly folder: string,
    readonly holderPid: number,
  ) {
    super(`embedded database ${folder} is open in process ${holderPid} (lock ${folder}.lock)`);
  }
}

/**
 * Deletes an embedded database folder, holding its lock meanwhile so that no process opens it half
 * deleted. A live holder (the liveness check {@link openEmbedded} makes: pid and start time) gets
 * {@link EmbeddedDatabaseInUseError}; a dead one's lock is taken over, as an open would.
 */
export function removeEmbeddedDatabase(folder: string): void {
  const lock = tryLock(`${folder}.lock`);
  if (!("unlock" in lock)) throw new EmbeddedDatabaseInUseError(folder, lock.holder.pid);
  try {
    rmSync(folder, { recursive: true, force: true });
  } finally {
    lock.unlock();
  }
}

/** Opens the embedded database: as its owner when no live process holds it, else through the owner. */
export async function openEmbedded(
  target: Extract<DatabaseTarget, { kind: "pglite" }>,
  options: EmbeddedOptions = {},
): Promise<DatabaseHandle> {
  const { folder } = target;
  const logger = options.logger ?? silentLogger;
  const lockFile = `${folder}.lock`;
  // Looked at, not taken: a free lock stays free for the next owner, and no folder is made for it.
  const refuseWithoutOwner = () => {
    if (options.clientOnly && !holderIsAlive(readLock(lockFile))) throw new NoEmbeddedOwnerError(folder);
  };
  refuseWithoutOwner();
  try {
    // 0700 like a Postgres data directory: the socket inside is reachable only by this user.
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot create embedded database folder ${folder}: ${describeError(error)}`,
    );
  }
  // Before the lock: where other processes could not reach an owner, none is made.
  socketNeedsDescriptor(folder);
  const socketPath = ownerSocketPath(folder);
  const deadline = Date.now() + FOREIGN_WAIT_MS;
  for (;;) {
    refuseWithoutOwner();
    const lock = tryLock(lockFile);
    if ("unlock" in lock) {
      if (!options.clientOnly) return becomeOwner(target, lock.unlock, logger);
      // The owner left between the look and the lock.
      lock.unlock();
      throw new NoEmbeddedOwnerError(folder);
    }
    const client = await connectToOwner(target, lock.holder, options);
    if (client) return client;
    if (Date.now() > deadline) {
      throw new DatabaseUnavailableError(
        `embedded database ${folder} is in use by process ${lock.holder.pid} (lock ${lockFile}), which does not serve other rightsize processes (no socket ${socketPath}); stop it or use --db postgres://…`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** A postgres.js handle on the owner's socket, or null when nothing listens there (yet, or any more). */
async function connectToOwner(
  target: Extract<DatabaseTarget, { kind: "pglite" }>,
  holder: LockHolder,
  options: EmbeddedOptions,
): Promise<DatabaseHandle | null> {
  const socketPath = ownerSocketPath(target.folder);
  if (!existsSync(socketPath)) return null;
  const address = socketAddress(target.folder);
  const client = postgres({
    path: address.path,
    username: "postgres",
    database: "postgres",
    max: options.maxConnections ?? 4,
    connect_timeout: OWNER_ANSWER_SECONDS,
    // One backend session serves every client in turns: named prepared statements of several clients
    // would share it, so each query goes as an unnamed statement.
    prepare: false,
    // PGlite's catalog has no types beyond the built-in ones; skipping the lookup saves a round trip.
    fetch_types: false,
    onnotice: () => {},
  });
  Object.defineProperty(client, SERVED_BY_OWNER, { value: true });
  try {
    await Promise.race([
      client`select 1`,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error(`no answer within ${OWNER_ANSWER_SECONDS} s`)),
          OWNER_ANSWER_SECONDS * 1000,
        ).unref(),
      ),
    ]);
  } catch (error) {
    void client
      .end({ timeout: 0 })
      .catch(() => {})
      .finally(address.release);
    const code = (error as NodeJS.ErrnoException).code;
    // Gone between the check and the connect, or a socket a killed owner left behind.
    if (code === "ENOENT" || code === "ECONNREFUSED") return null;
    throw new DatabaseUnavailableError(
      `embedded database ${target.folder}: its owner (process ${holder.pid}) does not answer on ${socketPath}: ${describeError(error)}`,
      { cause: error },
    );
  }
  const { drizzle } = await import("drizzle-orm/postgres-js");
  return {
    db: drizzle(client, { schema }) as unknown as Db,
    target,
    label: `pglite ${target.folder} (through process ${holder.pid})`,
    embedded: { role: "client", ownerPid: holder.pid },
    close: () => client.end({ timeout: 5 }).finally(address.release),
  };
}

/**
 * Postgres settings of the owner's PGlite, on top of PGlite's own start parameters (`-c` options apply to
 * every folder, whatever its postgresql.conf says). initdb's 128 MB of shared buffers were 151 of the
 * 189 MiB of WebAssembly memory resident after opening a folder; at 16 MB the memory stays at the module's
 * initial 128 MiB with 29 MiB resident (BENCHMARKS.md "wrapper", the owner's memory profile). WebAssembly
 * memory never shrinks, so maintenance_work_mem (Postgres' default 64 MB, for CREATE INDEX and VACUUM)
 * is held to the same 16 MB: an index built on a larger table sorts on disk instead. wal_buffers follows
 * shared_buffers (1/32, Postgres' `-1` default).
 */
export const OWNER_SETTINGS = ["-c", "shared_buffers=16MB", "-c", "maintenance_work_mem=16MB"];

/**
 * Runs `compile` (PGlite's creation, which compiles its WebAssembly module) with V8's baseline compiler
 * only (`--liftoff-only`): V8 otherwise recompiles Postgres' hot functions with its optimizing compiler
 * in the background, and that code and the compiler's own memory were 60–70 MiB of the owner's peak RSS.
 * The CPU of 300,000 rows written and grouped did not rise (1.25–1.43 s against 1.30–1.50 s, four
 * alternating rounds; BENCHMARKS.md "wrapper", the owner's memory profile). The flag is read when a module
 * is compiled, so it is set back once PGlite has compiled: other WebAssembly this process loads later
 * (tree-sitter's grammars for `scan`) compiles as usual, and PGlite's functions stay at the baseline
 * (measured: the peak stayed as low). Node lets flags change after start (`v8.setFlagsFromString`); a
 * runtime that refuses changes nothing but the memory.
 */
async function compiledBaselineOnly<T>(compile: () => Promise<T>): Promise<T> {
  const { setFlagsFromString } = await import("node:v8");
  const set = (flag: string) => {
    try {
      setFlagsFromString(flag);
    } catch {
      // A runtime that refuses: the module compiles with its default tiers.
    }
  };
  set("--liftoff-only");
  try {
    return await compile();
  } finally {
    set("--no-liftoff-only");
  }
}

/**
 * A new folder gets the prepared data directory (db/embedded-template.ts) where one fits. The template
 * only saves memory and time: a damaged one is logged and initdb makes the database as it would without.
 */
function seedNewFolder(folder: string, logger: Logger): void {
  if (existsSync(join(folder, "PG_VERSION"))) return;
  let outcome: SeedOutcome;
  try {
    outcome = seedFromTemplate(folder);
  } catch (error) {
    outcome = { seeded: false, reason: describeError(error) };
    logger.warn({ folder, err: outcome.reason }, "cannot use the prepared embedded database template");
  }
  if (outcome.seeded) logger.debug({ folder }, "embedded database created from the prepared template");
  else logger.debug({ folder, reason: outcome.reason }, "embedded database created by initdb");
}

async function becomeOwner(
  target: Extract<DatabaseTarget, { kind: "pglite" }>,
  unlock: () => void,
  logger: Logger,
): Promise<DatabaseHandle> {
  const { folder } = target;
  let server: EmbeddedServer | null = null;
  let address: SocketAddress | null = null;
  try {
    address = socketAddress(folder);
    server = await startEmbeddedServer(address.path, logger);
  } catch (error) {
    address?.release();
    logger.warn(
      { err: describeError(error), socketPath: ownerSocketPath(folder) },
      "cannot serve the embedded database to other rightsize processes",
    );
  }
  // Held (when it is a descriptor) until the server has removed its socket.
  const stopServing = async (drainMs: number) => {
    try {
      await server?.close(drainMs);
    } finally {
      address?.release();
    }
  };
  let client: PGlite;
  try {
    seedNewFolder(folder, logger);
    const { PGlite } = await import("@electric-sql/pglite");
    client = await compiledBaselineOnly(() =>
      PGlite.create(folder, { startParams: [...PGlite.defaultStartParams, ...OWNER_SETTINGS] }),
    );
    await client.query("select 1");
  } catch (error) {
    await stopServing(0);
    unlock();
    const fresh = !existsSync(`${folder}/PG_VERSION`);
    throw new DatabaseUnavailableError(
      `cannot open embedded database ${folder}: ${describeError(error)}${
        fresh ? "" : " (the folder may be corrupt: move it aside to start a new database)"
      }`,
      { cause: error },
    );
  }
  const { drizzle } = await import("drizzle-orm/pglite");
  const db = drizzle(client, { schema });
  try {
    // Before any client is let in: clients never migrate (db/migrate.ts), they rely on their owner.
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(db, { migrationsFolder });
  } catch (error) {
    await stopServing(0);
    await client.close().catch(() => {});
    unlock();
    throw new DatabaseUnavailableError(
      `cannot migrate embedded database ${folder}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
  server?.open(client);
  return {
    db: db as unknown as Db,
    target,
    label: `pglite ${folder}`,
    embedded: { role: "owner", ownerPid: process.pid },
    close: async () => {
      try {
        await stopServing(DRAIN_MS);
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}
