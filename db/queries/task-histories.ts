/**
 * The night's read: a batch of tasks' histories (each run with its summary, the commands, the declared
 * requests) in three set-based statements, whatever the batch's size. Runs are summarized beforehand
 * (db/queries/analysis.ts), so the night reads one summary row per run and never a sample, and the
 * analyzing process's memory grows with the batch, not with the window.
 */
import { type SQL, sql } from "drizzle-orm";
import { type TaskKey, taskKeyString } from "../../common/task-key.js";
import { type Db, queryRows } from "../client.js";
import type { AnalysisWindow } from "./analysis.js";
import { runCommandsRelation } from "./execution-commands.js";
import { float8ArrayFromBinary, numberColumns } from "./float8-binary.js";

/** Seconds per thread state, summed over a run's samples. */
export interface StateSeconds {
  onCpuSeconds: number;
  cpuWaitSeconds: number;
  diskWaitSeconds: number;
  netWaitSeconds: number;
  childWaitSeconds: number;
  idleSeconds: number;
}

/**
 * One execution of a task with its samples summarized. Measures are null when never sampled; its
 * thread-time seconds per state (every thread counted) are the {@link StateSeconds} fields.
 */
export interface RunSummary extends StateSeconds {
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
  /** Per-second cores at the 0, 1, …, 100th percentile (db/queries/analysis.ts SKETCH_POINTS); null when unsampled. */
  coresQuantiles: number[] | null;
  peakRssBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
  netRxBytes: number | null;
  netTxBytes: number | null;
  /**
   * Wall-clock seconds per state (collector/tracking/thread-state.ts wallClockSplit), summed over samples; null
   * for runs sampled before the collector recorded them.
   */
  wall: StateSeconds | null;
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
 * A run's numbers, in the order the runs statement packs them into one float8[] ({@link runNumbers}),
 * each with where it comes from: `r` is the run, `h` its host, `rs` its summary (all null for a run
 * without one).
 */
const runNumberSources = {
  tryNumber: "r.try_number",
  hostCores: "h.cores",
  // Whole milliseconds, as a Date holds them: exact in a float8 (below 2^53).
  startedAtMs: "floor(extract(epoch from r.started_at) * 1000)",
  endedAtMs: "floor(extract(epoch from r.ended_at) * 1000)",
  exitCode: "r.exit_code",
  requestCpuCores: "r.request_cpu_cores",
  limitCpuCores: "r.limit_cpu_cores",
  requestMemoryBytes: "r.request_memory_bytes",
  limitMemoryBytes: "r.limit_memory_bytes",
  ticks: "rs.ticks",
  sampledSeconds: "rs.sampled_seconds",
  cpuP50: "rs.cpu_p50",
  cpuP95: "rs.cpu_p95",
  cpuMax: "rs.cpu_max",
  cpuSeconds: "rs.cpu_seconds",
  peakRssBytes: "rs.peak_rss_bytes",
  diskReadBytes: "rs.disk_read_bytes",
  diskWriteBytes: "rs.disk_write_bytes",
  netRxBytes: "rs.net_rx_bytes",
  netTxBytes: "rs.net_tx_bytes",
  onCpuSeconds: "rs.on_cpu_seconds",
  cpuWaitSeconds: "rs.cpu_wait_seconds",
  diskWaitSeconds: "rs.disk_wait_seconds",
  netWaitSeconds: "rs.net_wait_seconds",
  childWaitSeconds: "rs.child_wait_seconds",
  idleSeconds: "rs.idle_seconds",
  wallOnCpuSeconds: "rs.wall_on_cpu_seconds",
  wallCpuWaitSeconds: "rs.wall_cpu_wait_seconds",
  wallDiskWaitSeconds: "rs.wall_disk_wait_seconds",
  wallNetWaitSeconds: "rs.wall_net_wait_seconds",
  wallChildWaitSeconds: "rs.wall_child_wait_seconds",
  wallIdleSeconds: "rs.wall_idle_seconds",
  oomKills: "rs.oom_kills",
  throttledPeriods: "rs.throttled_periods",
  totalPeriods: "rs.total_periods",
  processesMax: "rs.processes_max",
  processesStarted: "rs.processes_started",
  hostLoadAvg: "rs.host_load_avg",
} as const;
const runColumns = numberColumns(runNumberSources);

/**
 * A run's numbers as one binary float8[] column: the driver parses one value per run instead of forty
 * text columns, and no number is formatted as text by the server nor parsed back here (the per-value
 * work and the garbage it left were a large part of the edge night's read; BENCHMARKS.md "analysis").
 */
const runNumbers = sql.raw(`array_send(array[${runColumns.list}]::float8[]) as numbers`);

/** The runs statement's row: the run's text columns, its numbers and its cores sketch, both binary. */
interface RawRunRow extends Record<string, unknown> {
  id: string;
  orchestrator: string;
  pipeline: string;
  task: string;
  run_id: string;
  host_id: string;
  status: string;
  cpu_source: string | null;
  memory_source: string | null;
  endpoints: unknown;
  numbers: Uint8Array | string;
  cores_quantiles: Uint8Array | string | null;
}

const toNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/** A run's cores sketch: its values, or null when unsampled or when any point is missing. */
function sketchOf(value: Uint8Array | string | null): number[] | null {
  const values = float8ArrayFromBinary(value);
  return values === null || values.includes(null) ? null : (values as number[]);
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

/** The batch's keys as a relation `k(orchestrator, pipeline, task)`: one parameter, any number of keys. */
function keysRelation(keys: TaskKey[]): SQL {
  const json = JSON.stringify(
    keys.map((key) => ({ orchestrator: key.orchestrator, pipeline: key.pipeline, task: key.task })),
  );
  return sql`select * from json_to_recordset(${json}::json) as k(orchestrator text, pipeline text, task text)`;
}

/**
 * The batch's runs in the window, each task's `maxRuns` latest: per task key, a backward scan of
 * task_executions_task_started that stops after `maxRuns` rows, rather than ranking every run of the
 * batch in one sort and window.
 */
function batchRuns(window: AnalysisWindow): SQL {
  return sql`select k.orchestrator, k.pipeline, k.task, e.*
             from keys k
             cross join lateral (
               select e.id, e.run_id, e.try_number, e.host_id, e.started_at, e.ended_at, e.exit_code, e.status,
                      e.request_cpu_cores, e.limit_cpu_cores, e.cpu_source, e.request_memory_bytes,
                      e.limit_memory_bytes, e.memory_source, e.endpoints
               from task_executions e
               where e.orchestrator = k.orchestrator and e.pipeline = k.pipeline and e.task = k.task
                 and e.ended_at is not null
                 and e.started_at >= ${window.start.toISOString()}::timestamptz
                 and e.ended_at <= ${window.end.toISOString()}::timestamptz
               order by e.started_at desc, e.id
               limit ${window.maxRuns}
             ) e`;
}

/**
 * A batch of tasks' histories in three set-based statements (runs with their summaries, commands,
 * declared requests), whatever the batch's size: the night's reads cost a few round trips per batch, not
 * one per task. Tasks without a finished run in the window are absent from the result.
 */
export async function loadTaskHistories(
  db: Db,
  keys: TaskKey[],
  window: AnalysisWindow,
): Promise<Map<string, TaskHistory>> {
  const histories = new Map<string, TaskHistory>();
  if (keys.length === 0) return histories;
  const [runRows, processRows, declaredRows] = await Promise.all([
    queryRows<RawRunRow & TaskKey>(db, batchRunsQuery(keys, window)),
    queryRows<
      TaskKey &
        Record<string, unknown> & { command: string; count: number; cpu_seconds: number; peak_rss: number }
    >(
      db,
      // Each run's CPU per command is a float sum already: the task's sum adds them in one order, so the
      // same runs give the same bits whatever plan the batch gets (inline and queued nights agree).
      sql`with keys as (${keysRelation(keys)}), runs as (${batchRuns(window)})
          select orchestrator, pipeline, task, command, count, cpu_seconds, peak_rss from (
            select r.orchestrator, r.pipeline, r.task, p.command, sum(p.count)::int as count,
                   sum(p.cpu_seconds order by p.execution_id)::float8 as cpu_seconds,
                   max(p.peak_rss)::float8 as peak_rss,
                   row_number() over (partition by r.orchestrator, r.pipeline, r.task
                                      order by sum(p.cpu_seconds order by p.execution_id) desc, p.command)
                     as rank
            from runs r join (${runCommandsRelation(sql`select id from runs`)}) p on p.execution_id = r.id
            group by r.orchestrator, r.pipeline, r.task, p.command
          ) c where rank <= ${PROCESSES_SHOWN}
          order by orchestrator, pipeline, task, rank`,
    ),
    queryRows<
      TaskKey &
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
    const id = taskKeyString(row);
    let history = histories.get(id);
    if (!history) {
      history = { runs: [], processes: [], declared: [] };
      histories.set(id, history);
    }
    history.runs.push(parseRun(row));
  }
  for (const row of processRows) {
    histories.get(taskKeyString(row))?.processes.push({
      command: String(row.command),
      count: Number(row.count),
      cpuSeconds: Number(row.cpu_seconds),
      peakRssBytes: Number(row.peak_rss),
    });
  }
  for (const row of declaredRows) {
    histories.get(taskKeyString(row))?.declared.push({
      resource: String(row.resource),
      kind: String(row.kind),
      value: toNumber(row.value),
      scannedAt: toDate(row.scanned_at),
    });
  }
  return histories;
}

/** One task's history: {@link loadTaskHistories} for a batch of one. */
export async function loadTaskHistory(db: Db, key: TaskKey, window: AnalysisWindow): Promise<TaskHistory> {
  return (
    (await loadTaskHistories(db, [key], window)).get(taskKeyString(key)) ?? {
      runs: [],
      processes: [],
      declared: [],
    }
  );
}

/**
 * The runs statement of {@link loadTaskHistories}, apart so that EXPLAIN can run it. Unordered: the rows
 * are grouped per task in a map and buildTaskAnalysis orders each task's runs, and a final sort of the
 * batch's wide rows spilled to disk (BENCHMARKS.md "analysis").
 */
export function batchRunsQuery(keys: TaskKey[], window: AnalysisWindow): SQL {
  return sql`with keys as (${keysRelation(keys)}), runs as (${batchRuns(window)})
             select r.orchestrator, r.pipeline, r.task, r.id, r.run_id, r.host_id, r.status, r.cpu_source,
                    r.memory_source, r.endpoints, ${runNumbers},
                    array_send(rs.cores_quantiles) as cores_quantiles
             from runs r
             left join hosts h on h.id = r.host_id
             left join run_summaries rs on rs.execution_id = r.id`;
}

function parseRun(row: RawRunRow): RunSummary {
  const numbers = float8ArrayFromBinary(row.numbers) ?? [];
  const value = runColumns.reader(numbers);
  const count = (name: keyof typeof runNumberSources): number => value(name) ?? 0;
  const startedAt = new Date(count("startedAtMs"));
  const endedAt = new Date(count("endedAtMs"));
  const wallOnCpu = value("wallOnCpuSeconds");
  return {
    executionId: row.id,
    runId: row.run_id,
    tryNumber: count("tryNumber"),
    hostId: row.host_id,
    hostCores: value("hostCores"),
    startedAt,
    endedAt,
    durationSeconds: Math.max(0, (endedAt.getTime() - startedAt.getTime()) / 1000),
    exitCode: value("exitCode"),
    status: row.status,
    requestCpuCores: value("requestCpuCores"),
    limitCpuCores: value("limitCpuCores"),
    cpuSource: row.cpu_source,
    requestMemoryBytes: value("requestMemoryBytes"),
    limitMemoryBytes: value("limitMemoryBytes"),
    memorySource: row.memory_source,
    endpoints: parseEndpoints(row.endpoints),
    ticks: count("ticks"),
    sampledSeconds: count("sampledSeconds"),
    cpuP50: value("cpuP50"),
    cpuP95: value("cpuP95"),
    cpuMax: value("cpuMax"),
    cpuSeconds: value("cpuSeconds"),
    coresQuantiles: sketchOf(row.cores_quantiles),
    peakRssBytes: value("peakRssBytes"),
    diskReadBytes: value("diskReadBytes"),
    diskWriteBytes: value("diskWriteBytes"),
    netRxBytes: value("netRxBytes"),
    netTxBytes: value("netTxBytes"),
    onCpuSeconds: count("onCpuSeconds"),
    cpuWaitSeconds: count("cpuWaitSeconds"),
    diskWaitSeconds: count("diskWaitSeconds"),
    netWaitSeconds: count("netWaitSeconds"),
    childWaitSeconds: count("childWaitSeconds"),
    idleSeconds: count("idleSeconds"),
    // Wall-clock seconds: null for runs sampled before the collector recorded them.
    wall:
      wallOnCpu === null
        ? null
        : {
            onCpuSeconds: wallOnCpu,
            cpuWaitSeconds: count("wallCpuWaitSeconds"),
            diskWaitSeconds: count("wallDiskWaitSeconds"),
            netWaitSeconds: count("wallNetWaitSeconds"),
            childWaitSeconds: count("wallChildWaitSeconds"),
            idleSeconds: count("wallIdleSeconds"),
          },
    oomKills: count("oomKills"),
    throttledPeriods: value("throttledPeriods"),
    totalPeriods: value("totalPeriods"),
    processesMax: value("processesMax"),
    processesStarted: value("processesStarted"),
    hostLoadAvg: value("hostLoadAvg"),
  };
}
