/**
 * What a run's diagnosis reads beyond its task's history (db/queries/task-histories.ts): the run's own
 * ticks (how much of each it waited for a CPU or on disk), the other executions on the same host that
 * overlapped it with their samples over the overlap, and each run's commands. Each is one statement over
 * the samples' primary key (execution, ts) within the run's own span, so only the partitions it spans.
 */
import { sql } from "drizzle-orm";
import { type Db, queryRows } from "../client.js";
import { loadCommands } from "./execution-commands.js";
import { float8RowsFromBinary } from "./float8-binary.js";
import type { ProcessSummary } from "./task-histories.js";

/**
 * One tick of a run, as analyzer/neighbours.ts VictimTick reads it, with what the run itself used (a
 * tracked use the host's untracked use is reckoned without).
 */
export interface RunTick {
  endMs: number;
  intervalSeconds: number;
  cpuWaitSeconds: number;
  diskWaitSeconds: number;
  cpuCores: number | null;
  diskBytes: number | null;
}

/** One overlapping execution with its samples over the overlap, in order. */
export interface NeighbourExecution {
  executionId: string;
  orchestrator: string;
  pipeline: string;
  task: string;
  runId: string;
  samples: Array<{
    endMs: number;
    intervalSeconds: number;
    cpuCores: number | null;
    diskBytes: number | null;
  }>;
}

/** The span a run's samples are read within: its start and end, as stored. */
export interface RunSpan {
  executionId: string;
  hostId: string;
  startedAt: Date;
  endedAt: Date;
}

/**
 * A tick's wall seconds in a state: the wall-clock column, else the thread-time column's share of the
 * tick (as db/queries/timelines.ts reads samples written before the wall-clock columns existed).
 */
function wallOf(wall: string, thread: string) {
  const threadTotal = sql.raw(
    "(coalesce(x.on_cpu_seconds,0) + coalesce(x.cpu_wait_seconds,0) + coalesce(x.disk_wait_seconds,0)" +
      " + coalesce(x.net_wait_seconds,0) + coalesce(x.child_wait_seconds,0) + coalesce(x.idle_seconds,0))",
  );
  return sql`coalesce(x.${sql.raw(wall)},
                      coalesce(x.${sql.raw(thread)}, 0) / nullif(${threadTotal}, 0) * x.interval_seconds, 0)::float8`;
}

/** A sample's disk bytes read plus written; null when both are unknown. */
const diskBytesOf = sql.raw(
  "case when x.disk_read_bytes is null and x.disk_write_bytes is null then null" +
    " else (coalesce(x.disk_read_bytes, 0) + coalesce(x.disk_write_bytes, 0))::float8 end",
);

/** The run's ticks in time order, each with its wall seconds waiting for a CPU and blocked on disk. */
export async function loadRunTicks(db: Db, run: RunSpan): Promise<RunTick[]> {
  const rows = await queryRows<{
    end_ms: number;
    interval_seconds: number;
    cpu_wait: number;
    disk_wait: number;
    cpu_cores: number | null;
    disk_bytes: number | null;
  }>(
    db,
    sql`select floor(extract(epoch from x.ts) * 1000)::float8 as end_ms, x.interval_seconds::float8 as interval_seconds,
               ${wallOf("wall_cpu_wait_seconds", "cpu_wait_seconds")} as cpu_wait,
               ${wallOf("wall_disk_wait_seconds", "disk_wait_seconds")} as disk_wait,
               x.cpu_cores::float8 as cpu_cores, ${diskBytesOf} as disk_bytes
        from samples x
        where x.execution_id = ${run.executionId}
          and x.ts > ${run.startedAt.toISOString()}::timestamptz
          and x.ts <= ${run.endedAt.toISOString()}::timestamptz + interval '1 minute'
        order by x.ts`,
  );
  return rows.map((row) => ({
    endMs: Number(row.end_ms),
    intervalSeconds: Number(row.interval_seconds),
    cpuWaitSeconds: Number(row.cpu_wait),
    diskWaitSeconds: Number(row.disk_wait),
    cpuCores: row.cpu_cores === null ? null : Number(row.cpu_cores),
    diskBytes: row.disk_bytes === null ? null : Number(row.disk_bytes),
  }));
}

/**
 * Every other execution on the run's host that overlapped it, with its samples within the run's span, in
 * order. A sample counts when its tick ends within the span (or within a minute after it,
 * the longest tick the collector takes: its interval setting's ceiling, docs/collector.md). One row per
 * execution with its samples as one binary float8[][] (db/queries/float8-binary.ts): a busy host's hour
 * is hundreds of thousands of samples, which as rows of their own cost the driver more than the reading
 * (BENCHMARKS.md "explain").
 */
export async function loadNeighbourSamples(db: Db, run: RunSpan): Promise<NeighbourExecution[]> {
  const start = run.startedAt.toISOString();
  const end = run.endedAt.toISOString();
  const rows = await queryRows<{
    id: string;
    orchestrator: string;
    pipeline: string;
    task: string;
    run_id: string;
    samples: Uint8Array | string;
  }>(
    db,
    sql`select e.id, e.orchestrator, e.pipeline, e.task, e.run_id,
               array_send(array_agg(array[floor(extract(epoch from x.ts) * 1000), x.interval_seconds,
                                          x.cpu_cores, ${diskBytesOf}]::float8[] order by x.ts)) as samples
        from task_executions e
        join samples x on x.execution_id = e.id
        where e.host_id = ${run.hostId} and e.id <> ${run.executionId}
          and e.started_at <= ${end}::timestamptz
          and (e.ended_at is null or e.ended_at >= ${start}::timestamptz)
          and x.ts > ${start}::timestamptz
          and x.ts <= ${end}::timestamptz + interval '1 minute'
        group by e.id
        order by e.id`,
  );
  return rows.map((row) => ({
    executionId: row.id,
    orchestrator: row.orchestrator,
    pipeline: row.pipeline,
    task: row.task,
    runId: row.run_id,
    samples: float8RowsFromBinary(row.samples, 4).map(([endMs, intervalSeconds, cpuCores, diskBytes]) => ({
      endMs: endMs!,
      intervalSeconds: intervalSeconds!,
      cpuCores: cpuCores ?? null,
      diskBytes: diskBytes ?? null,
    })),
  }));
}

/**
 * Each execution's commands: its processes grouped by command, with their count, CPU and peak RSS (from
 * the per-command rollup once the retention has deleted an old run's per-process rows).
 */
export async function loadRunCommands(
  db: Db,
  executionIds: string[],
): Promise<Map<string, ProcessSummary[]>> {
  const commands = new Map<string, ProcessSummary[]>();
  for (const row of await loadCommands(db, executionIds)) {
    const list = commands.get(row.executionId) ?? [];
    list.push({
      command: row.command,
      count: row.processes,
      cpuSeconds: row.cpuSeconds,
      peakRssBytes: row.peakRssBytes,
    });
    commands.set(row.executionId, list);
  }
  return commands;
}
