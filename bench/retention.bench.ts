/**
 * What the database holds per run and per day for a fleet of 200 concurrent tasks, before and after the
 * retention (db/queries/retention.ts), measured with pg_total_relation_size (table, indexes and TOAST) on
 * generated rows of the collector's shape, on a scratch Postgres database:
 *
 * - a run lasts 10 minutes and is sampled every second: 600 sample rows, every measure column filled;
 * - it forks: 200 processes per run (a python root, children running sh, gzip, psql and aws), each with a
 *   redacted argv of about 50 characters;
 * - 200 tasks run at once, back to back, so 200 × 86,400 / 600 = 28,800 runs a day, spread over 20 hosts
 *   (10 tasks each), each host writing one host sample a second.
 *
 * Half the runs started 20 days ago (past retention.processes, 14 d), half a day ago. The runs are summarized
 * by the catch-up (writing run_summaries and execution_commands), the maintenance pass runs (timed), and
 * the tables are rewritten (VACUUM FULL) before each measurement so the sizes are the rows' own, not the
 * free space a plain VACUUM leaves for reuse. The per-day figures and the steady state follow from the
 * bytes per run and the days each table keeps: before, only sample partitions were dropped (30 d); after,
 * every table has an age (common/settings.ts `retention.*` defaults). Last, the hourly pass is timed when
 * it has nothing to delete, over a million older runs and 2 M per-process rows of recent ones (after the
 * first pass, which marks the older runs once).
 */
import { performance } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import { maintainDatabase } from "../analyzer/nightly.js";
import { loadConfig } from "../common/config.js";
import { openDatabase, queryRows } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { summarizeRuns } from "../db/queries/analysis.js";
import { rollUpCommands } from "../db/queries/execution-commands.js";
import { ensurePartitions } from "../db/queries/partitions.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";
import { medianMs } from "./median-time.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const runs = Number(process.env.RETENTION_BENCH_RUNS ?? 400);
const ticksPerRun = 600;
const processesPerRun = 200;
const concurrentTasks = 200;
const hosts = 20;
const runsPerDay = (concurrentTasks * 86_400) / ticksPerRun;
const hostSamplesPerDay = hosts * 86_400;
const hostSampleRows = 200_000;
const idleOldRuns = 1_000_000;
const idleRecentRuns = 10_000;
const DAY_MS = 86_400_000;

const MB = 1e6;
const tables = [
  "samples",
  "host_samples",
  "execution_processes",
  "execution_commands",
  "run_summaries",
  "task_executions",
] as const;
type Table = (typeof tables)[number];

export async function run(): Promise<void> {
  const scratch = await createScratchDatabase(adminUrl, "rightsize_bench");
  const handle = await openDatabase(scratch.url);
  const config = loadConfig({ env: {} });
  try {
    await migrateDatabase(handle);
    const { db } = handle;
    // An autovacuum ANALYZE running beside a VACUUM FULL holds a snapshot that keeps the rows just
    // deleted: the sizes after the pass would count them.
    for (const table of tables.filter((name) => name !== "samples"))
      await db.execute(sql.raw(`alter table ${table} set (autovacuum_enabled = false)`));
    const now = Date.now();
    await ensurePartitions(db, new Date(now - 21 * DAY_MS), new Date(now));
    await db.execute(sql`insert into hosts (id, hostname, cores, memory_bytes)
                         select 'w' || h, 'w' || h, 16, 68719476736 from generate_series(0, ${hosts - 1}) h`);
    // Run r: task r % 200, on host r % 20, started 20 days ago (even r) or half a day ago (odd r).
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
        root_pid, root_start_ticks, cgroup_path, started_at, ended_at, exit_code, status, request_cpu_cores,
        limit_cpu_cores, cpu_source, request_memory_bytes, limit_memory_bytes, memory_source, endpoints, uid)
      select gen_random_uuid(), 'airflow', 'pipeline_' || lpad((r % 200 / 10)::text, 3, '0'),
             'task_' || lpad((r % 200)::text, 4, '0') || '_extract_and_transform',
             'scheduled__2026-12-07T00:00:00+00:00_' || r, 1, 'w' || (r % ${hosts}), 'airflow-argv',
             1000 + r, 123456789 + r, '/system.slice/airflow-worker.service',
             to_timestamp(${now / 1000}) - case when r % 2 = 0 then interval '20 days' else interval '12 hours' end
               + make_interval(secs => r * 7),
             to_timestamp(${now / 1000}) - case when r % 2 = 0 then interval '20 days' else interval '12 hours' end
               + make_interval(secs => r * 7 + ${ticksPerRun}),
             0, 'succeeded', 2, 4, 'declared', 4294967296, 8589934592, 'declared',
             '[{"endpoint":"db.internal:5432","waitSeconds":12.5},{"endpoint":"s3.amazonaws.com:443","waitSeconds":40.1}]',
             50000
      from generate_series(0, ${runs - 1}) r`);
    await db.execute(sql`
      insert into samples (execution_id, ts, interval_seconds, cpu_cores, cpu_seconds_total, rss_bytes,
        disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes, on_cpu_seconds, cpu_wait_seconds,
        disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds, wall_on_cpu_seconds,
        wall_cpu_wait_seconds, wall_disk_wait_seconds, wall_net_wait_seconds, wall_child_wait_seconds,
        wall_idle_seconds, threads, processes_alive, processes_started, throttled_periods, total_periods,
        throttled_seconds, oom_kills, psi_cpu_some, psi_memory_some, psi_io_some, host_load1)
      select e.id, e.started_at + make_interval(secs => s), 1, 0.5 + (s % 7) * 0.1, s * 0.6,
             (200 + s % 50)::bigint * 1048576, s * 4096, s * 8192, s * 1000, s * 500,
             0.6, 0.05, 0.1, 0.05, 0.1, 0.1, 0.6, 0.05, 0.1, 0.05, 0.1, 0.1,
             12, 3, (s % 3 = 0)::int, s % 10, 10, 0.01, 0, 0.02, 0.01, 0.03, 2.5
      from task_executions e cross join generate_series(1, ${ticksPerRun}) s`);
    await db.execute(sql`
      insert into execution_processes
      select e.id, 2000 + p, 123456789 + p * 300, case when p = 0 then 1000 else 2000 end,
             (array['python', 'sh', 'gzip', 'psql', 'aws'])[case when p = 0 then 1 else 2 + p % 4 end],
             case when p = 0 then 'python /opt/airflow/dags/etl/extract_and_transform.py --date 2026-12-07'
                  else (array['sh -c gzip -c /data/exports/part-', 'gzip -c /data/exports/orders-part-',
                              'psql -h db.internal -c \\copy orders to /data/part-',
                              'aws s3 cp /data/exports/orders-part-'])[1 + p % 4] || lpad(p::text, 4, '0') || '.csv'
             end,
             e.started_at + make_interval(secs => p * 3), e.started_at + make_interval(secs => p * 3 + 2),
             case when p = 0 then 300 else 0.4 end, (case when p = 0 then 400 else 6 end)::bigint * 1048576,
             p * 65536, p * 131072, p > 0
      from task_executions e cross join generate_series(0, ${processesPerRun - 1}) p`);
    await db.execute(sql`
      insert into host_samples
      select 'w' || (n % ${hosts}), to_timestamp(${now / 1000}) - make_interval(secs => n / ${hosts}), 1,
             6.5, 0.3, 0, 0.4, 1048576 * 20, 1048576 * 8, 0.05, 0.01, 0.04, 9.5
      from generate_series(0, ${hostSampleRows - 1}) n`);

    await db.execute(sql`vacuum analyze`);
    const summaryStarted = performance.now();
    const summarized = await summarizeRuns(db, {
      endedFrom: new Date(now - 30 * DAY_MS),
      endedBy: new Date(now),
    });
    const summaryMs = performance.now() - summaryStarted;
    // The rollup's share of that: the same runs rolled up again alone (the summaries are written).
    const ids = (await queryRows<{ id: string }>(db, sql`select id from task_executions`)).map(
      (row) => row.id,
    );
    const rollUpStarted = performance.now();
    await rollUpCommands(db, ids);
    const rollUpMs = performance.now() - rollUpStarted;

    const before = await sizes(db);

    const started = performance.now();
    const { retention } = await maintainDatabase(db, config, new Date(now));
    const passMs = performance.now() - started;
    const after = await sizes(db);

    const perRun = (table: Table, bytes: Record<Table, number>) => bytes[table] / runs;
    const hostRowBytes = before.host_samples / hostSampleRows;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(
      `${runs} runs × ${ticksPerRun} ticks × ${processesPerRun} processes (${summarized} summarized), ` +
        `${hostSampleRows} host samples; catch-up summary ${summaryMs.toFixed(0)} ms, of which the rollup alone ` +
        `${rollUpMs.toFixed(0)} ms; retention pass ${passMs.toFixed(0)} ms, deleted ${JSON.stringify(retention)}`,
    );
    out("\nbytes per run (pg_total_relation_size after VACUUM FULL), before → after the pass:");
    for (const table of tables.filter((name) => name !== "host_samples")) {
      out(
        `  ${table.padEnd(20)} ${perRun(table, before).toFixed(0).padStart(8)} → ${perRun(table, after).toFixed(0)}`,
      );
    }
    out(`  host_samples         ${hostRowBytes.toFixed(1)} bytes per host per tick`);
    const keptPerRun = sumOf(before, runTables) / runs;
    out(
      `  a run past retention.processes: ${(keptPerRun / 1000).toFixed(1)} kB (rollup, summary, execution) ` +
        `instead of ${((keptPerRun + perRun("execution_processes", before)) / 1000).toFixed(1)} kB with its processes`,
    );

    // Per day of the fleet, and the steady state at one year, before and after.
    const day = (table: Table) => perRun(table, before) * runsPerDay;
    const hostDay = hostRowBytes * hostSamplesPerDay;
    const keptRun =
      (perRun("execution_commands", before) +
        perRun("run_summaries", before) +
        perRun("task_executions", before)) *
      runsPerDay;
    out(
      `\nper day, ${concurrentTasks} concurrent tasks (${runsPerDay} runs, ${hostSamplesPerDay} host samples):`,
    );
    for (const table of tables.filter((name) => name !== "host_samples"))
      out(`  ${table.padEnd(20)} ${(day(table) / MB).toFixed(1)} MB`);
    out(`  host_samples         ${(hostDay / MB).toFixed(1)} MB`);
    const { days, processesDays, hostSamplesDays, runsDays } = config.retention;
    const at = (elapsed: number) => ({
      before:
        day("samples") * Math.min(elapsed, days) +
        (hostDay + day("execution_processes") + day("run_summaries") + day("task_executions")) * elapsed,
      after:
        day("samples") * Math.min(elapsed, days) +
        hostDay * Math.min(elapsed, hostSamplesDays) +
        day("execution_processes") * Math.min(elapsed, processesDays) +
        keptRun * Math.min(elapsed, runsDays),
    });
    for (const elapsed of [30, 365, 730]) {
      const total = at(elapsed);
      out(
        `  after ${elapsed} days: before ${(total.before / 1e9).toFixed(1)} GB, after ${(total.after / 1e9).toFixed(1)} GB`,
      );
    }
    out(
      `  growth per day past a year: before ${((hostDay + day("execution_processes") + day("run_summaries") + day("task_executions")) / MB).toFixed(0)} MB, ` +
        `after ${(keptRun / MB).toFixed(1)} MB until ${runsDays} days, then 0`,
    );

    // The hourly pass when it has nothing to delete, as a long-lived fleet's database looks most hours:
    // a million older runs (five weeks of this fleet) whose per-process rows are gone, and 2 M per-process
    // rows of 10,000 recent runs. The pass finds the old runs by task_executions_started and probes each.
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, host_id, attribution, started_at,
                                   ended_at, status)
      select gen_random_uuid(), 'airflow', 'p', 't' || (r % 200), 'old' || r, 'w0', 'env',
             to_timestamp(${now / 1000}) - interval '15 days' - make_interval(secs => r * 3),
             to_timestamp(${now / 1000}) - interval '15 days' - make_interval(secs => r * 3 - 600), 'succeeded'
      from generate_series(1, ${idleOldRuns}) r`);
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, host_id, attribution, started_at,
                                   ended_at, status)
      select gen_random_uuid(), 'airflow', 'p', 't' || (r % 200), 'new' || r, 'w0', 'env',
             to_timestamp(${now / 1000}) - interval '1 day' - make_interval(secs => r),
             to_timestamp(${now / 1000}) - interval '1 day' - make_interval(secs => r - 600), 'succeeded'
      from generate_series(1, ${idleRecentRuns}) r`);
    await db.execute(sql`
      insert into execution_processes
      select e.id, 2000 + p, p, 1, 'gzip', 'gzip -c /data/exports/orders.csv', e.started_at, e.started_at, 0.4,
             1048576, 4096, 4096, true
      from task_executions e cross join generate_series(1, ${processesPerRun}) p where e.run_id like 'new%'`);
    await db.execute(sql`vacuum analyze`);
    // The first pass after an upgrade marks every older run (none was marked before): once.
    const firstStarted = performance.now();
    await maintainDatabase(db, config, new Date(now));
    const firstMs = performance.now() - firstStarted;
    // Autovacuum has an hour between two passes to clear the marked runs' old index entries.
    await db.execute(sql`vacuum analyze`);
    const idleMs = await medianMs(() => maintainDatabase(db, config, new Date(now)), 3);
    out(
      `\n${idleOldRuns} older runs and ${idleRecentRuns * processesPerRun} per-process rows of recent runs: ` +
        `first pass (marks the older runs) ${firstMs.toFixed(0)} ms; an idle pass ${idleMs.toFixed(0)} ms (median of 3)`,
    );
  } finally {
    await handle.close();
    await scratch.drop();
  }
}

const runTables: Table[] = ["execution_commands", "run_summaries", "task_executions"];

function sumOf(bytes: Record<Table, number>, names: Table[]): number {
  return names.reduce((total, name) => total + bytes[name], 0);
}

/** Each table's bytes (samples: its partitions), after a rewrite, so free space is not counted. */
async function sizes(db: Parameters<typeof queryRows>[0]): Promise<Record<Table, number>> {
  await db.execute(sql`vacuum full`);
  const result = {} as Record<Table, number>;
  for (const table of tables) {
    const [row] = await queryRows<{ bytes: number }>(
      db,
      table === "samples"
        ? sql`select coalesce(sum(pg_total_relation_size(relid)), 0)::float8 as bytes
              from pg_partition_tree('samples') where isleaf`
        : sql`select pg_total_relation_size(${table}::regclass)::float8 as bytes`,
    );
    result[table] = Number(row?.bytes ?? 0);
  }
  return result;
}
