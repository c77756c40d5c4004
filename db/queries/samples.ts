/** Samples: one row per execution per tick, in daily partitions. */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { copySamples, isStorableSampleTime, type RefusedSample } from "../copy.js";
import { samples } from "../schema.js";
import { ensurePartitions } from "./partitions.js";

export type SampleRow = typeof samples.$inferSelect;
export type NewSample = typeof samples.$inferInsert;

/**
 * Rows per INSERT statement: the wire protocol caps bind parameters at 65,535, and samples has 27
 * columns (2,000 × 27 = 54,000).
 */
const INSERT_CHUNK_ROWS = 2_000;

/**
 * Inserts samples, skipping any (execution, tick) already stored, so a replayed batch lands once.
 * Creates missing daily partitions first.
 */
export async function insertSamples(db: Db, rows: NewSample[]): Promise<void> {
  if (rows.length === 0) return;
  let first = rows[0]!.ts;
  let last = first;
  for (const row of rows) {
    if (row.ts < first) first = row.ts;
    if (row.ts > last) last = row.ts;
  }
  await ensurePartitions(db, first, last);
  for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
    await db
      .insert(samples)
      .values(rows.slice(start, start + INSERT_CHUNK_ROWS))
      .onConflictDoNothing();
  }
}

export async function listSamples(db: Db, executionId: string): Promise<SampleRow[]> {
  return db.select().from(samples).where(eq(samples.executionId, executionId)).orderBy(asc(samples.ts));
}

export async function countSamples(db: Db, executionId?: string): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(executionId ? eq(samples.executionId, executionId) : undefined);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The collector's ingest path: makes sure the day partitions exist (skipping days in `knownDays`, which
 * it then fills in), then COPYs the rows (db/copy.ts), skipping any (execution, tick) already stored.
 * Returns how many rows were new.
 */
export async function ingestSamples(
  db: Db,
  rows: NewSample[],
  knownDays?: Set<string>,
  onRefused?: (refused: RefusedSample[]) => void,
): Promise<number> {
  if (rows.length === 0) return 0;
  const days = new Map<string, Date>();
  for (const row of rows) {
    // A time no partition is made for is refused by copySamples, row by row.
    if (!isStorableSampleTime(row.ts)) continue;
    const day = row.ts.toISOString().slice(0, 10);
    if (!knownDays?.has(day) && !days.has(day)) days.set(day, row.ts);
  }
  // Day by day, not first to last: one sample with a clock far off must not make a partition for
  // every day in between.
  for (const [day, ts] of days) {
    await ensurePartitions(db, ts, ts);
    knownDays?.add(day);
  }
  return copySamples(db, rows, onRefused);
}
