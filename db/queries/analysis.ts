/**
 * The analyzer's read side. Each finished execution's samples are summarized once inside the database
 * (run_summaries): by the collector's writer right after it wrote the run's last rows
 * ({@link summarizeExecutions}), or by the catch-up ({@link summarizeRuns}) for a run whose collector died
 * or whose rows came from a replayed spool. The night then reads one summary row per run, a batch of tasks
 * per statement ({@link loadTaskHistories}), so the analyzing process never holds samples and its memory
 * grows with the batch, not with the window.
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

/**
 * Why a window may hold no task: all executions recorded, those still running, those that ended after
 * the window's end, and those that started before its start.
 */
export async function countWindowExecutions(
  db: Db,
  window: AnalysisWindow,
): Promise<{ total: number; running: number; endedAfter: number; before: number }> {
  const start = sql`${window.start.toISOString()}::timestamptz`;
  const end = sql`${window.end.toISOString()}::timestamptz`;
  const [row] = await queryRows<{ total: number; running: number; ended_after: number; before: number }>(
    db,
    sql`select count(*)::int as total,
               count(*) filter (where ended_at is null)::int as running,
               count(*) filter (where ended_at > ${end})::int as ended_after,
               count(*) filter (where started_at < ${start} and ended_at <= ${end})::int as before
        from task_executions`,
  );
  return {
    total: Number(row?.total ?? 0),
    running: Number(row?.running ?? 0),
    endedAfter: Number(row?.ended_after ?? 0),
    before: Number(row?.before ?? 0),
  };
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
  cores_quantiles: Uint8Array | string | null;
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
  wall_on_cpu_seconds: number | null;
  wall_cpu_wait_seconds: number | null;
  wall_disk_wait_seconds: number | null;
  wall_net_wait_seconds: number | null;
  wall_child_wait_seconds: number | null;
  wall_idle_seconds: number | null;
  oom_kills: number | null;
  throttled_periods: number | null;
  total_periods: number | null;
  processes_max: number | null;
  processes_started: number | null;
  host_load_avg: number | null;
}

const toNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/**
 * A float8[] in its binary form, as `array_send` gives it (what {@link batchRunsQuery} selects): no float is
 * formatted as text by the server nor parsed back here, which were most of the night's read before (two
 * per-run sketches of 101 floats each way; BENCHMARKS.md "analysis"). The layout is Postgres' array_send
 * (src/backend/utils/adt/arrayfuncs.c): int4 dimensions, int4 has-nulls flag, oid element type, then per
 * dimension int4 length and int4 lower bound; then per element an int4 byte length (-1: null) and the
 * value (float8send: IEEE 754, big-endian). postgres.js hands bytea over as a Buffer, PGlite as a
 * Uint8Array; a driver that left it as `\x…` hex text is read too.
 */
export function float8ArrayFromBinary(value: Uint8Array | string | null): number[] | null {
  if (value === null) return null;
  const bytes = typeof value === "string" ? Buffer.from(value.replace(/^\\x/, ""), "hex") : value;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dimensions = view.getInt32(0);
  if (dimensions === 0) return [];
  if (dimensions !== 1) throw new Error(`a run's cores sketch has ${dimensions} dimensions, not 1`);
  const length = view.getInt32(12);
  const values = new Array<number>(length);
  let offset = 20;
  for (let index = 0; index < length; index++) {
    const size = view.getInt32(offset);
    if (size !== 8) throw new Error(`a run's cores sketch holds a null or a non-float8 at ${index}`);
    values[index] = view.getFloat64(offset + 4);
    offset += 12;
  }
  return values;
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
  -- Wall-clock split: null (unknown) when no sample carries it, as for runs sampled before it existed.
  sum(x.wall_on_cpu_seconds)::float8,
  sum(x.wall_cpu_wait_seconds)::float8,
  sum(x.wall_disk_wait_seconds)::float8,
  sum(x.wall_net_wait_seconds)::float8,
  sum(x.wall_child_wait_seconds)::float8,
  sum(x.wall_idle_seconds)::float8,
  coalesce(sum(x.oom_kills), 0)::int,
  sum(x.throttled_periods)::float8,
  sum(x.total_periods)::float8,
  max(x.processes_alive)::int,
  sum(x.processes_started)::int,
  avg(x.host_load1)::float8`;

/** run_summaries' measure columns, in the order of {@link summaryAggregates}. */
const measureColumnNames = `ticks, sampled_seconds, cpu_p50, cpu_p95, cpu_max, cpu_seconds,
  cores_quantiles, peak_rss_bytes, disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes,
  on_cpu_seconds, cpu_wait_seconds, disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds,
  wall_on_cpu_seconds, wall_cpu_wait_seconds, wall_disk_wait_seconds, wall_net_wait_seconds,
  wall_child_wait_seconds, wall_idle_seconds,
  oom_kills, throttled_periods, total_periods, processes_max, processes_started, host_load_avg`;
const summaryColumns = sql.raw(`execution_id, ${measureColumnNames}`);
/** `(a, b, …) = (excluded.a, excluded.b, …)`: a summary made again replaces the old one. */
const replaceMeasures = sql.raw(
  `(${measureColumnNames}, computed_at) = (${measureColumnNames
    .split(",")
    .map((name) => `excluded.${name.trim()}`)
    .join(", ")}, now())`,
);

/** run_summaries' columns for reading, with the sketch in binary ({@link float8ArrayFromBinary}). */
const runSummaryColumnsAsText = sql.raw(
  `rs.ticks, rs.sampled_seconds, rs.cpu_p50, rs.cpu_p95, rs.cpu_max, rs.cpu_seconds,
   array_send(rs.cores_quantiles) as cores_quantiles, rs.peak_rss_bytes, rs.disk_read_bytes, rs.disk_write_bytes,
   rs.net_rx_bytes, rs.net_tx_bytes, rs.on_cpu_seconds, rs.cpu_wait_seconds, rs.disk_wait_seconds,
   rs.net_wait_seconds, rs.child_wait_seconds, rs.idle_seconds, rs.wall_on_cpu_seconds,
   rs.wall_cpu_wait_seconds, rs.wall_disk_wait_seconds, rs.wall_net_wait_seconds, rs.wall_child_wait_seconds,
   rs.wall_idle_seconds, rs.oom_kills, rs.throttled_periods,
   rs.total_periods, rs.processes_max, rs.processes_started, rs.host_load_avg`,
);

/**
 * The aggregates of one execution's samples, as a LATERAL subquery over the execution aliased `e`: its
 * samples come from a primary-key range in the one or two partitions its span covers (run-time pruning)
 * and are aggregated on their own, so there is no sort of the whole window by execution (which spills
 * to disk) as a plain GROUP BY needs.
 */
const runAggregates = sql`cross join lateral (
  select ${summaryAggregates} from samples x
  where x.execution_id = e.id
    and x.ts >= e.started_at - ${SAMPLE_SLACK} and x.ts <= e.ended_at + ${SAMPLE_SLACK}
) a`;

/** `in (…)` of uuid parameters. */
function idList(ids: string[]): SQL {
  return sql`(${sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  )})`;
}

/**
 * Summarizes the given executions that have ended and have samples, from their samples: what the
 * collector's writer calls once it has written an ended execution's last rows, so each run is summarized
 * when it ends and the night reads summaries. A summary made again (a batch replayed from the spool)
 * replaces the old one with what the samples now say. Returns the ids summarized.
 */
export async function summarizeExecutions(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await queryRows<{ execution_id: string }>(db, summarizeExecutionsQuery(ids, "replace"));
  return rows.map((row) => row.execution_id);
}

/** The statement behind {@link summarizeExecutions}, apart so that tests and EXPLAIN can run it. */
export function summarizeExecutionsQuery(ids: string[], conflict: "replace" | "keep"): SQL {
  return sql`insert into run_summaries (${summaryColumns})
             select e.id, a.* from task_executions e ${runAggregates}
             where e.id in ${idList(ids)} and e.ended_at is not null and a.ticks > 0
             on conflict (execution_id) do ${conflict === "replace" ? sql`update set ${replaceMeasures}` : sql`nothing`}
             returning execution_id`;
}

/** What the catch-up looks at: executions that ended in `[endedFrom, endedBy]`. */
export interface CatchUpSpan {
  endedFrom: Date;
  endedBy: Date;
}

/** Ids of finished executions in the span that have no summary yet, oldest first. */
export async function listUnsummarized(db: Db, span: CatchUpSpan): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`select e.id from task_executions e
        where e.ended_at is not null
          and e.ended_at >= ${span.endedFrom.toISOString()}::timestamptz
          and e.ended_at <= ${span.endedBy.toISOString()}::timestamptz
          and not exists (select 1 from run_summaries r where r.execution_id = e.id)
        order by e.ended_at, e.id`,
  );
  return rows.map((row) => row.id);
}

/**
 * Executions per catch-up statement: small enough that two statements share the two cores of a small
 * database host (percentile_cont is not parallel-safe, so one statement keeps to one core), large enough
 * that the statement overhead vanishes (bench/analysis.bench.ts, BENCHMARKS.md "analysis").
 */
export const CATCH_UP_BATCH = 500;

/**
 * The catch-up: summarizes every finished execution in the span that still has no summary (its
 * collector died before writing it, or its rows came from a replayed spool), `lanes` statements at a time.
 * Executions without samples get none, so samples that arrive later are still seen. Returns how many
 * were summarized.
 */
export async function summarizeRuns(db: Db, span: CatchUpSpan, lanes = 2): Promise<number> {
  const ids = await listUnsummarized(db, span);
  let next = 0;
  let summarized = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, lanes) }, async () => {
      while (next < ids.length) {
        const batch = ids.slice(next, next + CATCH_UP_BATCH);
        next += CATCH_UP_BATCH;
        summarized += await db.transaction(async (tx) => {
          // JIT would compile three dozen aggregates for a statement that spends its time in index probes
          // and small sorts: compiling costs more than it saves (bench/analysis.bench.ts, 1 M samples).
          await tx.execute(sql`set local jit = off`);
          const rows = await queryRows<{ execution_id: string }>(
            tx as unknown as Db,
            summarizeExecutionsQuery(batch, "keep"),
          );
          return rows.length;
        });
      }
    }),
  );
  return summarized;
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

/** Commands listed per task: the few that explain most of its CPU. */
const PROCESSES_SHOWN = 10;

export function taskKeyText(key: TaskKeyRow): string {
  return `${key.orchestrator}\u0000${key.pipeline}\u0000${key.task}`;
}

/** The batch's keys as a relation `k(orchestrator, pipeline, task)`: one parameter, any number of keys. */
function keysRelation(keys: TaskKeyRow[]): SQL {
  const json = JSON.stringify(
    keys.map((key) => ({ orchestrator: key.orchestrator, pipeline: key.pipeline, task: key.task })),
  );
  return sql`select * from json_to_recordset(${json}::json) as k(orchestrator text, pipeline text, task text)`;
}

/** The batch's runs in the window, each task's `maxRuns` latest. */
function batchRuns(window: AnalysisWindow): SQL {
  return sql`select * from (
               select e.id, e.orchestrator, e.pipeline, e.task, e.run_id, e.try_number, e.host_id, e.started_at,
                      e.ended_at, e.exit_code, e.status, e.request_cpu_cores, e.limit_cpu_cores, e.cpu_source,
                      e.request_memory_bytes, e.limit_memory_bytes, e.memory_source, e.endpoints,
                      row_number() over (partition by e.orchestrator, e.pipeline, e.task
                                         order by e.started_at desc, e.id) as recency
               from keys k
               join task_executions e
                 on e.orchestrator = k.orchestrator and e.pipeline = k.pipeline and e.task = k.task
               where e.ended_at is not null
                 and e.started_at >= ${window.start.toISOString()}::timestamptz
                 and e.ended_at <= ${window.end.toISOString()}::timestamptz
             ) ranked where recency <= ${window.maxRuns}`;
}

/**
 * A batch of tasks' histories in three set-based statements (runs with their summaries, commands,
 * declared requests), whatever the batch's size: the night's reads cost a few round trips per batch, not
 * one per task. Tasks without a finished run in the window are absent from the result.
 */
export async function loadTaskHistories(
  db: Db,
  keys: TaskKeyRow[],
  window: AnalysisWindow,
): Promise<Map<string, TaskHistory>> {
  const histories = new Map<string, TaskHistory>();
  if (keys.length === 0) return histories;
  const [runRows, processRows, declaredRows] = await Promise.all([
    queryRows<RawRunRow & TaskKeyRow>(db, batchRunsQuery(keys, window)),
    queryRows<
      TaskKeyRow &
        Record<string, unknown> & { command: string; count: number; cpu_seconds: number; peak_rss: number }
    >(
      db,
      sql`with keys as (${keysRelation(keys)}), runs as (${batchRuns(window)})
          select orchestrator, pipeline, task, command, count, cpu_seconds, peak_rss from (
            select r.orchestrator, r.pipeline, r.task, p.command, count(*)::int as count,
                   sum(p.cpu_seconds)::float8 as cpu_seconds, max(p.peak_rss_bytes)::float8 as peak_rss,
                   row_number() over (partition by r.orchestrator, r.pipeline, r.task
                                      order by sum(p.cpu_seconds) desc, p.command) as rank
            from runs r join execution_processes p on p.execution_id = r.id
            group by r.orchestrator, r.pipeline, r.task, p.command
          ) c where rank <= ${PROCESSES_SHOWN}
          order by orchestrator, pipeline, task, rank`,
    ),
    queryRows<
      TaskKeyRow &
        Record<string, unknown> & {
          resource: string;
          kind: string;
          value: number | null;
          scanned_at: Date | string;
        }
    >(
      db,
      sql`with keys as (${keysRelation(keys)})
          select d.orchestrator, d.pipeline, d.task, d.resource, d.kind, d.value, d.scanned_at
          from keys k join declared_requests d
            on d.orchestrator = k.orchestrator and d.pipeline = k.pipeline and d.task = k.task
          order by d.id`,
    ),
  ]);
  for (const row of runRows) {
    const id = taskKeyText(row);
    let history = histories.get(id);
    if (!history) {
      history = { runs: [], processes: [], declared: [] };
      histories.set(id, history);
    }
    history.runs.push(parseRun(row));
  }
  for (const row of processRows) {
    histories.get(taskKeyText(row))?.processes.push({
      command: String(row.command),
      count: Number(row.count),
      cpuSeconds: Number(row.cpu_seconds),
      peakRssBytes: Number(row.peak_rss),
    });
  }
  for (const row of declaredRows) {
    histories.get(taskKeyText(row))?.declared.push({
      resource: String(row.resource),
      kind: String(row.kind),
      value: toNumber(row.value),
      scannedAt: toDate(row.scanned_at),
    });
  }
  return histories;
}

/** One task's history: {@link loadTaskHistories} for a batch of one. */
export async function loadTaskHistory(db: Db, key: TaskKeyRow, window: AnalysisWindow): Promise<TaskHistory> {
  return (
    (await loadTaskHistories(db, [key], window)).get(taskKeyText(key)) ?? {
      runs: [],
      processes: [],
      declared: [],
    }
  );
}

/** The runs statement of {@link loadTaskHistories}, apart so that EXPLAIN can run it. */
export function batchRunsQuery(keys: TaskKeyRow[], window: AnalysisWindow): SQL {
  return sql`with keys as (${keysRelation(keys)}), runs as (${batchRuns(window)})
             select r.*, h.cores as host_cores, ${runSummaryColumnsAsText}
             from runs r
             left join hosts h on h.id = r.host_id
             left join run_summaries rs on rs.execution_id = r.id
             order by r.orchestrator, r.pipeline, r.task, r.started_at, r.id`;
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
    coresQuantiles: float8ArrayFromBinary(row.cores_quantiles),
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
