/**
 * The analyzer's read side: per-run summaries of a task's executions in a window, aggregated inside the
 * database so that the analyzing process never holds the samples (its memory grows with runs, not ticks).
 */
import { type SQL, sql } from "drizzle-orm";
import { type Db, queryRows } from "../client.js";

/** The analysis window: executions that started at or after `start` and ended by `end`. */
export interface AnalysisWindow {
  start: Date;
  end: Date;
  /** At most this many of a task's latest executions. */
  maxRuns: number;
}

export interface TaskKeyRow {
  orchestrator: string;
  pipeline: string;
  task: string;
}

/** One execution of a task with its samples summarized. Measures are null when never sampled. */
export interface RunSummary {
  executionId: string;
  runId: string;
  tryNumber: number;
  hostId: string;
  /** Cores of the host it ran on, when the collector recorded the host. */
  hostCores: number | null;
  startedAt: Date;
  endedAt: Date;
  durationSeconds: number;
  exitCode: number | null;
  status: string;
  requestCpuCores: number | null;
  limitCpuCores: number | null;
  cpuSource: string | null;
  requestMemoryBytes: number | null;
  limitMemoryBytes: number | null;
  memorySource: string | null;
  endpoints: Array<{ endpoint: string; waitSeconds: number }> | null;
  /** Samples seen for the execution; 0 means every measure below is unknown. */
  ticks: number;
  /** Wall seconds the samples cover (Σ interval). */
  sampledSeconds: number;
  cpuP50: number | null;
  cpuP95: number | null;
  cpuMax: number | null;
  cpuSeconds: number | null;
  peakRssBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
  netRxBytes: number | null;
  netTxBytes: number | null;
  onCpuSeconds: number;
  cpuWaitSeconds: number;
  diskWaitSeconds: number;
  netWaitSeconds: number;
  childWaitSeconds: number;
  idleSeconds: number;
  oomKills: number;
  throttledPeriods: number | null;
  totalPeriods: number | null;
  processesMax: number | null;
  processesStarted: number | null;
  hostLoadAvg: number | null;
}

/** Percentiles of a task's per-second cores over all samples of its analyzed runs. */
export interface CorePercentiles {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
}

export interface ProcessSummary {
  command: string;
  count: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

/**
 * Samples of a run lie within its span; the slack covers a collector clock a little off and a last tick
 * written after the end was recorded.
 */
const SAMPLE_SLACK = sql.raw("interval '1 hour'");

/** Task keys with at least one finished execution in the window. */
export async function listTaskKeysInWindow(db: Db, window: AnalysisWindow): Promise<TaskKeyRow[]> {
  return queryRows<TaskKeyRow & Record<string, unknown>>(
    db,
    sql`select distinct orchestrator, pipeline, task from task_executions
        where ended_at is not null
          and started_at >= ${window.start.toISOString()}::timestamptz
          and ended_at <= ${window.end.toISOString()}::timestamptz
        order by orchestrator, pipeline, task`,
  );
}

function runsOf(key: TaskKeyRow, window: AnalysisWindow): SQL {
  return sql`select e.id, e.run_id, e.try_number, e.host_id, e.started_at, e.ended_at, e.exit_code, e.status,
                    e.request_cpu_cores, e.limit_cpu_cores, e.cpu_source, e.request_memory_bytes,
                    e.limit_memory_bytes, e.memory_source, e.endpoints
             from task_executions e
             where e.orchestrator = ${key.orchestrator} and e.pipeline = ${key.pipeline} and e.task = ${key.task}
               and e.ended_at is not null
               and e.started_at >= ${window.start.toISOString()}::timestamptz
               and e.ended_at <= ${window.end.toISOString()}::timestamptz
             order by e.started_at desc, e.id
             limit ${window.maxRuns}`;
}

interface RawRunRow extends Record<string, unknown> {
  id: string;
  run_id: string;
  try_number: number;
  host_id: string;
  host_cores: number | null;
  started_at: Date | string;
  ended_at: Date | string;
  exit_code: number | null;
  status: string;
  request_cpu_cores: number | null;
  limit_cpu_cores: number | null;
  cpu_source: string | null;
  request_memory_bytes: number | string | null;
  limit_memory_bytes: number | string | null;
  memory_source: string | null;
  endpoints: unknown;
  ticks: number | null;
  sampled_seconds: number | null;
  cpu_q: number[] | string | null;
  cpu_max: number | null;
  cpu_seconds: number | null;
  peak_rss: number | null;
  disk_read: number | null;
  disk_write: number | null;
  net_rx: number | null;
  net_tx: number | null;
  on_cpu: number | null;
  cpu_wait: number | null;
  disk_wait: number | null;
  net_wait: number | null;
  child_wait: number | null;
  idle: number | null;
  oom_kills: number | null;
  throttled_periods: number | null;
  total_periods: number | null;
  processes_max: number | null;
  processes_started: number | null;
  host_load_avg: number | null;
  task_q: number[] | string | null;
  task_max: number | null;
  task_samples: number | null;
}

const toNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/** postgres.js returns float8[] as an array, PGlite too; a driver that hands back `{…}` text gets parsed. */
function toNumberArray(value: number[] | string | null): number[] | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(Number);
  return value.replace(/[{}]/g, "").split(",").map(Number);
}

function parseEndpoints(value: unknown): RunSummary["endpoints"] {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(parsed)) return null;
  return parsed
    .filter(
      (item): item is { endpoint: string; waitSeconds: number } =>
        typeof item === "object" &&
        item !== null &&
        typeof (item as { endpoint?: unknown }).endpoint === "string",
    )
    .map((item) => ({ endpoint: item.endpoint, waitSeconds: Number(item.waitSeconds) || 0 }));
}

/**
 * One task's runs in the window with their samples summarized, plus the percentiles of its per-second
 * cores across all of them: one statement, one pass over the samples (the task's samples are read once
 * into a CTE that both aggregates use; Postgres holds them, bounded by maxRuns × ticks per run).
 */
export async function loadTaskRuns(
  db: Db,
  key: TaskKeyRow,
  window: AnalysisWindow,
): Promise<{ runs: RunSummary[]; cores: CorePercentiles | null }> {
  const rows = await queryRows<RawRunRow>(
    db,
    sql`with runs as (${runsOf(key, window)}),
        s as materialized (
          -- Only the columns used: the CTE is held in memory, and narrow rows sort faster.
          select x.execution_id, x.interval_seconds, x.cpu_cores, x.cpu_seconds_total, x.rss_bytes,
                 x.disk_read_bytes, x.disk_write_bytes, x.net_rx_bytes, x.net_tx_bytes, x.on_cpu_seconds,
                 x.cpu_wait_seconds, x.disk_wait_seconds, x.net_wait_seconds, x.child_wait_seconds,
                 x.idle_seconds, x.oom_kills, x.throttled_periods, x.total_periods, x.processes_alive,
                 x.processes_started, x.host_load1
          from runs r
          -- LATERAL with each run's own time bounds makes the plan a nested loop of primary-key probes
          -- into only the partitions the run spans (run-time pruning); a plain join lets the planner
          -- hash the whole window's samples for every task (25× slower at 1 M samples).
          cross join lateral (
            select * from samples x
            where x.execution_id = r.id
              and x.ts >= r.started_at - ${SAMPLE_SLACK}
              and x.ts <= r.ended_at + ${SAMPLE_SLACK}
          ) x
        ),
        per_run as (
          select execution_id,
            count(*)::int as ticks,
            sum(interval_seconds)::float8 as sampled_seconds,
            -- One sort for both percentiles.
            percentile_cont(array[0.5, 0.95]) within group (order by cpu_cores) as cpu_q,
            max(cpu_cores)::float8 as cpu_max,
            -- The cumulative counter misses the CPU spent before the first tick; the integral of cores
            -- misses nothing sampled but rounds each tick. Both under-count, so the larger is closer.
            greatest(max(cpu_seconds_total) - min(cpu_seconds_total),
                     sum(cpu_cores * interval_seconds))::float8 as cpu_seconds,
            max(rss_bytes)::float8 as peak_rss,
            sum(disk_read_bytes)::float8 as disk_read,
            sum(disk_write_bytes)::float8 as disk_write,
            sum(net_rx_bytes)::float8 as net_rx,
            sum(net_tx_bytes)::float8 as net_tx,
            coalesce(sum(on_cpu_seconds), 0)::float8 as on_cpu,
            coalesce(sum(cpu_wait_seconds), 0)::float8 as cpu_wait,
            coalesce(sum(disk_wait_seconds), 0)::float8 as disk_wait,
            coalesce(sum(net_wait_seconds), 0)::float8 as net_wait,
            coalesce(sum(child_wait_seconds), 0)::float8 as child_wait,
            coalesce(sum(idle_seconds), 0)::float8 as idle,
            coalesce(sum(oom_kills), 0)::int as oom_kills,
            sum(throttled_periods)::float8 as throttled_periods,
            sum(total_periods)::float8 as total_periods,
            max(processes_alive)::int as processes_max,
            sum(processes_started)::int as processes_started,
            avg(host_load1)::float8 as host_load_avg
          from s group by execution_id
        ),
        task_cores as (
          select percentile_cont(array[0.5, 0.9, 0.95, 0.99]) within group (order by cpu_cores) as task_q,
                 max(cpu_cores)::float8 as task_max,
                 count(cpu_cores)::int as task_samples
          from s
        )
        select r.*, h.cores as host_cores, p.*, t.*
        from runs r
        left join hosts h on h.id = r.host_id
        left join per_run p on p.execution_id = r.id
        cross join task_cores t
        order by r.started_at, r.id`,
  );
  const first = rows[0];
  const quantiles = first ? toNumberArray(first.task_q) : null;
  const cores =
    first && quantiles && (first.task_samples ?? 0) > 0
      ? {
          p50: quantiles[0] ?? 0,
          p90: quantiles[1] ?? 0,
          p95: quantiles[2] ?? 0,
          p99: quantiles[3] ?? 0,
          max: Number(first.task_max ?? 0),
          samples: Number(first.task_samples),
        }
      : null;
  const runs = rows.map((row): RunSummary => {
    const startedAt = toDate(row.started_at);
    const endedAt = toDate(row.ended_at);
    const runQuantiles = toNumberArray(row.cpu_q);
    return {
      executionId: row.id,
      runId: row.run_id,
      tryNumber: Number(row.try_number),
      hostId: row.host_id,
      hostCores: toNumber(row.host_cores),
      startedAt,
      endedAt,
      durationSeconds: Math.max(0, (endedAt.getTime() - startedAt.getTime()) / 1000),
      exitCode: toNumber(row.exit_code),
      status: row.status,
      requestCpuCores: toNumber(row.request_cpu_cores),
      limitCpuCores: toNumber(row.limit_cpu_cores),
      cpuSource: row.cpu_source,
      requestMemoryBytes: toNumber(row.request_memory_bytes),
      limitMemoryBytes: toNumber(row.limit_memory_bytes),
      memorySource: row.memory_source,
      endpoints: parseEndpoints(row.endpoints),
      ticks: Number(row.ticks ?? 0),
      sampledSeconds: Number(row.sampled_seconds ?? 0),
      cpuP50: runQuantiles?.[0] ?? null,
      cpuP95: runQuantiles?.[1] ?? null,
      cpuMax: toNumber(row.cpu_max),
      cpuSeconds: toNumber(row.cpu_seconds),
      peakRssBytes: toNumber(row.peak_rss),
      diskReadBytes: toNumber(row.disk_read),
      diskWriteBytes: toNumber(row.disk_write),
      netRxBytes: toNumber(row.net_rx),
      netTxBytes: toNumber(row.net_tx),
      onCpuSeconds: Number(row.on_cpu ?? 0),
      cpuWaitSeconds: Number(row.cpu_wait ?? 0),
      diskWaitSeconds: Number(row.disk_wait ?? 0),
      netWaitSeconds: Number(row.net_wait ?? 0),
      childWaitSeconds: Number(row.child_wait ?? 0),
      idleSeconds: Number(row.idle ?? 0),
      oomKills: Number(row.oom_kills ?? 0),
      throttledPeriods: toNumber(row.throttled_periods),
      totalPeriods: toNumber(row.total_periods),
      processesMax: toNumber(row.processes_max),
      processesStarted: toNumber(row.processes_started),
      hostLoadAvg: toNumber(row.host_load_avg),
    };
  });
  return { runs, cores };
}

/** The commands a task's analyzed runs started, most CPU first. */
export async function loadTaskProcesses(
  db: Db,
  key: TaskKeyRow,
  window: AnalysisWindow,
  limit = 10,
): Promise<ProcessSummary[]> {
  const rows = await queryRows<{ command: string; count: number; cpu_seconds: number; peak_rss: number }>(
    db,
    sql`with runs as (${runsOf(key, window)})
        select p.command, count(*)::int as count, sum(p.cpu_seconds)::float8 as cpu_seconds,
               max(p.peak_rss_bytes)::float8 as peak_rss
        from execution_processes p join runs r on r.id = p.execution_id
        group by p.command
        order by 3 desc, 1
        limit ${limit}`,
  );
  return rows.map((row) => ({
    command: row.command,
    count: Number(row.count),
    cpuSeconds: Number(row.cpu_seconds),
    peakRssBytes: Number(row.peak_rss),
  }));
}
