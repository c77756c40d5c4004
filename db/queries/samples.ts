/** Samples: one row per execution per tick, in daily partitions. */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { samples } from "../schema.js";
import { ensurePartitions } from "./partitions.js";

export type SampleRow = typeof samples.$inferSelect;
export type NewSample = typeof samples.$inferInsert;

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
  await db.insert(samples).values(rows).onConflictDoNothing();
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
