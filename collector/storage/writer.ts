/**
 * The sample writer: the only part of the collector that talks to the database.
 *
 * The sampler hands it rows; calls only buffer, so they never block on the database nor throw. A timer
 * (default every second) flushes the buffer as one batch: hosts and executions upserted first, then
 * samples by COPY (idempotent on execution and tick, see db/copy.ts), then processes upserted. While the
 * database is unreachable each batch goes to the on-disk spool instead (collector/storage/spool.ts) and the
 * writer retries with a backoff; once the database answers, the spool replays in order before any new
 * batch is written, and a segment is deleted only after every batch in it is committed. A writer started
 * after a crash replays what the dead one left. Only a full spool loses data, counted and logged.
 *
 * Beside it: the batch and its row checks (writer-batch.ts), rows the database refuses set aside
 * (writer-set-aside.ts), and the id and try an execution is stored under (writer-identity.ts).
 */

import { coerceError, describeError, NoEmbeddedOwnerError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { DatabaseHandle, Db } from "../../db/client.js";
import { openDatabase } from "../../db/client.js";
import type { RefusedSample } from "../../db/copy.js";
import { summarizeExecutions } from "../../db/queries/analysis.js";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewHostSample } from "../../db/queries/host-samples.js";
import { type NewHost, upsertHost } from "../../db/queries/hosts.js";
import type { NewProcess } from "../../db/queries/processes.js";
import { ingestSamples, type NewSample } from "../../db/queries/samples.js";
import { Spool, type SpoolSync } from "./spool.js";
import { type Batch, executionProblem, isValidDate, processKey, reviveBatch } from "./writer-batch.js";
import { ExecutionIdentities, type IdentityCounts } from "./writer-identity.js";
import {
  isConnectionError,
  RefusedRows,
  SetAside,
  type SetAsideCounts,
  insertHostSamplesAlone,
  upsertProcessesAlone,
  WriteTimeoutError,
} from "./writer-set-aside.js";

export type { NewExecution, NewHost, NewProcess, NewSample };

/** What the writer did so far; cheap to call, for logs and tests. */
export interface WriterStats extends SetAsideCounts, IdentityCounts {
  /** Rows waiting in memory for the next flush. */
  bufferedSamples: number;
  /** Sample rows committed to the database (including replayed ones). */
  writtenSamples: number;
  /** Of those, rows the database already had (a batch replayed twice): skipped, not stored again. */
  duplicateSamples: number;
  /** Batches (and their sample rows) that went to the spool because the database was unreachable. */
  spooledBatches: number;
  spooledSamples: number;
  /** Spooled batches written to the database later. */
  replayedBatches: number;
  /** Lost because the spool was full (or the disk refused): the only way data is lost. */
  droppedBatches: number;
  droppedSamples: number;
  /** Rows refused at the door (no execution id, invalid time): logged as errors. */
  invalidSamples: number;
  /** Date.now() of the last batch committed to the database; null before the first. */
  lastWriteAtMs: number | null;
  /** Segment files in the spool, and entries quarantined from its folder since start. */
  spoolSegments: number;
  spoolQuarantined: number;
  spoolBytes: number;
  /** Whether the last database attempt succeeded. */
  databaseUp: boolean;
  lastError: string | null;
}

export interface SampleWriter {
  host(row: NewHost): void;
  execution(row: NewExecution): void;
  samples(rows: NewSample[]): void;
  processes(rows: NewProcess[]): void;
  hostSamples(rows: NewHostSample[]): void;
  /** Writes (or spools) everything buffered so far, and replays the spool if the database is back. */
  flush(): Promise<void>;
  /** Final flush, then closes the spool and the database. Data still not in the database stays spooled. */
  close(): Promise<void>;
  stats(): WriterStats;
}

export interface WriterOptions {
  databaseUrl: string;
  spoolDir: string;
  spoolMaxBytes: number;
  logger: Logger;
  /** @defaultValue 1000 */
  flushIntervalMs?: number;
  /**
   * An already open database to write to instead of opening `databaseUrl` (needed for an embedded PGlite
   * folder the caller holds open: two handles on one folder would corrupt it). The writer never closes it;
   * after a lost Postgres connection it opens its own client from `databaseUrl` instead.
   */
  database?: DatabaseHandle;
  /** See {@link SpoolSync}. @defaultValue "append" */
  spoolSync?: SpoolSync;
  /** See {@link STALL_TIMEOUT_MS}. @defaultValue STALL_TIMEOUT_MS */
  stallTimeoutMs?: number;
  /**
   * Reach an embedded database only through its live owner, never as the owner (`run`): without one,
   * batches wait in the spool, as designed, for the next owner or reader. @defaultValue false
   */
  clientOnly?: boolean;
}

/** Retry backoff: first retry after 250 ms, doubling, capped at 5 s (chosen values). */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;
/**
 * A write that completes no step (a host, an execution, the samples, the processes) for this long is
 * treated as a lost connection (its batch replays idempotently). Not the whole batch's time: on a host
 * with a load of 30, each of a new execution's round trips waited some 100 ms for the collector to be
 * scheduled, and a batch of 50 new executions took 16 s; a limit on the whole batch spooled every retry
 * of a larger one, and nothing was written again (BENCHMARKS.md "The writer under load").
 */
const STALL_TIMEOUT_MS = 20_000;
/** Postgres connect timeout: an unreachable server must not hold a flush for postgres.js' default 30 s. */
const CONNECT_TIMEOUT_SECONDS = 5;

/** Runs `work`, rejecting when it goes `ms` without calling `progress` (or finishing). */
function withStallTimeout<T>(work: (progress: () => void) => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // Once settled, the work that goes on in the background (a stalled write) arms no timer again.
  let settled = false;
  let fail: (error: Error) => void = () => {};
  const timeout = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const progress = () => {
    clearTimeout(timer);
    if (settled) return;
    timer = setTimeout(
      () => fail(new WriteTimeoutError(`database write made no progress for ${ms / 1000} s`)),
      ms,
    );
  };
  progress();
  return Promise.race([work(progress), timeout]).finally(() => {
    settled = true;
    clearTimeout(timer);
  });
}

class Writer implements SampleWriter {
  private readonly spool: Spool;
  private readonly logger: Logger;
  private readonly options: WriterOptions;
  private handle: DatabaseHandle | null;
  private ownsHandle: boolean;
  /** Days whose sample partition is known to exist on the current connection. */
  private readonly knownDays = new Set<string>();
  private pendingHosts = new Map<string, NewHost>();
  private pendingExecutions = new Map<string, NewExecution>();
  private pendingSamples: NewSample[] = [];
  private pendingProcesses = new Map<string, NewProcess>();
  private pendingHostSamples: NewHostSample[] = [];
  /** Batches of a segment already committed in this process, so a half-replayed segment resumes. */
  private readonly progress = new Map<string, number>();
  private readonly setAside: SetAside;
  private cycle: Promise<void> = Promise.resolve();
  private cycleRunning = false;
  private retryAt = 0;
  private backoffMs = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = {
    writtenSamples: 0,
    duplicateSamples: 0,
    spooledBatches: 0,
    spooledSamples: 0,
    replayedBatches: 0,
    droppedBatches: 0,
    droppedSamples: 0,
    invalidSamples: 0,
  };
  private lastWriteAtMs: number | null = null;
  private readonly identities: ExecutionIdentities;
  private databaseUp = false;
  private lastError: string | null = null;
  /** The database is embedded and no process owns it: spooling is the plan, not a fault. */
  private ownerless = false;

  constructor(options: WriterOptions) {
    this.options = options;
    this.logger = options.logger;
    this.handle = options.database ?? null;
    this.ownsHandle = options.database === undefined;
    this.spool = new Spool({
      dir: options.spoolDir,
      maxBytes: options.spoolMaxBytes,
      logger: options.logger,
      sync: options.spoolSync,
    });
    this.setAside = new SetAside(this.spool, this.logger);
    this.identities = new ExecutionIdentities(this.logger);
    if (this.spool.hasRecords()) {
      this.logger.info(
        { spoolDir: options.spoolDir, bytes: this.spool.bytes },
        "spool holds batches from an earlier run; replaying them before new data",
      );
    }
    const interval = options.flushIntervalMs ?? 1000;
    // Not kept alive by its own timer: the sampler's loop (or the caller's close) decides when to stop.
    this.timer = setInterval(() => {
      if (!this.cycleRunning) void this.enqueueCycle(false);
    }, interval).unref();
  }

  host(row: NewHost): void {
    if (this.refuseClosed("host")) return;
    this.pendingHosts.set(row.id, { ...this.pendingHosts.get(row.id), ...row });
  }

  execution(row: NewExecution): void {
    if (this.refuseClosed("execution")) return;
    this.pendingExecutions.set(row.id, { ...this.pendingExecutions.get(row.id), ...row });
  }

  samples(rows: NewSample[]): void {
    if (this.refuseClosed("samples")) return;
    let invalid = 0;
    for (const row of rows) {
      if (typeof row?.executionId !== "string" || !isValidDate(row.ts)) invalid++;
      else this.pendingSamples.push(row);
    }
    if (invalid > 0) {
      this.counters.invalidSamples += invalid;
      this.logger.error({ invalid }, "sample rows without an execution id or a valid ts were not stored");
    }
  }

  processes(rows: NewProcess[]): void {
    if (this.refuseClosed("processes")) return;
    for (const row of rows) this.pendingProcesses.set(processKey(row), row);
  }

  hostSamples(rows: NewHostSample[]): void {
    if (this.refuseClosed("host samples")) return;
    this.pendingHostSamples.push(...rows);
  }

  flush(): Promise<void> {
    return this.enqueueCycle(true);
  }

  async close(): Promise<void> {
    if (this.closed) return this.cycle;
    clearInterval(this.timer);
    const last = this.enqueueCycle(true);
    this.closed = true;
    await last;
    try {
      this.spool.close();
    } catch (error) {
      this.logger.error({ err: describeError(error) }, "cannot seal the spool");
    }
    if (this.spool.hasRecords()) {
      this.logger[this.ownerless ? "info" : "warn"](
        { spoolDir: this.options.spoolDir, bytes: this.spool.bytes },
        "closing with batches still in the spool: the next writer replays them",
      );
    }
    await this.dropHandle();
  }

  stats(): WriterStats {
    return {
      ...this.counters,
      ...this.setAside.stats(),
      ...this.identities.stats(),
      bufferedSamples: this.pendingSamples.length,
      spoolBytes: this.spool.bytes,
      databaseUp: this.databaseUp,
      lastError: this.lastError,
      lastWriteAtMs: this.lastWriteAtMs,
      spoolSegments: this.spool.stats().segments,
      spoolQuarantined: this.spool.stats().quarantined,
    };
  }

  private refuseClosed(what: string): boolean {
    if (!this.closed) return false;
    this.logger.error({ what }, "writer is closed: rows not stored");
    return true;
  }

  private enqueueCycle(force: boolean): Promise<void> {
    this.cycle = this.cycle.then(async () => {
      this.cycleRunning = true;
      try {
        await this.runCycle(force);
      } catch (error) {
        // A timer must never throw: whatever went wrong here is logged and the next tick tries again.
        this.logger.error({ err: describeError(error) }, "writer flush failed");
      } finally {
        this.cycleRunning = false;
      }
    });
    return this.cycle;
  }

  private takePending(): Batch | null {
    if (
      this.pendingHosts.size === 0 &&
      this.pendingExecutions.size === 0 &&
      this.pendingSamples.length === 0 &&
      this.pendingProcesses.size === 0 &&
      this.pendingHostSamples.length === 0
    ) {
      return null;
    }
    const batch: Batch = {
      hosts: [...this.pendingHosts.values()],
      executions: [...this.pendingExecutions.values()],
      samples: this.pendingSamples,
      processes: [...this.pendingProcesses.values()],
      hostSamples: this.pendingHostSamples,
    };
    this.pendingHosts = new Map();
    this.pendingExecutions = new Map();
    this.pendingSamples = [];
    this.pendingProcesses = new Map();
    this.pendingHostSamples = [];
    return batch;
  }

  private async runCycle(force: boolean): Promise<void> {
    const batch = this.takePending();
    const mayTry = force || Date.now() >= this.retryAt;
    if (batch) {
      // Order: anything already spooled goes to the database before this batch, so it queues behind.
      if (this.spool.hasRecords() || !mayTry) {
        this.toSpool(batch);
      } else {
        try {
          await this.write(batch);
          return;
        } catch (error) {
          this.failed(error);
          this.toSpool(batch);
          return;
        }
      }
    }
    if (mayTry && this.spool.hasRecords()) await this.replay();
  }

  private toSpool(batch: Batch): void {
    if (this.spool.append(batch)) {
      this.counters.spooledBatches++;
      this.counters.spooledSamples += batch.samples.length;
      return;
    }
    this.counters.droppedBatches++;
    this.counters.droppedSamples += batch.samples.length;
    this.logger.error(
      {
        spoolDir: this.options.spoolDir,
        spoolBytes: this.spool.bytes,
        spoolMaxBytes: this.options.spoolMaxBytes,
        samples: batch.samples.length,
        droppedSamples: this.counters.droppedSamples,
      },
      "spool full: batch dropped (raise collector.spoolMaxBytes or bring the database back)",
    );
  }

  /** Replays spooled batches oldest first; stops at the first connection failure. */
  private async replay(): Promise<void> {
    // Bounded per cycle so a big backlog does not keep new rows in memory for long: they spool behind it.
    const deadline = Date.now() + Math.max(2_000, 2 * (this.options.flushIntervalMs ?? 1000));
    // Connect first: listing the segments seals the open one, and sealing on every retry of a long
    // outage would leave one small file per retry.
    try {
      await this.database();
    } catch (error) {
      this.failed(error);
      return;
    }
    for (const segment of this.spool.segments()) {
      if (Date.now() > deadline) return;
      let records: unknown[];
      try {
        records = this.spool.read(segment).records;
      } catch (error) {
        this.logger.error({ err: describeError(error), segment }, "cannot read spool segment; will retry");
        return;
      }
      for (let index = this.progress.get(segment) ?? 0; index < records.length; index++) {
        const key = `${segment}#${index}`;
        let batch: Batch;
        try {
          batch = reviveBatch(records[index]);
        } catch (error) {
          this.setAside.batch(records[index], key, error);
          this.progress.set(segment, index + 1);
          continue;
        }
        try {
          await this.write(batch);
          this.counters.replayedBatches++;
          this.setAside.stored(key);
        } catch (error) {
          this.failed(error);
          if (isConnectionError(error) || !this.setAside.refusedAgain(key)) return;
          this.setAside.batch(records[index], key, error);
        }
        this.progress.set(segment, index + 1);
      }
      this.spool.remove(segment);
      this.progress.delete(segment);
    }
    if (!this.spool.hasRecords()) this.logger.info("spool replayed");
  }

  private async database(): Promise<Db> {
    if (!this.handle) {
      this.handle = await openDatabase(this.options.databaseUrl, {
        connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
        maxConnections: 2,
        clientOnly: this.options.clientOnly,
      });
      this.knownDays.clear();
    }
    return this.handle.db;
  }

  /**
   * Writes one batch: hosts and executions before their samples (no foreign key, but the order holds).
   * Connection errors throw (the caller spools the batch and tries again). Rows the database refuses,
   * or that break a column's bounds, are set aside alone (collector/storage/writer-set-aside.ts).
   */
  private async write(batch: Batch): Promise<void> {
    const db = await this.database();
    const refused = new RefusedRows();
    const work = async (progress: () => void) => {
      for (const host of batch.hosts) {
        try {
          await upsertHost(db, host);
        } catch (error) {
          refused.refuse("hosts", host, error);
        }
        progress();
      }
      for (const execution of batch.executions) {
        const problem = executionProblem(execution);
        if (problem) refused.refuseExecution(execution, new RangeError(problem));
        else
          await this.identities
            .record(db, execution)
            .catch((error) => refused.refuseExecution(execution, error));
        progress();
      }
      const samples = refused
        .ofStoredExecutions("samples", batch.samples)
        .map((row) => this.identities.storedRow(row));
      const inserted = await ingestSamples(db, samples, this.knownDays, (rows: RefusedSample[]) => {
        for (const { row, error } of rows) refused.refuse("samples", row, error);
      });
      progress();
      const processes = new Map<string, NewProcess>();
      for (const row of refused.ofStoredExecutions("processes", batch.processes)) {
        const stored = this.identities.storedRow(row);
        processes.set(processKey(stored), stored);
      }
      await upsertProcessesAlone(db, [...processes.values()], refused);
      progress();
      await insertHostSamplesAlone(db, batch.hostSamples, refused);
      progress();
      // Each ended run is summarized right after its last rows, so the night reads summaries, not samples.
      // A refusal here is not the batch's fault: the hourly catch-up summarizes the run instead.
      const ended = batch.executions
        .filter((row) => row.endedAt && !refused.isExecutionRefused(row.id))
        .map((row) => this.identities.storedId(row.id));
      await summarizeExecutions(db, ended).catch((error: unknown) => {
        if (isConnectionError(error)) throw error;
        this.logger.warn({ err: describeError(error), ended }, "cannot summarize ended runs");
      });
      return { inserted };
    };
    const { inserted } = await withStallTimeout(work, this.options.stallTimeoutMs ?? STALL_TIMEOUT_MS);
    const setAsideSamples = refused.rows.samples.length;
    this.counters.writtenSamples += batch.samples.length - setAsideSamples;
    this.counters.duplicateSamples += Math.max(0, batch.samples.length - setAsideSamples - inserted);
    this.setAside.rows(refused);
    if (!this.databaseUp) {
      this.logger.info({ database: this.handle?.label }, "database reachable: writing");
    }
    this.databaseUp = true;
    this.lastError = null;
    this.ownerless = false;
    this.backoffMs = 0;
    this.retryAt = 0;
    this.lastWriteAtMs = Date.now();
  }

  private failed(thrown: unknown): void {
    const error = coerceError(thrown);
    const message = describeError(error);
    const connection = isConnectionError(error);
    this.ownerless = error instanceof NoEmbeddedOwnerError;
    if (this.databaseUp || this.lastError === null) {
      this.logger[this.ownerless ? "info" : "warn"](
        { err: message, spoolDir: this.options.spoolDir },
        connection
          ? "database unreachable: spooling batches to disk"
          : "database refused a batch: spooling it",
      );
    } else {
      this.logger.debug({ err: message }, "database still failing");
    }
    this.databaseUp = false;
    this.lastError = message;
    this.backoffMs = this.backoffMs === 0 ? FIRST_BACKOFF_MS : Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.retryAt = Date.now() + this.backoffMs;
    this.knownDays.clear();
    // A broken postgres.js pool can keep handing out dead connections: start over with a new client. A
    // borrowed Postgres handle is left to its owner and the writer opens its own from then on; a borrowed
    // PGlite handle is kept (a second handle on its folder would corrupt it).
    if (connection && this.ownsHandle) void this.dropHandle();
    else if (connection && this.handle?.target.kind === "postgres") {
      this.handle = null;
      this.ownsHandle = true;
    }
  }

  private async dropHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (!handle || !this.ownsHandle) return;
    try {
      await handle.close();
    } catch (error) {
      this.logger.debug({ err: describeError(error) }, "closing the database client failed");
    }
  }
}

/**
 * Creates a writer. Succeeds while the database is down: it is opened lazily at the first flush, and
 * batches spool until it answers.
 */
export async function createWriter(options: WriterOptions): Promise<SampleWriter> {
  return new Writer(options);
}
