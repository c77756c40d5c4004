/**
 * Bulk sample ingest by COPY (binary format). A batch is copied straight into samples; COPY aborts the
 * whole batch on one duplicate, so a batch that partly exists already (replayed from the spool after a
 * lost acknowledgement) is copied into a staging table instead and moved with `insert … select … on
 * conflict do nothing`: it lands exactly once, idempotent on (execution_id, ts).
 *
 * Postgres: postgres.js streams `copy … from stdin` (as fast as psql, BENCHMARKS.md "ingest"). PGlite: its
 * `copy … from '/dev/blob'` with the text in a Blob (BENCHMARKS.md "ingest" compares it with multi-row
 * INSERT). A process that writes through the embedded database's owner (db/embedded.ts) talks postgres.js
 * to PGlite, which has no COPY FROM STDIN: it sends multi-row INSERTs that skip stored ticks.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PGlite } from "@electric-sql/pglite";
import { getTableColumns } from "drizzle-orm";
import type { Sql } from "postgres";
import { DatabaseUnavailableError } from "../common/errors.js";
import type { Db } from "./client.js";
import { SERVED_BY_OWNER } from "./embedded.js";
import { samples } from "./schema.js";

type SampleInsert = typeof samples.$inferInsert;

/** [property, column name] of every samples column, in table order. */
const sampleColumns: Array<[keyof SampleInsert, string]> = Object.entries(getTableColumns(samples)).map(
  ([property, column]) => [property as keyof SampleInsert, column.name],
);
const columnList = sampleColumns.map(([, name]) => `"${name}"`).join(", ");

/**
 * Rows per COPY data chunk handed to the stream: large enough that per-write overhead vanishes, small
 * enough that a batch is never one giant string.
 */
const ROWS_PER_CHUNK = 2_000;

/** One value in COPY text format: `\N` is null; backslash, tab, newline and carriage return are escaped. */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "number")
    return Number.isFinite(value) ? String(value) : value > 0 ? "Infinity" : value < 0 ? "-Infinity" : "NaN";
  return String(value).replace(/[\\\t\n\r]/g, (char) =>
    char === "\\" ? "\\\\" : char === "\t" ? "\\t" : char === "\n" ? "\\n" : "\\r",
  );
}

/** Sample rows as COPY text, in chunks. Exported for tests and the benchmark's psql floor. */
export function* sampleCopyText(rows: SampleInsert[]): Generator<string> {
  for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
    let text = "";
    const end = Math.min(rows.length, start + ROWS_PER_CHUNK);
    for (let index = start; index < end; index++) {
      const row = rows[index]!;
      let line = "";
      for (let column = 0; column < sampleColumns.length; column++) {
        if (column > 0) line += "\t";
        line += copyValue(row[sampleColumns[column]![0]]);
      }
      text += `${line}\n`;
    }
    yield text;
  }
}

/** Microseconds between the Unix epoch and Postgres' epoch (2000-01-01 UTC), for binary timestamps. */
const POSTGRES_EPOCH_MS = 946_684_800_000;
const TWO_TO_32 = 4_294_967_296;

/** Writes one non-null value at `offset` (after its 4-byte length), returns the offset after it. */
type BinaryEncoder = (buffer: Buffer, offset: number, value: unknown) => number;

function writeInt64(buffer: Buffer, offset: number, value: number): void {
  // Exact for safe integers without a BigInt per value: high word floor-divided, low word the rest.
  const high = Math.floor(value / TWO_TO_32);
  buffer.writeInt32BE(high, offset);
  buffer.writeUInt32BE(value - high * TWO_TO_32, offset + 4);
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

const encoders: Record<string, { size: number; encode: BinaryEncoder }> = {
  uuid: {
    size: 16,
    encode(buffer, offset, value) {
      const text = String(value);
      let at = offset;
      let high = -1;
      for (let index = 0; index < text.length; index++) {
        const code = text.charCodeAt(index);
        if (code === 45) continue; // "-"
        const digit = hexDigit(code);
        if (digit < 0 || at >= offset + 16) throw new TypeError(`not a uuid: '${text}'`);
        if (high < 0) high = digit;
        else {
          buffer[at++] = high * 16 + digit;
          high = -1;
        }
      }
      if (at !== offset + 16 || high >= 0) throw new TypeError(`not a uuid: '${text}'`);
      return at;
    },
  },
  "timestamp with time zone": {
    size: 8,
    encode(buffer, offset, value) {
      const ms = value instanceof Date ? value.getTime() : new Date(value as string).getTime();
      if (Number.isNaN(ms)) throw new TypeError(`not a time: '${String(value)}'`);
      writeInt64(buffer, offset, (ms - POSTGRES_EPOCH_MS) * 1000);
      return offset + 8;
    },
  },
  real: {
    size: 4,
    encode(buffer, offset, value) {
      buffer.writeFloatBE(value as number, offset);
      return offset + 4;
    },
  },
  "double precision": {
    size: 8,
    encode(buffer, offset, value) {
      buffer.writeDoubleBE(value as number, offset);
      return offset + 8;
    },
  },
  bigint: {
    size: 8,
    encode(buffer, offset, value) {
      writeInt64(buffer, offset, Math.round(value as number));
      return offset + 8;
    },
  },
  integer: {
    size: 4,
    encode(buffer, offset, value) {
      buffer.writeInt32BE(Math.round(value as number), offset);
      return offset + 4;
    },
  },
};

const binaryColumns = Object.entries(getTableColumns(samples)).map(([property, column]) => {
  const encoder = encoders[column.getSQLType()];
  return { property: property as keyof SampleInsert, encoder };
});
/** Binary COPY needs an encoder for every column type; a new type falls back to text until it has one. */
const binaryReady = binaryColumns.every((column) => column.encoder !== undefined);
const rowBytesMax = 2 + binaryColumns.reduce((sum, column) => sum + 4 + (column.encoder?.size ?? 0), 0);
/** "PGCOPY\n\377\r\n\0", flags, header extension length (Postgres docs, "Binary Format"). */
const BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/**
 * Sample rows as COPY binary, in chunks: header first, the -1 trailer last. Binary skips turning 25
 * numbers a row into text and Postgres parsing them back, which made the text path CPU-bound in Node.
 */
export function* sampleCopyBinary(rows: SampleInsert[]): Generator<Buffer> {
  yield BINARY_HEADER;
  for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
    const end = Math.min(rows.length, start + ROWS_PER_CHUNK);
    const buffer = Buffer.allocUnsafe((end - start) * rowBytesMax);
    let offset = 0;
    for (let index = start; index < end; index++) {
      const row = rows[index]!;
      buffer.writeInt16BE(binaryColumns.length, offset);
      offset += 2;
      for (const { property, encoder } of binaryColumns) {
        const value = row[property];
        if (value === null || value === undefined) {
          buffer.writeInt32BE(-1, offset);
          offset += 4;
        } else {
          const after = encoder!.encode(buffer, offset + 4, value);
          buffer.writeInt32BE(after - offset - 4, offset);
          offset = after;
        }
      }
    }
    yield buffer.subarray(0, offset);
  }
  yield Buffer.from([0xff, 0xff]);
}

/** The COPY data and its format clause: binary when every column type has an encoder. */
function copyData(rows: SampleInsert[]): { chunks: Iterable<Buffer | string>; format: string } {
  return binaryReady
    ? { chunks: sampleCopyBinary(rows), format: "(format binary)" }
    : { chunks: sampleCopyText(rows), format: "" };
}

/** The column list of samples in COPY order, for `copy samples (…)` statements outside this module. */
export const sampleCopyColumns = columnList;

/**
 * The staging path, for batches that partly exist already. Postgres: a permanent UNLOGGED staging table, made on first use (`like samples`, so it follows the
 * samples columns; dropped and made again when they changed). Not a temp table in a transaction:
 * postgres.js 3.4 crashes the process with a TypeError when a connection drops inside `begin()` (it
 * writes the rollback to a socket already gone), and a collector must survive a database outage. COPY
 * and the move are each one autocommitted statement; the move takes every staged row, also those a
 * failed earlier attempt left behind, which is harmless since the insert skips rows already stored.
 */
const STAGING = "rightsize_samples_staging";
const createStaging = `create unlogged table if not exists ${STAGING} (like samples)`;
const moveStaging = `with moved as (delete from ${STAGING} returning ${columnList})
  insert into samples (${columnList}) select ${columnList} from moved on conflict do nothing`;
/** PGlite: one connection in-process, so a transaction-local temp table is safe and leaves nothing. */
const TEMP_STAGING = "rightsize_samples_temp_staging";
const createTempStaging = `create temp table ${TEMP_STAGING} (like samples) on commit drop`;
const moveTempStaging = `insert into samples (${columnList}) select ${columnList} from ${TEMP_STAGING} on conflict do nothing`;

/** postgres.js clients whose database has the staging table (checked once per client). */
const stagingReady = new WeakSet<object>();

/** Why a COPY was abandoned: the stream made no progress (postgres.js never ends it when the socket dies). */
export class CopyStalledError extends Error {
  override name = "CopyStalledError";
  /** postgres.js-style code, so callers can treat it as a lost connection. */
  code = "CONNECTION_CLOSED";
}

/**
 * A COPY stream into a connection that died is never ended nor failed by postgres.js 3.4: without a bound
 * the write would wait forever; nor does it report an error Postgres raises during COPY (it would reach
 * the stream only before `end()`). So the copy is abandoned when Postgres takes no chunk (2,000 rows,
 * about 300 KB) for 10 s, or does not finish 10 s after the last one: far beyond a slow but live server.
 */
const STALL_MS = 10_000;
const FINISH_MS = 10_000;

/** Streams chunks into a COPY writable, failing with {@link CopyStalledError} when it stops moving. */
async function streamCopy(writable: NodeJS.WritableStream, chunks: Iterable<Buffer | string>, rows: number) {
  let timer: NodeJS.Timeout | undefined;
  let rejectStall: (error: Error) => void = () => {};
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(
      () => rejectStall(new CopyStalledError(`COPY of ${rows} samples ${what} for ${ms / 1000} s`)),
      ms,
    );
  };
  function* watched(): Generator<Buffer | string> {
    for (const chunk of chunks) {
      arm(STALL_MS, "took no data");
      yield chunk;
    }
    arm(FINISH_MS, "did not finish");
  }
  try {
    await Promise.race([
      pipeline(Readable.from(watched()), writable),
      new Promise((_, reject) => {
        rejectStall = reject;
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether any row of the batch may already be stored: per execution, is anything stored between its
 * first and last tick in the batch? One index range probe per execution on the primary key.
 */
async function mayOverlap(sql: Sql, rows: SampleInsert[]): Promise<boolean> {
  const ranges = new Map<string, { low: number; high: number }>();
  for (const row of rows) {
    const time = row.ts.getTime();
    const range = ranges.get(row.executionId);
    if (!range) ranges.set(row.executionId, { low: time, high: time });
    else if (time < range.low) range.low = time;
    else if (time > range.high) range.high = time;
  }
  const probe = JSON.stringify(
    [...ranges].map(([id, range]) => ({
      id,
      low: new Date(range.low).toISOString(),
      high: new Date(range.high).toISOString(),
    })),
  );
  const found = await sql.unsafe(
    `select exists (select 1 from json_to_recordset($1::json) as r(id uuid, low timestamptz, high timestamptz)
       join samples s on s.execution_id = r.id and s.ts between r.low and r.high) as found`,
    [probe],
  );
  return found[0]?.found === true;
}

async function copyPostgres(sql: Sql, rows: SampleInsert[]): Promise<number> {
  // Fast path: straight into samples, when none of the batch can be stored yet. The check comes first
  // because postgres.js 3.4 never reports an error raised during COPY (a duplicate would only surface
  // as a stall): a batch replayed after a lost acknowledgement, or a tick sent twice, takes the staging
  // path instead.
  if (!(await mayOverlap(sql, rows))) {
    const { chunks, format } = copyData(rows);
    await streamCopy(
      await sql.unsafe(`copy samples (${columnList}) from stdin ${format}`).writable(),
      chunks,
      rows.length,
    );
    return rows.length;
  }
  if (!stagingReady.has(sql)) {
    await sql.unsafe(createStaging);
    stagingReady.add(sql);
  }
  try {
    const staged = copyData(rows);
    await streamCopy(
      await sql.unsafe(`copy ${STAGING} (${columnList}) from stdin ${staged.format}`).writable(),
      staged.chunks,
      rows.length,
    );
    const result = await sql.unsafe(moveStaging);
    return result.count;
  } catch (error) {
    // 42703 undefined_column / 42P01 undefined_table: samples changed, or the staging table was dropped.
    const code = (error as { code?: string }).code;
    if (code === "42703" || code === "42P01") {
      stagingReady.delete(sql);
      await sql.unsafe(`drop table if exists ${STAGING}`).catch(() => {});
    }
    throw error;
  }
}

async function copyPglite(pglite: PGlite, rows: SampleInsert[]): Promise<number> {
  const blob = () => {
    const { chunks } = copyData(rows);
    return new Blob([...chunks]);
  };
  const format = binaryReady ? "(format binary)" : "";
  try {
    await pglite.query(`copy samples (${columnList}) from '/dev/blob' ${format}`, [], { blob: blob() });
    return rows.length;
  } catch (error) {
    if ((error as { code?: string }).code !== "23505") throw error;
  }
  return pglite.transaction(async (tx) => {
    await tx.exec(createTempStaging);
    await tx.query(`copy ${TEMP_STAGING} (${columnList}) from '/dev/blob' ${format}`, [], { blob: blob() });
    const result = await tx.query(moveTempStaging);
    return result.affectedRows ?? 0;
  });
}

/** Rows per INSERT: every column a bind parameter, under the protocol's 65,535 per statement. */
const ROWS_PER_INSERT = Math.floor(65_535 / sampleColumns.length);

/** Through an embedded database's owner: INSERT … ON CONFLICT DO NOTHING, idempotent on (execution, tick). */
async function insertThroughOwner(db: Db, rows: SampleInsert[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const stored = await db
      .insert(samples)
      .values(rows.slice(start, start + ROWS_PER_INSERT))
      .onConflictDoNothing()
      .returning({ ts: samples.ts });
    inserted += stored.length;
  }
  return inserted;
}

/** The driver client under a drizzle database. */
function clientOf(
  db: Db,
): { kind: "postgres"; sql: Sql } | { kind: "pglite"; pglite: PGlite } | { kind: "owner" } {
  const client = (db as unknown as { $client: unknown }).$client;
  if (typeof client === "function" && typeof (client as Sql).begin === "function") {
    if ((client as unknown as Record<symbol, unknown>)[SERVED_BY_OWNER]) return { kind: "owner" };
    return { kind: "postgres", sql: client as Sql };
  }
  return { kind: "pglite", pglite: client as PGlite };
}

/**
 * Node and postgres.js codes, and SQLSTATEs, that mean "the database is not there (or not ready)"
 * rather than "the database refuses this data" (PostgreSQL docs, Appendix A "Error Codes").
 */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // Postgres: admin shutdown, crash shutdown, cannot connect now.
  "57P01",
  "57P02",
  "57P03",
  // Undefined table or function: the database is not migrated yet (`rightsize db migrate`); retrying
  // keeps the batches until it is, where setting them aside would strand them.
  "42P01",
  "42883",
  // Serialization failure, deadlock: the same statement succeeds when tried again.
  "40001",
  "40P01",
]);

/** How a failed database call should be handled. */
export type DatabaseErrorKind =
  /** Not there, or not ready: keep the rows (spool) and try again for as long as it lasts. */
  | "connection"
  /** These rows are refused (SQLSTATE class 22 data exception or 23 integrity constraint violation, or a
   * value the encoder cannot write): set them aside, never retry them. */
  | "data"
  /** Anything else: retried a few times, then set aside. */
  | "other";

export function classifyDatabaseError(thrown: unknown): DatabaseErrorKind {
  let current: unknown = thrown;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof DatabaseUnavailableError) return "connection";
    const name = (current as { name?: unknown }).name;
    if (name === "WriteTimeoutError") return "connection";
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      // Class 08 connection exception, class 53 insufficient resources (disk full, out of memory, too
      // many connections): the server's state, not the rows'.
      if (connectionCodes.has(code) || /^(08|53)/.test(code)) return "connection";
      if (/^(22|23)[0-9A-Z]{3}$/.test(code)) return "data";
    }
    if (current instanceof RangeError || current instanceof TypeError) return "data";
    current = (current as { cause?: unknown }).cause;
  }
  return "other";
}

/** int4 / int8-as-number bounds a column can hold (PostgreSQL docs, "Numeric Types"). */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Sample times outside these years are a clock gone wild: a partition per such day is refused. */
const EARLIEST_SAMPLE_MS = Date.UTC(2000, 0, 1);
const LATEST_SAMPLE_MS = Date.UTC(2200, 0, 1);

/** Whether a sample time gets a partition (ingest makes day partitions only for these). */
export function isStorableSampleTime(ts: unknown): ts is Date {
  const time = ts instanceof Date ? ts.getTime() : Number.NaN;
  return time >= EARLIEST_SAMPLE_MS && time < LATEST_SAMPLE_MS;
}

const columnTypes = Object.entries(getTableColumns(samples)).map(([property, column]) => ({
  property: property as keyof SampleInsert,
  type: column.getSQLType(),
  notNull: column.notNull,
}));

/**
 * Why a sample row cannot be stored as it is, or null: checked before COPY, since one bad value aborts
 * a whole COPY (and postgres.js reports it only as a stall). Every column is bounded by its type.
 */
export function sampleRowProblem(row: SampleInsert): string | null {
  if (typeof row.executionId !== "string" || !UUID_PATTERN.test(row.executionId))
    return "execution_id is not a uuid";
  if (!isStorableSampleTime(row.ts)) return "ts is not a time from 2000 to 2199";
  for (const { property, type, notNull } of columnTypes) {
    const value = row[property];
    if (value === null || value === undefined) {
      if (notNull && property !== "executionId" && property !== "ts" && value === null)
        return `${String(property)} is null`;
      continue;
    }
    if (type === "integer" || type === "bigint" || type === "real" || type === "double precision") {
      if (typeof value !== "number") return `${String(property)} is not a number`;
      if (type === "integer" && !(Math.round(value) >= INT4_MIN && Math.round(value) <= INT4_MAX))
        return `${String(property)} = ${value} is beyond an integer column`;
      if (type === "bigint" && !Number.isSafeInteger(Math.round(value)))
        return `${String(property)} = ${value} is beyond a bigint column`;
    }
  }
  return null;
}

/** The last row per (execution, tick): COPY aborts on an in-batch duplicate of the primary key. */
function lastPerTick(rows: SampleInsert[]): SampleInsert[] {
  const seen = new Map<string, number>();
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    seen.set(`${row.executionId}@${row.ts.getTime()}`, index);
  }
  if (seen.size === rows.length) return rows;
  const keep = new Set(seen.values());
  return rows.filter((_, index) => keep.has(index));
}

/** A row the database refused, with why. */
export interface RefusedSample {
  row: SampleInsert;
  error: unknown;
}

/**
 * The slow path after COPY failed on data: INSERT … ON CONFLICT DO NOTHING (whose errors postgres.js does
 * report, with their SQLSTATE), halving a refused chunk until the refused rows stand alone. A batch with
 * one bad row costs about 2·log2(rows) statements; connection errors still propagate.
 */
async function insertBisecting(db: Db, rows: SampleInsert[], refused: RefusedSample[]): Promise<number> {
  if (rows.length === 0) return 0;
  try {
    const stored = await db.insert(samples).values(rows).onConflictDoNothing().returning({ ts: samples.ts });
    return stored.length;
  } catch (error) {
    if (classifyDatabaseError(error) === "connection") throw error;
    if (rows.length === 1) {
      refused.push({ row: rows[0]!, error });
      return 0;
    }
    const half = Math.ceil(rows.length / 2);
    return (
      (await insertBisecting(db, rows.slice(0, half), refused)) +
      (await insertBisecting(db, rows.slice(half), refused))
    );
  }
}

/** Rows per INSERT of the slow path: 27 columns × 2,000 stays under the protocol's 65,535 parameters. */
const INSERT_CHUNK_ROWS = 2_000;

/** Whether the database still answers a trivial query within a few seconds (after a stalled COPY). */
async function answers(db: Db): Promise<boolean> {
  const client = clientOf(db);
  if (client.kind !== "postgres") return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.sql`select 1`,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer")), 5_000);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Copies samples into the (already partitioned) samples table, skipping rows whose (execution, tick) is
 * stored already, and keeping the last of in-batch duplicates. Returns how many rows were new. The
 * caller makes sure the day partitions exist.
 *
 * Rows the database refuses never block the others: rows that break a column's bounds are refused
 * before COPY; when COPY still fails on data (SQLSTATE class 22/23, or a stall while the server answers
 * other queries: postgres.js 3.4 reports COPY errors only as a stall), the batch is inserted again by
 * halves. Refused rows go to `onRefused` (without it, the first refusal is thrown). Connection errors
 * are thrown as they are: the caller keeps the rows and tries again.
 */
export async function copySamples(
  db: Db,
  rows: SampleInsert[],
  onRefused?: (refused: RefusedSample[]) => void,
): Promise<number> {
  if (rows.length === 0) return 0;
  const refused: RefusedSample[] = [];
  const valid: SampleInsert[] = [];
  for (const row of rows) {
    const problem = sampleRowProblem(row);
    if (problem) refused.push({ row, error: new RangeError(problem) });
    else valid.push(row);
  }
  const unique = lastPerTick(valid);
  let inserted = 0;
  if (unique.length > 0) {
    const client = clientOf(db);
    try {
      inserted =
        client.kind === "postgres"
          ? await copyPostgres(client.sql, unique)
          : client.kind === "owner"
            ? await insertThroughOwner(db, unique)
            : await copyPglite(client.pglite, unique);
    } catch (error) {
      const kind = classifyDatabaseError(error);
      const stalledButAnswering = error instanceof CopyStalledError && (await answers(db));
      if (kind === "connection" && !stalledButAnswering) throw error;
      if (kind === "other" && !stalledButAnswering) throw error;
      for (let start = 0; start < unique.length; start += INSERT_CHUNK_ROWS)
        inserted += await insertBisecting(db, unique.slice(start, start + INSERT_CHUNK_ROWS), refused);
    }
  }
  if (refused.length > 0) {
    if (!onRefused) throw refused[0]!.error;
    onRefused(refused);
  }
  return inserted;
}
