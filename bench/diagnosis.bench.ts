/**
 * The night's diagnoses alone, pure: `taskDiagnosisOf` (analyzer/task-diagnosis.ts: the latest and the
 * slowest run against their comparable runs, and what the duration follows) for every task of the 10 M-sample
 * night's shape, 1,000 tasks × 20 runs, seeded; half the tasks with the collector's wall-clock split, a third
 * with two remote endpoints, every tenth inconsistent (its duration following its bytes read). Beside it,
 * the floor every per-task statistic pays: sorting each task's runs by duration. Median of 9 rounds after 3
 * warm-ups, in this process.
 *
 * DIAGNOSIS_BENCH_BASELINE=/path/to/other/dist times that build's `taskDiagnosisOf` on the same runs in the
 * same process, alternating rounds, and says whether both documents are the same.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { RunSummary } from "../db/queries/task-histories.js";
import { taskDiagnosisOf } from "../analyzer/task-diagnosis.js";
import { syntheticRun } from "../test-support/analyzer-fixtures.js";

const TASKS = 1000;
const RUNS = 20;
const WARM_UPS = 3;
const ROUNDS = 9;

type Diagnose = (runs: ReadonlyArray<RunSummary>) => unknown;

/** A linear congruential generator: the same runs on every machine. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function tasksOfTheNight(): RunSummary[][] {
  const random = seeded(20_261_207);
  const tasks: RunSummary[][] = [];
  for (let task = 0; task < TASKS; task++) {
    const inconsistent = task % 10 === 0;
    const runs: RunSummary[] = [];
    for (let index = 0; index < RUNS; index++) {
      const input = (1 + random() * (inconsistent ? 6 : 0.2)) * 2 ** 30;
      const seconds = 300 * (input / 2 ** 30) + random() * 60;
      const wall = {
        onCpuSeconds: seconds * 0.5,
        cpuWaitSeconds: seconds * 0.1 * random(),
        diskWaitSeconds: seconds * 0.2 * random(),
        netWaitSeconds: seconds * 0.1,
        childWaitSeconds: 0,
        idleSeconds: seconds * 0.1,
      };
      // Each task runs at an hour of its own, with execution ids of its own.
      const startedAt = new Date(Date.UTC(2026, 10, 1 + index, task % 24, 0, 0));
      runs.push(
        syntheticRun(
          {
            executionId: `00000000-0000-4000-8000-${String(task * RUNS + index).padStart(12, "0")}`,
            startedAt,
            endedAt: new Date(startedAt.getTime() + seconds * 1000),
            durationSeconds: seconds,
            sampledSeconds: seconds,
            ticks: Math.round(seconds),
            tryNumber: 1 + (index % 7 === 0 ? 1 : 0),
            hostId: `worker-${task % 8}`,
            endpoints:
              task % 3 === 0
                ? [
                    { endpoint: "db.internal:5432", waitSeconds: seconds * 0.05 },
                    { endpoint: "s3.amazonaws.com:443", waitSeconds: seconds * 0.05 * random() },
                  ]
                : null,
            cpuSeconds: seconds * 0.5,
            limitMemoryBytes: 4 * 2 ** 30,
            peakRssBytes: Math.round((1 + random()) * 2 ** 30),
            diskReadBytes: Math.round(input),
            diskWriteBytes: Math.round(random() * 2 ** 27),
            netRxBytes: 2 ** 20,
            netTxBytes: 2 ** 16,
            ...wall,
            wall: task % 2 === 0 ? wall : null,
            throttledPeriods: 10,
            totalPeriods: 100,
            processesStarted: 12,
          },
          index,
        ),
      );
    }
    tasks.push(runs);
  }
  return tasks;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function fingerprint(tasks: RunSummary[][], diagnose: Diagnose): string {
  return createHash("sha256")
    .update(JSON.stringify(tasks.map((runs) => diagnose(runs))))
    .digest("hex")
    .slice(0, 12);
}

export async function run(): Promise<void> {
  const tasks = tasksOfTheNight();
  const baselineDist = process.env.DIAGNOSIS_BENCH_BASELINE;
  const baseline = baselineDist
    ? ((await import(`${baselineDist}/analyzer/task-diagnosis.js`)) as { taskDiagnosisOf: Diagnose })
        .taskDiagnosisOf
    : null;
  const contenders: Array<[string, Diagnose]> = [
    ["rightsize", taskDiagnosisOf],
    ["sort", (runs) => [...runs].sort((a, b) => a.durationSeconds - b.durationSeconds)],
    ...(baseline ? [["baseline", baseline] as [string, Diagnose]] : []),
  ];
  const times = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < WARM_UPS + ROUNDS; round++) {
    for (const [name, diagnose] of contenders) {
      const started = performance.now();
      for (const runs of tasks) diagnose(runs);
      if (round >= WARM_UPS) times.get(name)!.push(performance.now() - started);
    }
  }
  const [ours, floor] = [medianOf(times.get("rightsize")!), medianOf(times.get("sort")!)];
  let table =
    `| what | rightsize | peer / baseline | ratio |\n| --- | --- | --- | --- |\n` +
    `| the diagnoses of 1,000 tasks × 20 runs (latest, slowest, variation) | ${ours.toFixed(1)} ms | sorting each task's runs by duration ${floor.toFixed(1)} ms | ${(ours / floor).toFixed(1)} × |\n`;
  if (baseline) {
    const theirs = medianOf(times.get("baseline")!);
    const same = fingerprint(tasks, taskDiagnosisOf) === fingerprint(tasks, baseline);
    table += `| the same, against ${baselineDist} | ${ours.toFixed(1)} ms | ${theirs.toFixed(1)} ms | ${(ours / theirs).toFixed(2)} × (documents ${same ? "identical" : "differ"}) |\n`;
  }
  process.stdout.write(table);
}
