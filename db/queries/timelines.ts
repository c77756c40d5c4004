/**
 * Run timelines for the report: for every task in a window, its latest finished execution and its worst
 * one (highest peak memory, then longest), each with its samples cut into a fixed number of time buckets
 * inside the database. One statement for all tasks, so a report of 1,000 tasks reads 2,000 short rows,
 * never the samples themselves, and never a query per task.
 *
 * Downsampling is min/max/mean bucketing (the "M4" family: Jugel et al., "M4: A Visualization-Oriented
 * Time Series Data Aggregation", PVLDB 7(10), 2014): each bucket keeps the highest cores and memory seen in
 * it, so a one-second peak in a 10-hour run stays visible however few pixels the run gets.
 */
import { type SQL, sql } from "drizzle-orm";
import { taskKeyString } from "../../common/task-key.js";
import { type Db, queryRows } from "../client.js";
import type { AnalysisWindow } from "./analysis.js";

/** Seconds per wall-clock state in one bucket (they add up to the bucket's sampled seconds). */
export interface StateSeconds {
  cpu: number;
  cpuWait: number;
  diskWait: number;
  networkWait: number;
  childWait: number;
  idle: number;
}

export interface TimelineBucket {
  /** 0-based position among the timeline's `bucketCount` buckets; buckets without samples are absent. */
  index: number;
  ticks: number;
  /** Σ interval_seconds of the bucket's samples. */
  seconds: number;
  cpuMin: number | null;
  cpuMax: number | null;
  /** Interval-weighted mean cores. */
  cpuMean: number | null;
  rssMax: number | null;
  states: StateSeconds;
}

/** One execution's timeline. */
export interface RunTimeline {
  executionId: string;
  orchestrator: string;
  pipeline: string;
  task: string;
  runId: string;
  tryNumber: number;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  /** The task's most recent finished execution in the window. */
  latest: boolean;
  /** The task's execution with the highest peak memory (then the longest) in the window. */
  worst: boolean;
  bucketCount: number;
  requestCores: number | null;
  limitCores: number | null;
  requestBytes: number | null;
  limitBytes: number | null;
  /** The remote endpoint the run waited on longest, when the collector saw one. */
  topEndpoint: string | null;
  /**
   * Samples whose wall-clock columns were null (written before the collector filled them): their split
   * comes from the thread-time columns, normalised per tick to the tick's interval.
   */
  threadTimeTicks: number;
  buckets: TimelineBucket[];
}

/** Buckets per timeline: 40 × 12 px fills the report's 480 px chart (reports/charts.ts). */
export const TIMELINE_BUCKETS = 40;

/**
 * Samples of a run lie within its span, give or take a clock a little off (the same slack as
 * db/queries/analysis.ts); those outside the span count into its first or last bucket.
 */
const SAMPLE_SLACK = sql.raw("interval '1 hour'");

/** One state's seconds in a tick: the wall-clock column, else the thread-time column's share of the tick. */
function stateSeconds(wall: string, thread: string): SQL {
  const threadTotal = sql.raw(
    "(coalesce(x.on_cpu_seconds,0) + coalesce(x.cpu_wait_seconds,0) + coalesce(x.disk_wait_seconds,0)" +
      " + coalesce(x.net_wait_seconds,0) + coalesce(x.child_wait_seconds,0) + coalesce(x.idle_seconds,0))",
  );
  return sql`sum(coalesce(x.${sql.raw(wall)},
                 coalesce(x.${sql.raw(thread)}, 0) / nullif(${threadTotal}, 0) * x.interval_seconds, 0))::float8`;
}

/** The statement behind {@link loadTimelines}, apart so that EXPLAIN can run it. */
export function timelinesQuery(window: Omit<AnalysisWindow, "maxRuns">, buckets: number): SQL {
  const start = window.start.toISOString();
  const end = window.end.toISOString();
  // The same runs the analysis reads (db/queries/analysis.ts runsOf): finished, started in the window.
  return sql`with runs as (
               select e.id, e.orchestrator, e.pipeline, e.task, e.run_id, e.try_number, e.started_at, e.ended_at,
                      e.request_cpu_cores, e.limit_cpu_cores, e.request_memory_bytes, e.limit_memory_bytes,
                      e.endpoints,
                      row_number() over (partition by e.orchestrator, e.pipeline, e.task
                                         order by e.started_at desc, e.id) as latest_rank,
                      row_number() over (partition by e.orchestrator, e.pipeline, e.task
                                         order by r.peak_rss_bytes desc nulls last,
                                                  e.ended_at - e.started_at desc, e.started_at desc, e.id) as worst_rank
               from task_executions e
               left join run_summaries r on r.execution_id = e.id
               where e.ended_at is not null
                 and e.started_at >= ${start}::timestamptz
                 and e.ended_at <= ${end}::timestamptz
             ),
             chosen as (
               select *,
                      extract(epoch from started_at)::float8 as t0,
                      greatest(extract(epoch from ended_at)::float8, extract(epoch from started_at)::float8 + 1) as t1,
                      -- A run shorter than the bucket count gets one bucket per second, not empty ones.
                      least(${buckets}, greatest(1, ceil(extract(epoch from ended_at - started_at))::int)) as n
               from runs where latest_rank = 1 or worst_rank = 1
             )
             select c.id, c.orchestrator, c.pipeline, c.task, c.run_id, c.try_number, c.started_at, c.ended_at,
                    c.request_cpu_cores, c.limit_cpu_cores, c.request_memory_bytes, c.limit_memory_bytes,
                    c.endpoints, c.latest_rank = 1 as latest, c.worst_rank = 1 as worst, c.n,
                    coalesce(b.buckets, '[]'::json) as buckets
             from chosen c
             cross join lateral (
               select json_agg(json_build_array(g.bucket - 1, g.ticks, g.seconds, g.cpu_min, g.cpu_max, g.cpu_mean,
                                                g.rss_max, g.s_cpu, g.s_cpu_wait, g.s_disk, g.s_net, g.s_child,
                                                g.s_idle, g.thread_ticks) order by g.bucket) as buckets
               from (
                 -- width_bucket puts values at the upper bound in bucket n+1 and before t0 in 0: clamp both.
                 select least(c.n, greatest(1, width_bucket(extract(epoch from x.ts)::float8, c.t0, c.t1, c.n))) as bucket,
                        count(*)::int as ticks,
                        sum(x.interval_seconds)::float8 as seconds,
                        min(x.cpu_cores)::float8 as cpu_min,
                        max(x.cpu_cores)::float8 as cpu_max,
                        (sum(x.cpu_cores * x.interval_seconds)
                           / nullif(sum(x.interval_seconds) filter (where x.cpu_cores is not null), 0))::float8 as cpu_mean,
                        max(x.rss_bytes)::float8 as rss_max,
                        ${stateSeconds("wall_on_cpu_seconds", "on_cpu_seconds")} as s_cpu,
                        ${stateSeconds("wall_cpu_wait_seconds", "cpu_wait_seconds")} as s_cpu_wait,
                        ${stateSeconds("wall_disk_wait_seconds", "disk_wait_seconds")} as s_disk,
                        ${stateSeconds("wall_net_wait_seconds", "net_wait_seconds")} as s_net,
                        ${stateSeconds("wall_child_wait_seconds", "child_wait_seconds")} as s_child,
                        ${stateSeconds("wall_idle_seconds", "idle_seconds")} as s_idle,
                        (count(*) filter (where x.wall_on_cpu_seconds is null))::int as thread_ticks
                 from samples x
                 where x.execution_id = c.id
                   and x.ts >= c.started_at - ${SAMPLE_SLACK} and x.ts <= c.ended_at + ${SAMPLE_SLACK}
                 group by 1
               ) g
             ) b
             order by c.orchestrator, c.pipeline, c.task, c.started_at desc, c.id`;
}

interface RawTimelineRow extends Record<string, unknown> {
  id: string;
  orchestrator: string;
  pipeline: string;
  task: string;
  run_id: string;
  try_number: number;
  started_at: Date | string;
  ended_at: Date | string;
  request_cpu_cores: number | string | null;
  limit_cpu_cores: number | string | null;
  request_memory_bytes: number | string | null;
  limit_memory_bytes: number | string | null;
  endpoints: unknown;
  latest: boolean;
  worst: boolean;
  n: number;
  buckets: unknown;
}

const toNumber = (value: unknown): number | null => {
  if (value === null || value === undefined) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
};
const toIso = (value: Date | string) => (value instanceof Date ? value : new Date(value)).toISOString();

function topEndpointOf(value: unknown): string | null {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(parsed)) return null;
  let best: { endpoint: string; waitSeconds: number } | null = null;
  for (const entry of parsed as Array<Record<string, unknown>>) {
    const endpoint = entry?.endpoint;
    const waitSeconds = Number(entry?.waitSeconds);
    if (typeof endpoint !== "string" || !Number.isFinite(waitSeconds)) continue;
    if (!best || waitSeconds > best.waitSeconds) best = { endpoint, waitSeconds };
  }
  return best?.endpoint ?? null;
}

function parseBuckets(value: unknown): { buckets: TimelineBucket[]; threadTimeTicks: number } {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  const buckets: TimelineBucket[] = [];
  let threadTimeTicks = 0;
  for (const raw of Array.isArray(parsed) ? (parsed as unknown[][]) : []) {
    const at = (index: number) => toNumber(raw[index]);
    threadTimeTicks += at(13) ?? 0;
    buckets.push({
      index: at(0) ?? 0,
      ticks: at(1) ?? 0,
      seconds: at(2) ?? 0,
      cpuMin: at(3),
      cpuMax: at(4),
      cpuMean: at(5),
      rssMax: at(6),
      states: {
        cpu: at(7) ?? 0,
        cpuWait: at(8) ?? 0,
        diskWait: at(9) ?? 0,
        networkWait: at(10) ?? 0,
        childWait: at(11) ?? 0,
        idle: at(12) ?? 0,
      },
    });
  }
  return { buckets, threadTimeTicks };
}

/**
 * Timelines of every task's latest and worst execution in the window, keyed by task key
 * (`orchestrator/pipeline/task`, `taskKeyString`), latest first. An execution that is both comes once
 * with both flags set.
 */
export async function loadTimelines(
  db: Db,
  window: Omit<AnalysisWindow, "maxRuns">,
  buckets = TIMELINE_BUCKETS,
): Promise<Map<string, RunTimeline[]>> {
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new RangeError(`timeline buckets must be ≥ 1: ${buckets}`);
  const rows = await queryRows<RawTimelineRow>(db, timelinesQuery(window, buckets));
  const byTask = new Map<string, RunTimeline[]>();
  for (const row of rows) {
    const startedAt = toIso(row.started_at);
    const endedAt = toIso(row.ended_at);
    const { buckets: parsed, threadTimeTicks } = parseBuckets(row.buckets);
    const timeline: RunTimeline = {
      executionId: row.id,
      orchestrator: row.orchestrator,
      pipeline: row.pipeline,
      task: row.task,
      runId: row.run_id,
      tryNumber: Number(row.try_number),
      startedAt,
      endedAt,
      durationSeconds: Math.max(0, (Date.parse(endedAt) - Date.parse(startedAt)) / 1000),
      latest: Boolean(row.latest),
      worst: Boolean(row.worst),
      bucketCount: Number(row.n),
      requestCores: toNumber(row.request_cpu_cores),
      limitCores: toNumber(row.limit_cpu_cores),
      requestBytes: toNumber(row.request_memory_bytes),
      limitBytes: toNumber(row.limit_memory_bytes),
      topEndpoint: topEndpointOf(row.endpoints),
      threadTimeTicks,
      buckets: parsed,
    };
    const key = taskKeyString(row);
    const list = byTask.get(key) ?? [];
    list.push(timeline);
    byTask.set(key, list);
  }
  return byTask;
}
