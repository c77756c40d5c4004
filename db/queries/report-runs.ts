/**
 * Report runs: what a rendering wrote and whether its email went out. Whether a delivery was sent, for
 * not sending it twice, is report_deliveries' (db/queries/report-deliveries.ts).
 */
import { desc, eq } from "drizzle-orm";
import type { Db } from "../client.js";
import { reportRuns } from "../schema.js";

export type ReportRunRow = typeof reportRuns.$inferSelect;
export type NewReportRun = typeof reportRuns.$inferInsert;

export async function insertReportRun(db: Db, run: NewReportRun): Promise<number> {
  const rows = await db.insert(reportRuns).values(run).returning({ id: reportRuns.id });
  return rows[0]!.id;
}

export async function updateReportRun(db: Db, id: number, update: Partial<NewReportRun>): Promise<void> {
  await db.update(reportRuns).set(update).where(eq(reportRuns.id, id));
}

export async function latestReportRun(db: Db): Promise<ReportRunRow | undefined> {
  const rows = await db.select().from(reportRuns).orderBy(desc(reportRuns.id)).limit(1);
  return rows[0];
}

/** The latest report runs, newest first: what was written, and which emails went out or failed. */
export async function listReportRuns(db: Db, limit = 20): Promise<ReportRunRow[]> {
  return db.select().from(reportRuns).orderBy(desc(reportRuns.id)).limit(limit);
}
