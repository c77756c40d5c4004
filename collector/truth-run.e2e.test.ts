/**
 * The truth suite for the `rightsize run … -- CMD` wrapper (`npm run truth`): the workload shapes of
 * test-support/truth.ts, each under its own wrapper, on the real Postgres, every stored number held
 * against the kernel's account of the same work. The wrapper is the root's parent, so no other process
 * can wait4 the root: the reference is the root's own getrusage (itself and every child it reaped) taken
 * at its very end, after which it leaves by os._exit (test-support/truth-workloads/workload.py `finish`).
 * Task CPU within ±2 %, per-command CPU and memory peaks within ±5 %, process counts exact. The wrappers
 * run concurrently: CPU totals, counts and peaks do not depend on how the cores are shared. Needs
 * `npm run build`.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../test-support/cli.js";
import { useCollectorTestBed } from "../test-support/collector-tests.js";
import {
  expectCommandCpuAndMemory,
  expectCounts,
  expectWithin,
  prepareBurstBin,
  python,
  type StoredCommand,
  type StoredTask,
  storedCommands,
  storedTasks,
  TOLERANCE,
  truthShapes,
  type WorkloadReport,
  workloadScript,
} from "../test-support/truth.js";

const bed = useCollectorTestBed("rightsize-truth-run-");
const engine = "postgres, rightsize run";
const hostId = `truth-run-${randomUUID().slice(0, 8)}`;
const pipeline = "truth-run";

interface Outcome {
  result: CliResult;
  workload: WorkloadReport | null;
  stored: StoredTask[];
  commands: Map<string, StoredCommand>;
}
const outcomes = new Map<string, Outcome>();

beforeAll(async () => {
  const burstBin = prepareBurstBin(bed.folder);
  const folder = join(bed.folder, "reports");
  mkdirSync(folder);
  const run = randomUUID().slice(0, 8);
  const results = await Promise.all(
    truthShapes.map(async (shape) => {
      const report = join(folder, `${shape.name}.report.json`);
      const result = await runCli(
        [
          "--db",
          bed.database.url,
          "run",
          "--pipeline",
          pipeline,
          "--task",
          shape.name,
          "--run",
          run,
          "--interval",
          "500ms",
          "--",
          python,
          workloadScript,
          ...shape.args,
        ],
        {
          env: {
            RIGHTSIZE_HOST_ID: hostId,
            RIGHTSIZE_SPOOL_DIR: join(bed.folder, "spool"),
            TRUTH_REPORT: report,
            TRUTH_BIN: burstBin,
          },
          timeoutMs: 300_000,
        },
      );
      const workload = existsSync(report)
        ? (JSON.parse(readFileSync(report, "utf8")) as WorkloadReport)
        : null;
      return [shape.name, { result, workload }] as const;
    }),
  );
  for (const [name, { result, workload }] of results) {
    const stored = await storedTasks(bed.database.handle.db, hostId, { pipeline, task: name });
    const commands =
      stored.length === 1 ? await storedCommands(bed.database.handle.db, stored[0]!.id) : new Map();
    outcomes.set(name, { result, workload, stored, commands });
  }
}, 400_000);

describe("the run wrapper against the kernel", () => {
  it.each(truthShapes)("$label", (shape) => {
    const outcome = outcomes.get(shape.name);
    if (!outcome) throw new Error(`${shape.label} [${engine}]: the workload did not run (see beforeAll)`);
    const { result, workload, stored, commands } = outcome;
    const context = { shape: shape.label, engine };
    expect(result.code, `${shape.label} [${engine}]: rightsize run's exit code\n${result.stderr}`).toBe(0);
    expect(workload, `${shape.label} [${engine}]: the workload's report`).not.toBeNull();
    expect(stored, `${shape.label} [${engine}]: one execution stored`).toHaveLength(1);
    const execution = stored[0]!;

    // The double-forked grandchild is reparented out of the tree (to init or the wrapper), and still
    // belongs to the task while the task's root lives: its own getrusage at its end is added.
    const orphans = (workload!.orphans ?? []).reduce((sum, orphan) => sum + orphan.cpuSeconds, 0);
    expectWithin({
      ...context,
      what: "task CPU (max cpu_seconds_total)",
      stored: execution.cpu,
      reference: workload!.total.cpuSeconds + orphans,
      source: `getrusage SELF + CHILDREN of the root at its end${orphans > 0 ? ", plus the orphan's own" : ""}`,
      tolerance: TOLERANCE.taskCpu,
      unit: "s",
      note: `${execution.samples} samples`,
    });
    expectCounts(context, commands, shape.commands);
    expectCommandCpuAndMemory(context, shape, { commands, peakRss: execution.peak_rss }, workload!, null);
  });
});
