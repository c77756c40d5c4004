/**
 * `rightsize backtest` as a real process (the built dist/) on a real Postgres: a task whose 20 runs peak
 * near 400 MiB and one run near 1.2 GiB. The percentile policies (VPA's p90, Kubecost's p95) size below
 * the spike and the backtest says that run would have been OOM-killed; the policies sized to the maximum
 * do not. A second task grows in its newest runs, so its out-of-sample replay fails the risk target.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskBacktest } from "../../analyzer/backtest.js";
import { MiB } from "../../common/units.js";
import { upsertHost } from "../../db/queries/hosts.js";
import { seedRun } from "../../test-support/backtest-runs.js";
import { runCli } from "../../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";

const windowEnd = "2026-11-20T02:00:00.000Z";
const spikyTask = "airflow/etl_daily/load_orders";
/** A hostile name: it must come out as text in every format. */
const growingTask = "airflow/etl_daily/grow|ing\n::error::x";
let database: TestDatabase;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  const db = database.handle.db;
  await upsertHost(db, { id: "host-a", hostname: "host-a", cores: 4, memoryBytes: 16 * 1024 * MiB });
  // 21 runs near 400 MiB, the 11th spiking to 1200 MiB.
  for (let index = 0; index < 21; index++) {
    const peakMiB = index === 10 ? 1200 : 400 + (index % 5) * 4;
    await seedRun(db, { task: spikyTask, index, runs: 21, peakMiB, cores: 1, windowEnd });
  }
  // 8 runs near 400 MiB, then the newest two near 900 MiB.
  for (let index = 0; index < 8; index++) {
    await seedRun(db, {
      task: growingTask,
      index,
      runs: 8,
      peakMiB: index >= 6 ? 900 : 400,
      cores: 0.5,
      windowEnd,
    });
  }
}, 120_000);

afterAll(async () => {
  await database?.drop();
});

interface PolicyRow {
  policy: string;
  runs: number;
  overMemory: number;
  tasksOverTarget: number;
}

describe("rightsize backtest", () => {
  it("says the p90 and p95 policies would have OOM-killed the spiking run, and the maximum ones not", async () => {
    const result = await runCli(
      ["backtest", "--db", database.url, "--window-end", windowEnd, "--task", spikyTask, "--format", "json"],
      { env: { REDIS_URL: "" } },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const view = JSON.parse(result.stdout) as {
      policies: PolicyRow[];
      tasks: Array<{ backtest: TaskBacktest }>;
    };
    const byPolicy = Object.fromEntries(view.policies.map((row) => [row.policy, row]));
    expect(byPolicy.vpa).toMatchObject({ runs: 21, overMemory: 1 });
    expect(byPolicy.kubecost).toMatchObject({ runs: 21, overMemory: 1 });
    expect(byPolicy.rightsize).toMatchObject({ runs: 21, overMemory: 0 });
    expect(byPolicy["krr-simple"]).toMatchObject({ runs: 21, overMemory: 0 });
    expect(byPolicy["max-seen"]).toMatchObject({ runs: 21, overMemory: 0 });
    const row = view.tasks[0]!;
    // rightsize sizes to the spike: 1200 MiB + 15 %, rounded up to 64 MiB.
    expect(row.backtest.inSample).toMatchObject({ memoryBytes: 1408 * MiB, overMemory: 0, runs: 21 });
    // Out of sample (the spike among the older 16 runs), the newest 5 fit.
    expect(row.backtest.outOfSample).toMatchObject({ trainingRuns: 16, runs: 5, overMemory: 0 });
  });

  it("prints the policy table and the chosen policy's rows, with the task whose newest runs grew over target", async () => {
    const result = await runCli(
      ["backtest", "--db", database.url, "--window-end", windowEnd, "--policy", "vpa"],
      {
        env: { REDIS_URL: "" },
      },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Backtest of the 14 days ending 2026-11-20T02:00:00.000Z: 2 tasks;/);
    expect(result.stdout).toMatch(/\nvpa +2 +29 +1 of 29 /);
    expect(result.stdout).toMatch(/\nairflow\/etl_daily\/load_orders +21 +/);
    // The hostile name stays on one escaped line.
    expect(result.stdout).toContain("airflow/etl_daily/grow|ing\\n::error::x");
    expect(result.stdout).not.toMatch(/^::error::/m);
    expect(result.stdout).toMatch(/2 of 2 at 512 MiB ⚠/);
  });

  it("writes Markdown with every name escaped as text", async () => {
    const result = await runCli(
      ["backtest", "--db", database.url, "--window-end", windowEnd, "--format", "md"],
      { env: { REDIS_URL: "" } },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("| rightsize | 2 | 29 | 0 of 29 |");
    expect(result.stdout).toContain("grow\\|ing ::error::x");
  });

  it("bad flags exit 2 with one line naming the flag", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["backtest", "--policy", "p95"], /--policy.*p95.*rightsize, vpa, krr-simple, kubecost, max-seen/],
      [["backtest", "--format", "html"], /--format.*html/],
      [["backtest", "--task", "load_orders"], /--task.*orchestrator\/pipeline\/task/],
      [["backtest", "--window-end", "yesterday"], /--window-end.*ISO-8601/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli([...args, "--db", database.url], { env: { REDIS_URL: "" } });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n")[0]).toMatch(message);
    }
  });
});
