/** What a host did each tick (db/schema.ts hostSamples): written by the collector, read by `explain`. */
import { and, asc, eq, gt, lte, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { hostSamples } from "../schema.js";

export type NewHostSample = typeof hostSamples.$inferInsert;
export type HostSampleRow = typeof hostSamples.$inferSelect;

/**
 * Stores host samples; a tick already stored (a replayed batch) is kept as it was. One plain statement
 * rather than the query builder: it runs on every flush of the collector (its cost: BENCHMARKS.md
 * "collector", host samples).
 */
export async function insertHostSamples(db: Db, rows: NewHostSample[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map(
    (row) =>
      sql`(${row.hostId}, ${row.ts.toISOString()}::timestamptz, ${row.intervalSeconds}, ${row.cpuBusyCores ?? null},
           ${row.cpuIowaitCores ?? null}, ${row.cpuStealCores ?? null}, ${row.diskBusyShare ?? null},
           ${row.diskReadBytes ?? null}::int8, ${row.diskWriteBytes ?? null}::int8, ${row.psiCpuSome ?? null},
           ${row.psiMemorySome ?? null}, ${row.psiIoSome ?? null}, ${row.load1 ?? null})`,
  );
  await db.execute(
    sql`insert into host_samples (host_id, ts, interval_seconds, cpu_busy_cores, cpu_iowait_cores,
          cpu_steal_cores, disk_busy_share, disk_read_bytes, disk_write_bytes, psi_cpu_some,
          psi_memory_some, psi_io_some, load1)
        values ${sql.join(values, sql`, `)} on conflict do nothing`,
  );
}

/**
 * A host's samples whose tick ends after `start` and by `end` plus a minute (the longest tick, as
 * db/queries/diagnoses.ts reads a run's own samples), in time order.
 */
export async function loadHostSamples(
  db: Db,
  hostId: string,
  start: Date,
  end: Date,
): Promise<HostSampleRow[]> {
  return db
    .select()
    .from(hostSamples)
    .where(
      and(
        eq(hostSamples.hostId, hostId),
        gt(hostSamples.ts, start),
        lte(hostSamples.ts, new Date(end.getTime() + 60_000)),
      ),
    )
    .orderBy(asc(hostSamples.ts));
}
