/**
 * Rows the database refuses for good are set aside: kept in the spool's `rejected/records.spool`
 * (collector/storage/spool.ts), counted and logged, so they neither block the writer nor vanish.
 *
 * - While a batch is written, the rows it cannot store are collected in {@link RefusedRows} and the rest
 *   of the batch is stored: an execution beyond a column's bounds (or refused) with its samples and
 *   processes, a sample or process row by itself. An innocent execution's rows never go with them.
 *   Samples refused during COPY are found by db/copy.ts, which halves a refused chunk until the refused
 *   rows stand alone; process rows are found here, a refused chunk again row by row.
 * - A spooled batch the database keeps refusing while it otherwise answers (or a record that is not a
 *   batch) is set aside whole by {@link SetAside}, so the replay goes on past it.
 *
 * What tells "refused" from "not there" is {@link isConnectionError}: the first kind is set aside, the
 * second retried for as long as it lasts.
 */

import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Db } from "../../db/client.js";
import { classifyDatabaseError } from "../../db/copy.js";
import type { NewExecution } from "../../db/queries/executions.js";
import { insertHostSamples, type NewHostSample } from "../../db/queries/host-samples.js";
import { type NewProcess, upsertProcesses } from "../../db/queries/processes.js";
import type { Spool } from "./spool.js";
import { type Batch, emptyBatch } from "./writer-batch.js";

/** Why a database attempt failed when it was neither refused nor dropped: the call hung. */
export class WriteTimeoutError extends Error {
  override name = "WriteTimeoutError";
}

/**
 * True when an error means "the database is not there (or not ready)" rather than "the database refuses
 * this data": the first kind is retried for as long as it lasts, the second set aside (db/copy.ts
 * tells them apart by SQLSTATE).
 */
export function isConnectionError(thrown: unknown): boolean {
  let current: unknown = thrown;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof WriteTimeoutError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return classifyDatabaseError(thrown) === "connection";
}

/** Reasons kept in one set-aside record: enough to tell what went wrong, bounded (chosen value). */
const MAX_REASONS = 20;
/**
 * A replayed batch the database refuses this many times, with the database otherwise answering, is set
 * aside (chosen value).
 */
const MAX_DATA_FAILURES = 3;
/**
 * Rows per process upsert or host-sample insert: 13 columns × 2,000 stays under the protocol's 65,535
 * bind parameters.
 */
const CHUNK_ROWS = 2_000;

/** The rows of one batch being written that the database refuses, with (some of) the reasons why. */
export class RefusedRows {
  readonly rows: Batch = emptyBatch();
  readonly reasons: string[] = [];
  private readonly executionIds = new Set<string>();

  /**
   * Sets a row aside for `error`; a connection error is thrown instead (the whole batch is retried, none
   * of it is the rows' fault).
   */
  refuse<K extends keyof Batch>(kind: K, row: Batch[K][number], error: unknown): void {
    if (isConnectionError(error)) throw error;
    this.add(kind, row, error);
  }

  /** Sets an execution aside: its samples and processes follow it ({@link ofStoredExecutions}). */
  refuseExecution(row: NewExecution, error: unknown): void {
    if (isConnectionError(error)) throw error;
    this.executionIds.add(row.id);
    this.add("executions", row, error);
  }

  isExecutionRefused(id: string): boolean {
    return this.executionIds.has(id);
  }

  /** The rows whose execution is not set aside; the others are set aside with their execution. */
  ofStoredExecutions<K extends "samples" | "processes">(kind: K, rows: Batch[K]): Batch[K] {
    const kept: Batch[K] = [];
    for (const row of rows) {
      if (this.executionIds.has(row.executionId)) this.add(kind, row, "its execution was set aside");
      else (kept as Array<Batch[K][number]>).push(row);
    }
    return kept;
  }

  get size(): number {
    return Object.values(this.rows).reduce((sum, rows) => sum + rows.length, 0);
  }

  private add<K extends keyof Batch>(kind: K, row: Batch[K][number], why: unknown): void {
    (this.rows[kind] as unknown[]).push(row);
    if (this.reasons.length < MAX_REASONS) this.reasons.push(describeError(why));
  }
}

/**
 * Writes rows in chunks. A chunk the database refuses is tried again row by row, so only the refused
 * rows are set aside; a connection error is thrown.
 */
async function writeAlone<K extends "processes" | "hostSamples">(
  kind: K,
  rows: Batch[K],
  write: (chunk: Batch[K]) => Promise<void>,
  refused: RefusedRows,
): Promise<void> {
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const chunk = rows.slice(start, start + CHUNK_ROWS) as Batch[K];
    try {
      await write(chunk);
    } catch (error) {
      if (isConnectionError(error)) throw error;
      for (const row of chunk) {
        try {
          await write([row] as Batch[K]);
        } catch (rowError) {
          refused.refuse(kind, row, rowError);
        }
      }
    }
  }
}

/** Upserts process rows, setting aside only those the database refuses. */
export function upsertProcessesAlone(db: Db, rows: NewProcess[], refused: RefusedRows): Promise<void> {
  return writeAlone("processes", rows, (chunk) => upsertProcesses(db, chunk), refused);
}

/** Inserts host samples, setting aside only those the database refuses. */
export function insertHostSamplesAlone(db: Db, rows: NewHostSample[], refused: RefusedRows): Promise<void> {
  return writeAlone("hostSamples", rows, (chunk) => insertHostSamples(db, chunk), refused);
}

/** What was set aside so far (part of the writer's stats). */
export interface SetAsideCounts {
  /** Spooled batches the database refused for good, set aside whole. */
  rejectedBatches: number;
  /** Rows set aside from batches whose other rows were stored. */
  setAsideExecutions: number;
  setAsideSamples: number;
  setAsideProcesses: number;
}

/** Keeps refused rows and batches in `rejected/`, counts and logs them. Never throws. */
export class SetAside {
  private readonly counts: SetAsideCounts = {
    rejectedBatches: 0,
    setAsideExecutions: 0,
    setAsideSamples: 0,
    setAsideProcesses: 0,
  };
  /** Refusals so far of spooled batches not yet set aside, by `segment#index`. */
  private readonly refusals = new Map<string, number>();

  constructor(
    private readonly spool: Spool,
    private readonly logger: Logger,
  ) {}

  stats(): SetAsideCounts {
    return { ...this.counts };
  }

  /** The rows a batch could not store, as one record (nothing when there are none). */
  rows(refused: RefusedRows): void {
    if (refused.size === 0) return;
    const { hosts, executions, samples, processes, hostSamples } = refused.rows;
    this.counts.setAsideExecutions += executions.length;
    this.counts.setAsideSamples += samples.length;
    this.counts.setAsideProcesses += processes.length;
    const file = this.keep({ ...refused.rows, reasons: refused.reasons }, "cannot set refused rows aside");
    this.logger.error(
      {
        file,
        executions: executions.map((row) => row.id),
        samples: samples.length,
        processes: processes.length,
        hostSamples: hostSamples.length,
        hosts: hosts.length,
        reasons: refused.reasons,
      },
      "the database refuses some rows: set aside, the rest of the batch is stored",
    );
  }

  /**
   * The database refused spooled batch `key` once more. True when this was one refusal too many: the
   * caller calls {@link batch} and moves on; false: the replay tries it again later.
   */
  refusedAgain(key: string): boolean {
    const failures = (this.refusals.get(key) ?? 0) + 1;
    if (failures < MAX_DATA_FAILURES) {
      this.refusals.set(key, failures);
      return false;
    }
    this.refusals.delete(key);
    return true;
  }

  /** Spooled batch `key` was stored: its earlier refusals are forgotten. */
  stored(key: string): void {
    this.refusals.delete(key);
  }

  /** A spooled record set aside whole: refused for good, or not a batch at all. */
  batch(record: unknown, key: string, error: unknown): void {
    this.counts.rejectedBatches++;
    const file = this.keep(record, "cannot set a refused batch aside");
    this.logger.error(
      { err: describeError(error), record: key, file },
      "the database refuses a spooled batch; set aside instead of replaying it again",
    );
  }

  private keep(record: unknown, failure: string): string {
    try {
      return this.spool.reject(record);
    } catch (error) {
      this.logger.error({ err: describeError(error) }, failure);
      return "(could not be written)";
    }
  }
}
