/** Processes seen per execution. */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { executionProcesses } from "../schema.js";

export type ProcessRow = typeof executionProcesses.$inferSelect;
export type NewProcess = typeof executionProcesses.$inferInsert;

/**
 * Records processes; a process seen again keeps its first sighting and takes the newer totals, and the
 * newer name: a fork first stored before its exec carries its parent's command and argv until its exec
 * (or its accounting record) tells what it ran, and a reparented process has a new parent.
 *
 * The rows travel as one JSON parameter (jsonb_to_recordset): the collector upserts every new process of
 * every task each flush, and building a multi-row insert through the query builder cost more CPU than
 * reading /proc for them (BENCHMARKS.md "collector"). Same statement on Postgres and the embedded database.
 */
export async function upsertProcesses(db: Db, rows: NewProcess[]): Promise<void> {
  if (rows.length === 0) return;
  await db.execute(sql`
    insert into execution_processes as p
      (execution_id, pid, start_ticks, ppid, command, argv, first_seen, last_seen,
       cpu_seconds, peak_rss_bytes, read_bytes, write_bytes, exited)
    select r."executionId", r.pid, r."startTicks", r.ppid, r.command, r.argv, r."firstSeen", r."lastSeen",
           coalesce(r."cpuSeconds", 0), coalesce(r."peakRssBytes", 0), r."readBytes", r."writeBytes",
           coalesce(r.exited, false)
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
      "executionId" uuid, pid integer, "startTicks" bigint, ppid integer, command text, argv text,
      "firstSeen" timestamptz, "lastSeen" timestamptz, "cpuSeconds" double precision,
      "peakRssBytes" bigint, "readBytes" bigint, "writeBytes" bigint, exited boolean)
    on conflict (execution_id, pid, start_ticks) do update set
      ppid = excluded.ppid,
      command = excluded.command,
      argv = excluded.argv,
      last_seen = excluded.last_seen,
      cpu_seconds = greatest(p.cpu_seconds, excluded.cpu_seconds),
      peak_rss_bytes = greatest(p.peak_rss_bytes, excluded.peak_rss_bytes),
      read_bytes = excluded.read_bytes,
      write_bytes = excluded.write_bytes,
      exited = excluded.exited`);
}

export async function listProcesses(db: Db, executionId: string): Promise<ProcessRow[]> {
  return db
    .select()
    .from(executionProcesses)
    .where(eq(executionProcesses.executionId, executionId))
    .orderBy(asc(executionProcesses.firstSeen), asc(executionProcesses.pid));
}
