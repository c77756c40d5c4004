/**
 * Each execution's processes per command: from its per-process rows (execution_processes) until the
 * retention deletes them, and from its rollup (execution_commands) once it has
 * (task_executions.processes_pruned_at, db/queries/retention.ts). The rollup is written when the run is
 * summarized (db/queries/analysis.ts) and written again from the per-process rows in the statement that
 * deletes them, so it holds what they last said.
 */
import { type SQL, sql } from "drizzle-orm";
import { type Db, queryRows } from "../client.js";

/**
 * The common table expressions that roll the executions `ids` (a relation of one uuid column) up per
 * command from their per-process rows: a command they no longer show (a fork first stored under its
 * parent's name, renamed by its exec) loses its rollup row, the others take the per-process rows'
 * totals. Executions without per-process rows keep the rollup they have. The delete and the upsert touch
 * different rows, and every part of the statement reads the per-process rows as they were when it began,
 * so a statement may go on to delete them (db/queries/retention.ts).
 */
export function rollUpCommandsExpressions(ids: SQL): SQL {
  return sql`fresh as (
               select p.execution_id, p.command, count(*)::int as processes,
                      sum(p.cpu_seconds)::float8 as cpu_seconds, max(p.peak_rss_bytes) as peak_rss_bytes,
                      sum(p.read_bytes)::bigint as read_bytes, sum(p.write_bytes)::bigint as write_bytes,
                      min(p.first_seen) as first_seen, max(p.last_seen) as last_seen
               from execution_processes p
               where p.execution_id in (${ids})
               group by p.execution_id, p.command
             ),
             stale as (
               delete from execution_commands c
               where c.execution_id in (select execution_id from fresh)
                 and not exists (select 1 from fresh f
                                 where f.execution_id = c.execution_id and f.command = c.command)
             ),
             rolled as (
               insert into execution_commands as c
                 (execution_id, command, processes, cpu_seconds, peak_rss_bytes, read_bytes, write_bytes,
                  first_seen, last_seen)
               select * from fresh
               on conflict (execution_id, command) do update set
                 processes = excluded.processes,
                 cpu_seconds = excluded.cpu_seconds,
                 peak_rss_bytes = excluded.peak_rss_bytes,
                 read_bytes = excluded.read_bytes,
                 write_bytes = excluded.write_bytes,
                 first_seen = excluded.first_seen,
                 last_seen = excluded.last_seen
               returning 1
             )`;
}

/** Rolls the executions `ids` up per command ({@link rollUpCommandsExpressions}). */
export function rollUpCommandsQuery(ids: SQL): SQL {
  return sql`with ${rollUpCommandsExpressions(ids)} select count(*)::int as n from rolled`;
}

/** {@link rollUpCommandsQuery} for a list of execution ids. */
export async function rollUpCommands(db: Db, executionIds: string[]): Promise<void> {
  if (executionIds.length === 0) return;
  await db.execute(rollUpCommandsQuery(uuidList(executionIds)));
}

/** The ids as a relation of uuids, one JSON parameter whatever their number. */
export function uuidList(ids: string[]): SQL {
  return sql`select value::uuid from json_array_elements_text(${JSON.stringify(ids)}::json)`;
}

/**
 * Rows `(execution_id, command, count, cpu_seconds, peak_rss)` for the executions `ids` (a relation of
 * one uuid column): grouped from the per-process rows of an execution the retention has not pruned yet,
 * else its rollup (a per-process row stored after the pruning, from a spool replayed that late, is not
 * counted twice). `count` is the processes, `peak_rss` the largest single process's peak.
 */
export function runCommandsRelation(ids: SQL): SQL {
  return sql`select p.execution_id, p.command, count(*)::int as count, sum(p.cpu_seconds)::float8 as cpu_seconds,
                    max(p.peak_rss_bytes)::float8 as peak_rss
             from execution_processes p
             join task_executions e on e.id = p.execution_id and e.processes_pruned_at is null
             where p.execution_id in (${ids})
             group by p.execution_id, p.command
             union all
             select c.execution_id, c.command, c.processes, c.cpu_seconds, c.peak_rss_bytes::float8
             from execution_commands c
             join task_executions e on e.id = c.execution_id and e.processes_pruned_at is not null
             where c.execution_id in (${ids})`;
}

/** One execution's command, as {@link runCommandsRelation} gives it. */
export interface RunCommandRow {
  executionId: string;
  command: string;
  processes: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

/** {@link runCommandsRelation} for a list of execution ids, ordered by execution and command. */
export async function loadCommands(db: Db, executionIds: string[]): Promise<RunCommandRow[]> {
  if (executionIds.length === 0) return [];
  const rows = await queryRows<{
    execution_id: string;
    command: string;
    count: number;
    cpu_seconds: number;
    peak_rss: number;
  }>(
    db,
    sql`select * from (${runCommandsRelation(uuidList(executionIds))}) c order by c.execution_id, c.command`,
  );
  return rows.map((row) => ({
    executionId: row.execution_id,
    command: row.command,
    processes: Number(row.count),
    cpuSeconds: Number(row.cpu_seconds),
    peakRssBytes: Number(row.peak_rss),
  }));
}
