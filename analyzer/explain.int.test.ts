/**
 * `explain` on a real database (both engines): a run slowed by disk waits while a neighbour on the same
 * host wrote in the same bursts. The diagnosis must name the disk and the neighbour's task key, not the
 * steady CPU burner beside it nor the writer on another host; and the built CLI says the same.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analysisDocumentSchema } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import { windowOf } from "./nightly.js";
import { runCli } from "../test-support/cli.js";
import { engines, type TestDatabase } from "../test-support/databases.js";
import {
  burnerTask,
  crowdedTask,
  endpointTask,
  farTask,
  seedSlowEndpoint,
  seedUntrackedContention,
  seedSlowedRun,
  SLOW_SECONDS,
  slowedTask,
  UNTRACKED_CORES,
  USUAL_RUNS,
  writerTask,
} from "../test-support/diagnosis-fixtures.js";
import { explainRun } from "./explain.js";
import { UNTRACKED_LABEL } from "./neighbours.js";

const windowEnd = new Date("2026-11-20T02:00:00.000Z");
const window = windowOf({ windowEnd, windowDays: 14 }, 100);
/** The CLI runs in a folder of its own: its spool and reports stay out of the repository. */
const cwd = mkdtempSync(join(tmpdir(), "rightsize-explain-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe.each(engines)("explain on $name", ({ name, create }) => {
  let database: TestDatabase;
  let slowedExecutionId: string;

  beforeAll(async () => {
    database = await create();
    ({ slowedExecutionId } = await seedSlowedRun(database.handle.db, windowEnd));
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("names the disk and the neighbour that wrote in the same bursts", async () => {
    const explanation = await explainRun(database.handle.db, slowedTask, { latest: true }, window);
    const diagnosis = explanation!.diagnosis;
    expect(diagnosis.executionId).toBe(slowedExecutionId);
    expect(diagnosis.durationSeconds).toBe(SLOW_SECONDS);
    expect(diagnosis.comparableRuns).toBe(USUAL_RUNS);
    expect(diagnosis.verdict).toBe("slower");
    expect(diagnosis.mainCause).toBe("diskWait");
    const sum = diagnosis.components.reduce((total, component) => total + component.deltaSeconds, 0);
    expect(sum).toBeCloseTo(diagnosis.deltaSeconds, 6);
    expect(diagnosis.sentences[1]).toMatch(/^Where the difference went: \+\dm \d\ds blocked on disk/);

    const disk = explanation!.neighbours.find((finding) => finding.resource === "disk")!;
    expect(disk.ranks[0]!.label).toBe(taskKeyString(writerTask));
    expect(disk.ranks[0]!.strength).toBe("strong");
    expect(disk.ranks.map((rank) => rank.label)).toContain(taskKeyString(burnerTask));
    expect(disk.ranks.map((rank) => rank.label)).not.toContain(taskKeyString(farTask));
    expect(disk.ranks.find((rank) => rank.label === taskKeyString(burnerTask))!.strength).not.toBe("strong");
    expect(disk.sentences[0]).toMatch(
      new RegExp(`^${taskKeyString(writerTask)} \\(run manual__purge\\) overlapped 6m 00s on the same host`),
    );
  });

  it("names the host's untracked processes when they, not a tracked neighbour, line up with the CPU wait", async () => {
    await seedUntrackedContention(database.handle.db, windowEnd);
    const explanation = await explainRun(database.handle.db, crowdedTask, { latest: true }, window);
    const cpu = explanation!.neighbours.find((finding) => finding.resource === "cpu")!;
    expect(cpu.ranks[0]).toMatchObject({ label: UNTRACKED_LABEL, executionId: null, strength: "strong" });
    expect(cpu.ranks[1]!.label).toBe(taskKeyString(burnerTask));
    expect(cpu.ranks[1]!.strength).not.toBe("strong");
    // Half the run's ticks are bursts of 1.6 cores, plus the host's 0.1 beyond its tasks all along.
    expect(cpu.ranks[0]!.cpuSeconds / cpu.ranks[0]!.overlapSeconds).toBeCloseTo(UNTRACKED_CORES / 2 + 0.1, 1);
    expect(cpu.sentences[0]).toMatch(
      /^untracked processes overlapped 6m 00s on the same host, using \d+m \d\ds of CPU \(0\.9 cores on average\)/,
    );
  });

  it("names the remote endpoint a run waited on far longer than usual", async () => {
    await seedSlowEndpoint(database.handle.db, windowEnd);
    const explanation = await explainRun(database.handle.db, endpointTask, { latest: true }, window);
    const diagnosis = explanation!.diagnosis;
    expect(diagnosis.verdict).toBe("slower");
    expect(diagnosis.mainCause).toBe("networkWait");
    expect(diagnosis.mainEndpoint).toBe("rates.example.com:443");
    expect(diagnosis.sentences[1]).toMatch(
      /^Where the difference went: \+2m \d\ds waiting on rates\.example\.com:443/,
    );
    // No CPU or disk wait beyond the baseline: no neighbour is looked for.
    expect(explanation!.neighbours).toEqual([]);
  });

  it("--slowest and --run name the same run; an unknown run is undefined; a usual run has no neighbours", async () => {
    const slowest = await explainRun(database.handle.db, slowedTask, { slowest: true }, window);
    expect(slowest!.diagnosis.executionId).toBe(slowedExecutionId);
    const byRun = await explainRun(database.handle.db, slowedTask, { runId: "scheduled__today" }, window);
    expect(byRun!.diagnosis.executionId).toBe(slowedExecutionId);
    expect(await explainRun(database.handle.db, slowedTask, { runId: "nope" }, window)).toBeUndefined();
    const usual = await explainRun(database.handle.db, slowedTask, { runId: "scheduled__day-3" }, window);
    expect(usual!.diagnosis.verdict).toBe("usual");
    expect(usual!.neighbours).toEqual([]);
  });

  if (name === "postgres") {
    it("the built CLI prints the cause and the neighbour, and exits 1 for an unknown task", async () => {
      const args = ["explain", taskKeyString(slowedTask), "--window-end", windowEnd.toISOString()];
      const text = await runCli([...args, "--db", database.url], { cwd });
      expect(text.stderr).toBe("");
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/blocked on disk/);
      expect(text.stdout).toMatch(/Neighbours while blocked on disk/);
      expect(text.stdout).toContain(`${taskKeyString(writerTask)} (run manual__purge)`);
      const json = await runCli([...args, "--db", database.url, "--format", "json"], { cwd });
      expect(JSON.parse(json.stdout).diagnosis.mainCause).toBe("diskWait");
      const missing = await runCli(["explain", "airflow/none/none", "--db", database.url], { cwd });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/no finished run of airflow\/none\/none/);
      const bad = await runCli(["explain", "load_orders", "--db", database.url], { cwd });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/TASK 'load_orders' is not a task key/);
    });

    it("the night's analysis document holds the slowed run's diagnosis", async () => {
      const file = join(cwd, "analysis.json");
      const night = await runCli(
        ["analyze", "--db", database.url, "--window-end", windowEnd.toISOString(), "--json", file],
        { cwd, env: { REDIS_URL: "" } },
      );
      expect(night.code, night.stderr).toBe(0);
      const document = analysisDocumentSchema.parse(JSON.parse(readFileSync(file, "utf8")));
      const task = document.tasks.find((item) => item.task === slowedTask.task)!;
      expect(task.diagnosis?.latest.runId).toBe("scheduled__today");
      expect(task.diagnosis?.latest.mainCause).toBe("diskWait");
      expect(task.diagnosis?.latest.mainCauseText).toMatch(/^\+\dm \d\ds blocked on disk$/);
      // The slowed run is also the slowest: not repeated.
      expect(task.diagnosis?.worst).toBeUndefined();
    });
  }
});
