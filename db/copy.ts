/**
 * Bulk sample ingest by COPY. Rows are copied into a transaction-local staging table, then moved with
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

const STAGING = "rightsize_samples_staging";
const createStaging = `create temp table ${STAGING} (like samples) on commit drop`;
const moveStaging = `insert into samples (${columnList}) select ${columnList} from ${STAGING} on conflict do nothing`;

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
  if (client.kind === "postgres") {
    return client.sql.begin(async (tx) => {
      await tx.unsafe(createStaging);
      const writable = await tx.unsafe(`copy ${STAGING} (${columnList}) from stdin`).writable();
      await pipeline(Readable.from(sampleCopyText(rows)), writable);
      const result = await tx.unsafe(moveStaging);
      return result.count;
    });
  }
  return client.pglite.transaction(async (tx) => {
    await tx.exec(createStaging);
    const blob = new Blob([...sampleCopyText(rows)]);
    await tx.query(`copy ${STAGING} (${columnList}) from '/dev/blob'`, [], { blob });
    const result = await tx.query(moveStaging);
    return result.affectedRows ?? 0;
  });
}
