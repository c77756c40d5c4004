/**
 * The analyzer's read side: each finished execution's samples summarized once inside the database
 * (run_summaries), then per-task reads of one row per run, so the analyzing process never holds samples
 * (its memory grows with runs, not ticks).
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
  /** Per-second cores at the 0, 1, …, 100th percentile (see {@link SKETCH_POINTS}); null when unsampled. */
  coresQuantiles: number[] | null;
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
  /**
   * Wall-clock seconds per state (collector/thread-state.ts wallClockSplit), summed over samples; null
   * for runs sampled before the collector recorded them.
   */
  wall: {
    onCpuSeconds: number;
    cpuWaitSeconds: number;
    diskWaitSeconds: number;
    netWaitSeconds: number;
    childWaitSeconds: number;
    idleSeconds: number;
  } | null;
  oomKills: number;
  throttledPeriods: number | null;
  totalPeriods: number | null;
  processesMax: number | null;
  processesStarted: number | null;
  hostLoadAvg: number | null;
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
  cpu_p50: number | null;
  cpu_p95: number | null;
  cpu_max: number | null;
  cpu_seconds: number | null;
  cores_quantiles: number[] | string | null;
  peak_rss_bytes: number | null;
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  on_cpu_seconds: number | null;
  cpu_wait_seconds: number | null;
  disk_wait_seconds: number | null;
  net_wait_seconds: number | null;
  child_wait_seconds: number | null;
  idle_seconds: number | null;
  oom_kills: number | null;
  throttled_periods: number | null;
  total_periods: number | null;
  processes_max: number | null;
  processes_started: number | null;
  host_load_avg: number | null;
  wall_on_cpu_seconds: number | null;
  wall_cpu_wait_seconds: number | null;
  wall_disk_wait_seconds: number | null;
  wall_net_wait_seconds: number | null;
  wall_child_wait_seconds: number | null;
  wall_idle_seconds: number | null;
}

const toNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/** A float8[] as the driver returns it, or as `{…}` text (what taskHistoryQuery selects, for speed). */
function toNumberArray(value: number[] | string | null): number[] | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(Number);
  const inner = value.slice(1, -1);
  return inner === "" ? [] : inner.split(",").map(Number);
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

/** The sketch's percentiles: 0, 1, …, 100 % (101 values). */
export const SKETCH_POINTS = 101;
const sketchFractions = sql.raw(
  `array[${Array.from({ length: SKETCH_POINTS }, (_, index) => (index / (SKETCH_POINTS - 1)).toFixed(2)).join(",")}]::float8[]`,
);

/** The per-run aggregates over samples aliased `x`, in run_summaries' column order after execution_id. */
const summaryAggregates = sql`
  count(*)::int as ticks,
  coalesce(sum(x.interval_seconds), 0)::float8,
  (percentile_cont(${sketchFractions}) within group (order by x.cpu_cores))[51],
  (percentile_cont(${sketchFractions}) within group (order by x.cpu_cores))[96],
  max(x.cpu_cores)::float8,
  -- The cumulative counter misses the CPU spent before the first tick; the integral of cores misses
  -- nothing sampled but rounds each tick. Both under-count, so the larger is closer.
  greatest(max(x.cpu_seconds_total) - min(x.cpu_seconds_total), sum(x.cpu_cores * x.interval_seconds))::float8,
  -- Postgres sorts once for every percentile_cont over the same ORDER BY in a query level.
  percentile_cont(${sketchFractions}) within group (order by x.cpu_cores),
  max(x.rss_bytes)::float8,
  sum(x.disk_read_bytes)::float8,
  sum(x.disk_write_bytes)::float8,
  sum(x.net_rx_bytes)::float8,
  sum(x.net_tx_bytes)::float8,
  coalesce(sum(x.on_cpu_seconds), 0)::float8,
  coalesce(sum(x.cpu_wait_seconds), 0)::float8,
  coalesce(sum(x.disk_wait_seconds), 0)::float8,
  coalesce(sum(x.net_wait_seconds), 0)::float8,
  coalesce(sum(x.child_wait_seconds), 0)::float8,
  coalesce(sum(x.idle_seconds), 0)::float8,
  coalesce(sum(x.oom_kills), 0)::int,
  sum(x.throttled_periods)::float8,
  sum(x.total_periods)::float8,
  max(x.processes_alive)::int,
  sum(x.processes_started)::int,
  avg(x.host_load1)::float8,
  -- Null when no sample had them (sampled before the collector split wall time).
  sum(x.wall_on_cpu_seconds)::float8,
  sum(x.wall_cpu_wait_seconds)::float8,
  sum(x.wall_disk_wait_seconds)::float8,
  sum(x.wall_net_wait_seconds)::float8,
  sum(x.wall_child_wait_seconds)::float8,
  sum(x.wall_idle_seconds)::float8`;

const summaryColumns = sql.raw(`execution_id, ticks, sampled_seconds, cpu_p50, cpu_p95, cpu_max, cpu_seconds,
  cores_quantiles, peak_rss_bytes, disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes,
  on_cpu_seconds, cpu_wait_seconds, disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds,
  oom_kills, throttled_periods, total_periods, processes_max, processes_started, host_load_avg,
  wall_on_cpu_seconds, wall_cpu_wait_seconds, wall_disk_wait_seconds, wall_net_wait_seconds,
  wall_child_wait_seconds, wall_idle_seconds`);

/** run_summaries' columns for reading, with the sketch as text (see taskHistoryQuery). */
const runSummaryColumnsAsText = sql.raw(
  `rs.ticks, rs.sampled_seconds, rs.cpu_p50, rs.cpu_p95, rs.cpu_max, rs.cpu_seconds,
   rs.cores_quantiles::text as cores_quantiles, rs.peak_rss_bytes, rs.disk_read_bytes, rs.disk_write_bytes,
   rs.net_rx_bytes, rs.net_tx_bytes, rs.on_cpu_seconds, rs.cpu_wait_seconds, rs.disk_wait_seconds,
   rs.net_wait_seconds, rs.child_wait_seconds, rs.idle_seconds, rs.oom_kills, rs.throttled_periods,
   rs.total_periods, rs.processes_max, rs.processes_started, rs.host_load_avg, rs.wall_on_cpu_seconds,
   rs.wall_cpu_wait_seconds, rs.wall_disk_wait_seconds, rs.wall_net_wait_seconds, rs.wall_child_wait_seconds,
   rs.wall_idle_seconds`,
);

/** Finished executions in the window that have no summary yet. */
function unsummarized(window: AnalysisWindow): SQL {
  return sql`select e.id, e.started_at, e.ended_at from task_executions e
             where e.ended_at is not null
               and e.started_at >= ${window.start.toISOString()}::timestamptz
               and e.ended_at <= ${window.end.toISOString()}::timestamptz
               and not exists (select 1 from run_summaries r where r.execution_id = e.id)`;
}

/**
 * Summarizes the samples of every finished execution in the window that has none yet, in the database:
 * one statement, and the analyzing process receives nothing but the ids. A summary is made once per execution; executions without
 * samples get none, so samples that arrive later are still seen.
 */
export async function summarizeRuns(db: Db, window: AnalysisWindow): Promise<number> {
  return db.transaction(async (tx) => {
    // JIT would compile two dozen aggregates for a statement that spends its time in index probes and
    // small sorts: compiling costs more than it saves (bench/analysis.bench.ts, 1 M samples).
    await tx.execute(sql`set local jit = off`);
    const rows = await queryRows<{ execution_id: string }>(tx as unknown as Db, summarizeRunsQuery(window));
    return rows.length;
  });
}

/** The statement behind {@link summarizeRuns}, apart so that EXPLAIN can run it. */
export function summarizeRunsQuery(window: AnalysisWindow): SQL {
  // LATERAL per execution, bounded by its own span: each run's samples come from a primary-key range in
  // the one or two partitions it spans (run-time pruning) and are aggregated on their own, so there is
  // no sort of the whole window by execution (which spills to disk) as a plain GROUP BY needs.
  return sql`with todo as (${unsummarized(window)})
             insert into run_summaries (${summaryColumns})
             select t.id, a.* from todo t
             cross join lateral (
               select ${summaryAggregates} from samples x
               where x.execution_id = t.id
                 and x.ts >= t.started_at - ${SAMPLE_SLACK} and x.ts <= t.ended_at + ${SAMPLE_SLACK}
             ) a
             where a.ticks > 0
             on conflict (execution_id) do nothing
             returning execution_id`;
}

/** A declared request row as the analyzer needs it (db/queries/declared-requests.ts has the whole row). */
export interface DeclaredValueRow {
  resource: string;
  kind: string;
  value: number | null;
  scannedAt: Date;
}

/** Everything one task's analysis reads: its runs with their summaries, its commands, its declared requests. */
export interface TaskHistory {
  runs: RunSummary[];
  processes: ProcessSummary[];
  declared: DeclaredValueRow[];
}

/**
 * One task's runs in the window with their summaries (runs without samples come back with `ticks` 0),
 * the commands they started (most CPU first) and the task's declared requests: one statement, one round
 * trip. Summarize first ({@link summarizeRuns}); this reads one row per run.
 */
export async function loadTaskHistory(db: Db, key: TaskKeyRow, window: AnalysisWindow): Promise<TaskHistory> {
  const rows = await queryRows<RawRunRow & { processes: unknown; declared: unknown }>(
    db,
    taskHistoryQuery(key, window),
  );
  const first = rows[0];
  const processes = first ? (parseJson(first.processes) as Array<Record<string, unknown>>) : [];
  const declared = first ? (parseJson(first.declared) as Array<Record<string, unknown>>) : [];
  return {
    runs: rows.map(parseRun),
    processes: processes.map((row) => ({
      command: String(row.command),
      count: Number(row.count),
      cpuSeconds: Number(row.cpu_seconds),
      peakRssBytes: Number(row.peak_rss),
    })),
    declared: declared.map((row) => ({
      resource: String(row.resource),
      kind: String(row.kind),
      value: toNumber(row.value),
      scannedAt: new Date(String(row.scanned_at)),
    })),
  };
}

/** Commands listed per task: the few that explain most of its CPU. */
const PROCESSES_SHOWN = 10;

/** The statement behind {@link loadTaskHistory}, apart so that EXPLAIN can run it. */
export function taskHistoryQuery(key: TaskKeyRow, window: AnalysisWindow): SQL {
  return sql`with runs as (${runsOf(key, window)}),
             commands as (
               select coalesce(json_agg(c order by c.cpu_seconds desc, c.command), '[]'::json) as processes
               from (select p.command, count(*)::int as count, sum(p.cpu_seconds)::float8 as cpu_seconds,
                            max(p.peak_rss_bytes)::float8 as peak_rss
                     from execution_processes p join runs r on r.id = p.execution_id
                     group by p.command order by 3 desc, 1 limit ${PROCESSES_SHOWN}) c
             ),
             declared as (
               select coalesce(json_agg(d), '[]'::json) as declared
               from (select resource, kind, value, scanned_at from declared_requests
                     where orchestrator = ${key.orchestrator} and pipeline = ${key.pipeline}
                       and task = ${key.task}) d
             )
             -- The sketch as text: splitting one string is several times faster than the driver's
             -- array parser on 20 × 101 floats, which was most of this read's time.
             select r.*, h.cores as host_cores, ${runSummaryColumnsAsText}, commands.processes, declared.declared
             from runs r
             left join hosts h on h.id = r.host_id
             left join run_summaries rs on rs.execution_id = r.id
             cross join commands cross join declared
             order by r.started_at, r.id`;
}

function parseJson(value: unknown): unknown[] {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? parsed : [];
}

function parseRun(row: RawRunRow): RunSummary {
  const startedAt = toDate(row.started_at);
  const endedAt = toDate(row.ended_at);
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
    cpuP50: toNumber(row.cpu_p50),
    cpuP95: toNumber(row.cpu_p95),
    cpuMax: toNumber(row.cpu_max),
    cpuSeconds: toNumber(row.cpu_seconds),
    coresQuantiles: toNumberArray(row.cores_quantiles),
    peakRssBytes: toNumber(row.peak_rss_bytes),
    diskReadBytes: toNumber(row.disk_read_bytes),
    diskWriteBytes: toNumber(row.disk_write_bytes),
    netRxBytes: toNumber(row.net_rx_bytes),
    netTxBytes: toNumber(row.net_tx_bytes),
    onCpuSeconds: Number(row.on_cpu_seconds ?? 0),
    cpuWaitSeconds: Number(row.cpu_wait_seconds ?? 0),
    diskWaitSeconds: Number(row.disk_wait_seconds ?? 0),
    netWaitSeconds: Number(row.net_wait_seconds ?? 0),
    childWaitSeconds: Number(row.child_wait_seconds ?? 0),
    idleSeconds: Number(row.idle_seconds ?? 0),
    wall: parseWall(row),
    oomKills: Number(row.oom_kills ?? 0),
    throttledPeriods: toNumber(row.throttled_periods),
    totalPeriods: toNumber(row.total_periods),
    processesMax: toNumber(row.processes_max),
    processesStarted: toNumber(row.processes_started),
    hostLoadAvg: toNumber(row.host_load_avg),
  };
}

function parseWall(row: RawRunRow): RunSummary["wall"] {
  const onCpu = toNumber(row.wall_on_cpu_seconds);
  if (onCpu === null) return null;
  return {
    onCpuSeconds: onCpu,
    cpuWaitSeconds: toNumber(row.wall_cpu_wait_seconds) ?? 0,
    diskWaitSeconds: toNumber(row.wall_disk_wait_seconds) ?? 0,
    netWaitSeconds: toNumber(row.wall_net_wait_seconds) ?? 0,
    childWaitSeconds: toNumber(row.wall_child_wait_seconds) ?? 0,
    idleSeconds: toNumber(row.wall_idle_seconds) ?? 0,
  };
}
