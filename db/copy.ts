/**
 * Bulk sample ingest by COPY. Rows are copied into a staging table, then moved with
 * `insert … select … on conflict do nothing`: COPY alone would abort the whole batch on one duplicate,
 * and a batch replayed from the spool must land exactly once, idempotent on (execution_id, ts).
 *
 * Postgres: postgres.js streams `copy … from stdin` (DESIGN.md: as fast as psql). PGlite: its
 * `copy … from '/dev/blob'` with the text in a Blob (BENCHMARKS.md "ingest" compares it with multi-row
 * INSERT).
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PGlite } from "@electric-sql/pglite";
import { getTableColumns } from "drizzle-orm";
import type { Sql } from "postgres";
import type { Db } from "./client.js";
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

/** The column list of samples in COPY order, for `copy samples (…)` statements outside this module. */
export const sampleCopyColumns = columnList;

/**
 * Postgres: a permanent UNLOGGED staging table, made on first use (`like samples`, so it follows the
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
 * the write would wait forever. 5 s plus 1 s per 100,000 rows is over 15 times DESIGN.md's ~300k rows/s.
 */
function copyDeadlineMs(rows: number): number {
  return 5_000 + Math.ceil(rows / 100_000) * 1_000;
}

async function copyPostgres(sql: Sql, rows: SampleInsert[]): Promise<number> {
  if (!stagingReady.has(sql)) {
    await sql.unsafe(createStaging);
    stagingReady.add(sql);
  }
  try {
    const writable = await sql.unsafe(`copy ${STAGING} (${columnList}) from stdin`).writable();
    let timer: NodeJS.Timeout | undefined;
    const deadline = copyDeadlineMs(rows.length);
    await Promise.race([
      pipeline(Readable.from(sampleCopyText(rows)), writable),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new CopyStalledError(
                `COPY of ${rows.length} samples did not finish within ${deadline / 1000} s`,
              ),
            ),
          deadline,
        );
      }),
    ]).finally(() => clearTimeout(timer));
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

/** The driver client under a drizzle database. */
function clientOf(db: Db): { kind: "postgres"; sql: Sql } | { kind: "pglite"; pglite: PGlite } {
  const client = (db as unknown as { $client: unknown }).$client;
  if (typeof client === "function" && typeof (client as Sql).begin === "function") {
    return { kind: "postgres", sql: client as Sql };
  }
  return { kind: "pglite", pglite: client as PGlite };
}

/**
 * Copies samples into the (already partitioned) samples table, skipping rows whose (execution, tick) is
 * stored already. Returns how many rows were new. The caller makes sure the day partitions exist.
 */
export async function copySamples(db: Db, rows: SampleInsert[]): Promise<number> {
  if (rows.length === 0) return 0;
  const client = clientOf(db);
  if (client.kind === "postgres") return copyPostgres(client.sql, rows);
  return client.pglite.transaction(async (tx) => {
    await tx.exec(createTempStaging);
    const blob = new Blob([...sampleCopyText(rows)]);
    await tx.query(`copy ${TEMP_STAGING} (${columnList}) from '/dev/blob'`, [], { blob });
    const result = await tx.query(moveTempStaging);
    return result.affectedRows ?? 0;
  });
}
