/**
 * The fleet view over 8 weeks of 1,000 tasks from their run summaries (target, docs/architecture.md
 * "Performance and scale": ≤ 1 s): one run a day per task, 56,000 runs, each with a summary, on a scratch
 * Postgres database; the analysis the placement reads is the reports benchmark's 1,000 tasks, named as the
 * runs are. Measured: the fleet read (loadFleetRuns, loadHostSizes) and the whole document
 * (buildFleetDocument), as `rightsize fleet --format json` does after opening the database. Floor: one
 * hand-written GROUP BY summing each task's week of the same joined rows, the least any per-week cost read
 * must do. Seeded data, median of 3 runs after a warm-up.
 */
import { performance } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import { buildFleetDocument } from "../analyzer/fleet.js";
import { openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { loadFleetRuns, loadHostSizes } from "../db/queries/fleet.js";
import { largeAnalysis } from "../test-support/report-fixtures.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";
import { medianMs } from "./median-time.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const taskCount = 1000;
const weeks = 8;
const repetitions = 3;
const end = new Date("2026-12-07T00:00:00Z");
/** A price change four weeks before the end: every run is priced through the history, as configured. */
const pricing = {
  cpuHourUsd: 0.031611,
  memoryGibHourUsd: 0.004237,
  history: [{ from: new Date(end.getTime() - 28 * 86_400_000), cpuHourUsd: 0.035 }],
};

const measure = (work: () => Promise<unknown> | unknown) => medianMs(work, repetitions);

export async function run(): Promise<void> {
  const scratch = await createScratchDatabase(adminUrl, "rightsize_bench");
  const handle = await openDatabase(scratch.url);
  try {
    await migrateDatabase(handle);
    const { db } = handle;
    // largeAnalysis names: pipeline_NNN (ten tasks each) / task_NNNN_extract_and_transform; 16 hosts.
    await db.execute(sql`
      insert into hosts (id, hostname, cores, memory_bytes)
      select 'w' || h, 'w' || h, 16, 68719476736 from generate_series(0, 15) h`);
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
                                   started_at, ended_at, exit_code, status, request_cpu_cores, request_memory_bytes)
      select gen_random_uuid(), 'airflow', 'pipeline_' || lpad((t / 10)::text, 3, '0'),
             'task_' || lpad(t::text, 4, '0') || '_extract_and_transform', 'scheduled__' || d, 1, 'w' || (t % 16),
             'env', ${end.toISOString()}::timestamptz - make_interval(days => ${weeks * 7} - d, mins => t % 600),
             ${end.toISOString()}::timestamptz - make_interval(days => ${weeks * 7} - d, mins => t % 600)
               + make_interval(secs => 300 + (t % 7) * 60 + d * (t % 3) * 5),
             0, 'succeeded', 1 + t % 8, (1 + t % 16)::bigint * 1073741824
      from generate_series(0, ${taskCount - 1}) t cross join generate_series(0, ${weeks * 7 - 1}) d`);
    await db.execute(sql`
      insert into run_summaries (execution_id, ticks, sampled_seconds, cpu_seconds, peak_rss_bytes,
                                 disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes,
                                 on_cpu_seconds, cpu_wait_seconds, disk_wait_seconds, net_wait_seconds,
                                 child_wait_seconds, idle_seconds, wall_on_cpu_seconds, wall_cpu_wait_seconds,
                                 wall_disk_wait_seconds, wall_net_wait_seconds, wall_child_wait_seconds,
                                 wall_idle_seconds, oom_kills)
      select e.id, e.seconds, e.seconds, e.seconds * 0.6, 1073741824, e.seconds * 1e6, e.seconds * 2e5,
             e.seconds * 1e5, 1e4, e.seconds * 0.6, 0, e.seconds * 0.3, e.seconds * 0.05, 0, e.seconds * 0.05,
             e.seconds * 0.6, 0, e.seconds * 0.3, e.seconds * 0.05, 0, e.seconds * 0.05, 0
      from (select id, extract(epoch from ended_at - started_at)::float8 as seconds from task_executions) e`);
    await db.execute(sql`analyze`);
    const analysis = largeAnalysis(taskCount);
    const start = new Date(end.getTime() - weeks * 7 * 86_400_000);
    let runCount = 0;
    let growers = 0;
    const floorMs = await measure(() =>
      db.execute(sql`
        select e.orchestrator, e.pipeline, e.task,
               floor(extract(epoch from e.started_at - ${start.toISOString()}::timestamptz) / 604800) as week,
               count(*), sum(e.request_cpu_cores * rs.sampled_seconds), sum(e.request_memory_bytes * rs.sampled_seconds),
               sum(rs.cpu_seconds), sum(rs.disk_read_bytes), sum(rs.wall_disk_wait_seconds)
        from task_executions e left join run_summaries rs on rs.execution_id = e.id
        where e.ended_at is not null and e.started_at >= ${start.toISOString()}::timestamptz
          and e.started_at < ${end.toISOString()}::timestamptz and e.ended_at <= ${end.toISOString()}::timestamptz
        group by 1, 2, 3, 4`),
    );
    const readMs = await measure(async () => {
      const runs = await loadFleetRuns(db, { start, end });
      await loadHostSizes(db);
      runCount = runs.length;
    });
    const wholeMs = await measure(async () => {
      const [runs, hosts] = await Promise.all([loadFleetRuns(db, { start, end }), loadHostSizes(db)]);
      const document = buildFleetDocument({ runs, hosts, analysis, end, weeks, pricing, generatedAt: end });
      growers = document.costOverTime.growers.length;
    });
    const rows = [
      ["hand-written GROUP BY per task and week (floor)", floorMs.toFixed(0), "1.00"],
      [`fleet read (${runCount} runs)`, readMs.toFixed(0), (readMs / floorMs).toFixed(2)],
      [`fleet document (${growers} growers, placement)`, wholeMs.toFixed(0), (wholeMs / floorMs).toFixed(2)],
    ];
    const header = ["case", "median ms", "× floor"];
    const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
    process.stdout.write(`${taskCount} tasks × ${weeks} weeks, one run a day\n${lines.join("\n")}\n`);
  } finally {
    await handle.close();
    await scratch.drop();
  }
}
