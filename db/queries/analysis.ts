/**
 * The analysis window and the run summaries. Each finished execution's samples are summarized once
 * inside the database (run_summaries): by the collector's writer right after it wrote the run's last rows
 * ({@link summarizeExecutions}), or by the catch-up ({@link summarizeRuns}) for a run whose collector died
 * or whose rows came from a replayed spool. Summarizing a run also rolls its processes up per command
 * (db/queries/execution-commands.ts), so the per-command split outlives the per-process rows. The night
 * then reads one summary row per run, a batch of tasks per statement (db/queries/task-histories.ts), so
 * the analyzing process never holds samples and its memory grows with the batch, not with the window.
 */
import { type SQL, sql } from "drizzle-orm";
import type { TaskKey } from "../../common/task-key.js";
import { type Db, queryRows } from "../client.js";
import { rollUpCommands } from "./execution-commands.js";

/** The analysis window: executions that started at or after `start` and ended by `end`. */
export interface AnalysisWindow {
  start: Date;
  end: Date;
  /** At most this many of a task's latest executions. */
  maxRuns: number;
}

/**
 * Samples of a run lie within its span; the slack covers a collector clock a little off and a last tick
 * written after the end was recorded.
 */
const SAMPLE_SLACK = sql.raw("interval '1 hour'");

/** Task keys with at least one finished execution in the window. */
export async function listTaskKeysInWindow(db: Db, window: AnalysisWindow): Promise<TaskKey[]> {
  return queryRows<TaskKey & Record<string, unknown>>(
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
 * replaces the old one with what the samples now say, and so does the run's per-command rollup. Returns
 * the ids summarized.
 */
export async function summarizeExecutions(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await queryRows<{ execution_id: string }>(db, summarizeExecutionsQuery(ids, "replace"));
  const summarized = rows.map((row) => row.execution_id);
  await rollUpCommands(db, summarized);
  return summarized;
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
          await rollUpCommands(
            tx as unknown as Db,
            rows.map((row) => row.execution_id),
          );
          return rows.length;
        });
      }
    }),
  );
  return summarized;
}
