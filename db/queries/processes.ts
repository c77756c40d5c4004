/** Processes seen per execution. */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { executionProcesses } from "../schema.js";

export type ProcessRow = typeof executionProcesses.$inferSelect;
export type NewProcess = typeof executionProcesses.$inferInsert;

/** Records processes; a process seen again keeps its first sighting and takes the newer totals. */
export async function upsertProcesses(db: Db, rows: NewProcess[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(executionProcesses)
    .values(rows)
    .onConflictDoUpdate({
      target: [executionProcesses.executionId, executionProcesses.pid, executionProcesses.startTicks],
      set: {
        lastSeen: sql`excluded.last_seen`,
        cpuSeconds: sql`greatest(${executionProcesses.cpuSeconds}, excluded.cpu_seconds)`,
        peakRssBytes: sql`greatest(${executionProcesses.peakRssBytes}, excluded.peak_rss_bytes)`,
        readBytes: sql`excluded.read_bytes`,
        writeBytes: sql`excluded.write_bytes`,
        exited: sql`excluded.exited`,
      },
    });
}

export async function listProcesses(db: Db, executionId: string): Promise<ProcessRow[]> {
  return db
    .select()
    .from(executionProcesses)
    .where(eq(executionProcesses.executionId, executionId))
    .orderBy(asc(executionProcesses.firstSeen), asc(executionProcesses.pid));
}
