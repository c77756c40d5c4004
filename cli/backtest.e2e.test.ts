/**
 * The backtest on real runs: 20 `rightsize run`s of a process that holds about 120 MiB and one that holds
 * about 420 MiB, sampled by the real wrapper into a real Postgres. The percentile policies (VPA's p90,
 * Kubecost's p95 over a target) size below the spike and `rightsize backtest` says the spiking run would
 * have been OOM-killed; rightsize's own policy sizes above it and says none would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskBacktest } from "../analyzer/backtest.js";
import { MiB } from "../common/units.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";

const python = "/usr/bin/python3";
const task = "generic/backtest-e2e/spiky";
/** Touches every page of `mib` MiB (so it is resident), holds it for 1.5 s, and exits. */
const holder = (mib: number) =>
  `import time\nb = bytearray(${mib} * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(1.5)\n`;
const RUNS = 21;
const SPIKE_INDEX = 7;

let database: TestDatabase;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  const env = { REDIS_URL: "", RIGHTSIZE_HOST_ID: "backtest-e2e", LOG_LEVEL: "warn" };
  // Three at a time: each run's own memory is what is measured, not the host's.
  for (let first = 0; first < RUNS; first += 3) {
    const batch = Array.from({ length: Math.min(3, RUNS - first) }, (_, offset) => first + offset);
    const results = await Promise.all(
      batch.map((index) =>
        runCli(
          [
            "--db",
            database.url,
            "run",
            "--pipeline",
            "backtest-e2e",
            "--task",
            "spiky",
            "--run",
            `run-${String(index).padStart(2, "0")}`,
            "--request-memory",
            "1Gi",
            "--interval",
            "200ms",
            "--",
            python,
            "-c",
            holder(index === SPIKE_INDEX ? 420 : 120),
          ],
          { env, timeoutMs: 120_000 },
        ),
      ),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
  }
}, 600_000);

afterAll(async () => {
  await database?.drop();
});

describe("rightsize backtest on real runs", () => {
  it("says the percentile policies would have OOM-killed the spiking run, and rightsize's would not", async () => {
    const result = await runCli(["--db", database.url, "backtest", "--task", task, "--format", "json"], {
      env: { REDIS_URL: "" },
      timeoutMs: 120_000,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const view = JSON.parse(result.stdout) as {
      policies: Array<{ policy: string; runs: number; overMemory: number }>;
      tasks: Array<{ backtest: TaskBacktest }>;
    };
    const byPolicy = Object.fromEntries(view.policies.map((row) => [row.policy, row]));
    expect(byPolicy.vpa).toMatchObject({ runs: RUNS, overMemory: 1 });
    expect(byPolicy.kubecost).toMatchObject({ runs: RUNS, overMemory: 1 });
    expect(byPolicy.rightsize).toMatchObject({ runs: RUNS, overMemory: 0 });
    expect(byPolicy["max-seen"]).toMatchObject({ runs: RUNS, overMemory: 0 });
    const { inSample } = view.tasks[0]!.backtest;
    // Sized above the spike's 420 MiB (plus the interpreter), below the 1 GiB it asked for.
    expect(inSample.memoryBytes).toBeGreaterThan(420 * MiB);
    expect(inSample.memoryBytes).toBeLessThan(1024 * MiB);
    expect(inSample).toMatchObject({ runs: RUNS, overMemory: 0 });
    expect(inSample.gibHoursSaved).toBeGreaterThan(0);
  });
});
