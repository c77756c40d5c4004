/**
 * Retention of every table but the sample partitions (db/queries/partitions.ts drops those): per-process
 * rows of old runs (after their per-command rollup is written from them), host samples, and whole runs
 * with their summaries and rollups, the analyses and the report records. Each age is a setting
 * (common/settings.ts `retention.*`); runs outlive everything that belongs to them (common/config.ts).
 *
 * Old runs are found by task_executions_processes_kept (the runs whose per-process rows are still there)
 * and task_executions_started, and their rows by each table's primary key, whose first column is the
 * execution (or, for host samples, the host): a pass touches the rows it deletes and the runs it
 * deletes them for, never a whole table nor every older run.
 */
import { type SQL, sql } from "drizzle-orm";
import { type Db, queryRows } from "../client.js";
import { rollUpCommandsExpressions } from "./execution-commands.js";

/** Ages in days, as the `retention.*` settings give them. */
export interface RetentionPolicy {
  /** Per-process rows of runs that started before this many days ago go. */
  processesDays: number;
  /** Host samples older than this go. */
  hostSamplesDays: number;
  /** Runs that started before this many days ago go, with their summaries and rollups; analyses too. */
  runsDays: number;
}

/** Rows deleted per table by one pass. */
export interface RetentionResult {
  processes: number;
  hostSamples: number;
  executions: number;
  runSummaries: number;
  executionCommands: number;
  analyses: number;
  reportRuns: number;
}

const DAY_MS = 86_400_000;

function cutoff(now: Date, days: number): SQL {
  return sql`${new Date(now.getTime() - days * DAY_MS).toISOString()}::timestamptz`;
}

/**
 * One retention pass at `now`, one statement per step: a pass cut short keeps the steps it finished. The
 * per-process rows go in the statement that rolls them up, which reads them as they were when it began,
 * so a run never loses its per-command split.
 */
export async function applyRetention(
  db: Db,
  policy: RetentionPolicy,
  now = new Date(),
): Promise<RetentionResult> {
  // The runs past the age not yet done: task_executions_processes_kept holds only those, so the pass reads
  // the runs it prunes, not every older run. A run is marked done in the same statement.
  const [processes] = await queryRows<{ n: number }>(
    db,
    sql`with old as (
          select e.id from task_executions e
          where e.processes_pruned_at is null and e.started_at < ${cutoff(now, policy.processesDays)}
        ),
        ${rollUpCommandsExpressions(sql`select id from old`)},
        gone as (delete from execution_processes p using old where p.execution_id = old.id returning 1),
        done as (update task_executions e set processes_pruned_at = now() from old where e.id = old.id returning 1)
        select (select count(*) from gone)::int as n, (select count(*) from rolled)::int as rolled,
               (select count(*) from done)::int as done`,
  );

  // Per host: a range of the (host_id, ts) key each when the pass deletes an hour's share (Postgres 15
  // plans a nested loop over hosts with the key's index; a backlog of days gets a scan, the cheaper plan). The writer
  // records a host before its samples (collector/storage/writer.ts), so every host_id is in hosts.
  const [hostSamples] = await queryRows<{ n: number }>(
    db,
    sql`with gone as (
          delete from host_samples s using hosts h
          where s.host_id = h.id and s.ts < ${cutoff(now, policy.hostSamplesDays)}
          returning 1
        ) select count(*)::int as n from gone`,
  );

  // A run's per-process rows went at retention.processes, no longer than this: only rows written after
  // that pass (a spool replayed late, kept until here and read beside the rollup meanwhile) are left.
  const [runs] = await queryRows<{
    executions: number;
    summaries: number;
    commands: number;
  }>(
    db,
    sql`with old as (
          select e.id from task_executions e where e.started_at < ${cutoff(now, policy.runsDays)}
        ),
        commands as (delete from execution_commands c using old where c.execution_id = old.id returning 1),
        summaries as (delete from run_summaries s using old where s.execution_id = old.id returning 1),
        processes as (delete from execution_processes p using old where p.execution_id = old.id returning 1),
        executions as (delete from task_executions e using old where e.id = old.id returning 1)
        select (select count(*) from executions)::int as executions,
               (select count(*) from summaries)::int as summaries,
               (select count(*) from commands)::int as commands,
               (select count(*) from processes)::int as processes`,
  );

  const runCutoff = cutoff(now, policy.runsDays);
  const [analyses] = await queryRows<{ n: number }>(
    db,
    sql`with profiles as (delete from task_profiles where window_end < ${runCutoff} returning 1),
             recommended as (delete from recommendations where window_end < ${runCutoff} returning 1),
             gone as (delete from analyses where window_end < ${runCutoff} returning 1)
        select (select count(*) from gone)::int as n, (select count(*) from profiles)::int as profiles,
               (select count(*) from recommended)::int as recommended`,
  );

  // A delivery record keeps its report run (a foreign key): both go once past the age.
  const [reportRuns] = await queryRows<{ n: number }>(
    db,
    sql`with deliveries as (
          delete from report_deliveries where updated_at < ${runCutoff} returning report_run_id
        ),
        gone as (
          delete from report_runs r where r.generated_at < ${runCutoff}
            and not exists (select 1 from report_deliveries d
                            where d.report_run_id = r.id and d.updated_at >= ${runCutoff})
          returning 1
        ) select count(*)::int as n from gone`,
  );

  return {
    processes: Number(processes?.n ?? 0),
    hostSamples: Number(hostSamples?.n ?? 0),
    executions: Number(runs?.executions ?? 0),
    runSummaries: Number(runs?.summaries ?? 0),
    executionCommands: Number(runs?.commands ?? 0),
    analyses: Number(analyses?.n ?? 0),
    reportRuns: Number(reportRuns?.n ?? 0),
  };
}
