/**
 * `rightsize explain` for one run, in process, on Postgres: the diagnosis scenario of the integration test
 * (test-support/diagnosis-fixtures.ts: a task's 8 usual runs and a slowed one, three executions beside it),
 * seeded once, and its latest run explained with neighbours. Floor: reading the slowed run's samples and
 * its neighbours' samples over its span (the two sample reads `explain` makes) by primary key in two
 * statements. Median of 9 runs after a warm-up.
 *
 * At scale: EXPLAIN_BENCH_DATABASE=URL, a database the analysis benchmark kept (`ANALYSIS_BENCH_KEEP=1
 * ANALYSIS_BENCH_SIZES=10m`): see {@link atScale}. It writes the scenario into that database once.
 */
import { performance } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import type { TaskKey } from "../common/task-key.js";
import { explainRun } from "../analyzer/explain.js";
import { windowOf } from "../analyzer/nightly.js";
import { type Db, openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";
import { seedSlowedRun, slowedTask } from "../test-support/diagnosis-fixtures.js";
import { medianMs } from "./median-time.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const repetitions = 9;

const measure = (work: () => Promise<unknown> | unknown) => medianMs(work, repetitions);

/**
 * At scale: the diagnosis scenario written once onto the kept database's busiest host, its slowed run
 * starting with the most of that host's generated runs, so its neighbours are those runs as well as the
 * scenario's writer; then its latest run explained, and the latest run of the database's first task
 * (no wait beyond its baseline there: no neighbour is read). The floor of each: the sample reads it makes,
 * by primary key within the run's span (the run's own, and its neighbours' where they are read).
 */
async function atScale(url: string): Promise<void> {
  const handle = await openDatabase(url);
  try {
    // The host with the most executions, and the instant most of them started at there (the generated
    // tasks all start together: every one of them overlaps the slowed run).
    const [busiest] = (await handle.db.execute(
      sql`select host_id, (started_at + interval '1 hour')::text as window_end
          from task_executions group by 1, started_at order by count(*) desc, 2 desc limit 1`,
    )) as unknown as Array<{ host_id: string; window_end: string }>;
    if (!busiest) throw new Error(`${url} holds no task execution: keep one with ANALYSIS_BENCH_KEEP=1`);
    const windowEnd = new Date(busiest.window_end);
    const [seeded] = (await handle.db.execute(
      sql`select id from task_executions where pipeline = ${slowedTask.pipeline} and task = ${slowedTask.task} and run_id = 'scheduled__today'`,
    )) as unknown as Array<{ id: string }>;
    if (!seeded) await seedSlowedRun(handle.db, windowEnd, busiest.host_id);
    const window = windowOf({ windowEnd, windowDays: 14 }, 100);
    const [first] = (await handle.db.execute(
      sql`select orchestrator, pipeline, task from task_executions where host_id = ${busiest.host_id}
          order by 1, 2, 3 limit 1`,
    )) as unknown as TaskKey[];
    const [{ samples }] = (await handle.db.execute(
      sql`select count(*)::int as samples from samples`,
    )) as unknown as [{ samples: number }];
    let rows = "";
    for (const [what, key] of [
      ["a slowed run that starts with the generated runs (neighbours read)", slowedTask],
      ["the latest run of the first generated task (no neighbour read)", first!],
    ] as Array<[string, TaskKey]>) {
      const explanation = (await explainRun(handle.db, key, { latest: true }, window))!;
      const { executionId, hostId, startedAt } = explanation.diagnosis;
      const endedAt = new Date(
        new Date(startedAt).getTime() + explanation.diagnosis.durationSeconds * 1000,
      ).toISOString();
      const explainMs = await measure(() => explainRun(handle.db, key, { latest: true }, window));
      const floorMs = await measure(async () => {
        await handle.db.execute(sql`select * from samples where execution_id = ${executionId} order by ts`);
        if (explanation.neighbours.length > 0)
          await handle.db.execute(
            sql`select x.* from task_executions e join samples x on x.execution_id = e.id
              where e.host_id = ${hostId} and e.id <> ${executionId}
                and x.ts > ${startedAt} and x.ts <= ${endedAt}`,
          );
      });
      const suspects = explanation.neighbours.reduce((sum, finding) => sum + finding.ranks.length, 0);
      rows += `| explain ${what}: ${explanation.diagnosis.comparableRuns} comparable runs, ${suspects} suspects named | ${explainMs.toFixed(1)} ms | its sample reads ${floorMs.toFixed(1)} ms | ${(explainMs / floorMs).toFixed(2)} × |\n`;
    }
    process.stdout.write(
      `${samples.toLocaleString("en")} samples\n| what | rightsize | floor | ratio |\n| --- | --- | --- | --- |\n${rows}`,
    );
  } finally {
    await handle.close();
  }
}

export async function run(): Promise<void> {
  const scaleUrl = process.env.EXPLAIN_BENCH_DATABASE;
  if (scaleUrl) return atScale(scaleUrl);
  const database = await createScratchDatabase(adminUrl, "rightsize_bench");
  const handle = await openDatabase(database.url);
  try {
    await migrateDatabase(handle);
    const windowEnd = new Date("2026-11-20T02:00:00.000Z");
    const { slowedExecutionId } = await seedSlowedRun(handle.db, windowEnd);
    const window = windowOf({ windowEnd, windowDays: 14 }, 100);
    const explainMs = await measure(() => explainRun(handle.db, slowedTask, { latest: true }, window));
    const floorMs = await measure(async () => {
      await handle.db.execute(
        sql`select * from samples where execution_id = ${slowedExecutionId} order by ts`,
      );
      await handle.db.execute(
        sql`select x.* from task_executions e join samples x on x.execution_id = e.id
            where e.host_id = 'worker-1' and e.id <> ${slowedExecutionId}
              and x.ts > '2026-11-20T01:00:00Z' and x.ts <= '2026-11-20T01:07:00Z'`,
      );
    });
    process.stdout.write(
      `| what | rightsize | floor | ratio |\n| --- | --- | --- | --- |\n` +
        `| explain one run (a task of 9 runs, 2 neighbours on its host, 6-minute run at 1 s ticks) | ${explainMs.toFixed(1)} ms | two sample reads ${floorMs.toFixed(1)} ms | ${(explainMs / floorMs).toFixed(2)} × |\n`,
    );
  } finally {
    await handle.close();
    await database.drop();
  }
}
