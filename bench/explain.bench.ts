/**
 * `rightsize explain` for one run, in process, on Postgres: the diagnosis scenario of the integration test
 * (test-support/diagnosis-fixtures.ts: a task's 8 usual runs and a slowed one, three executions beside it),
 * seeded once, and its latest run explained with neighbours. Floor: reading the slowed run's samples and
 * its neighbours' samples over its span (the two sample reads `explain` makes) by primary key in two
 * statements. Median of 9 runs after a warm-up. Short and seeded: the scale (a 10 M-sample database) is
 * the analysis benchmark's, not this one's.
 */
import { performance } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import { explainRun } from "../analyzer/explain.js";
import { windowOf } from "../analyzer/nightly.js";
import { openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";
import { seedSlowedRun, slowedTask } from "../test-support/diagnosis-fixtures.js";
import { medianMs } from "./median-time.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const repetitions = 9;

const measure = (work: () => Promise<unknown> | unknown) => medianMs(work, repetitions);

export async function run(): Promise<void> {
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
