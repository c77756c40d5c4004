/**
 * Sizing policies on traces with known truth (bench/backtest-traces.ts, seeded): every run after its
 * task's first 14 is sized by each policy from the runs before it (the night's window: the 14 days
 * before it, at most 100 runs), then replayed (analyzer/backtest.ts) against its true needs. Side by side
 * per policy: the OOM rate (runs whose true peak exceeded the memory), the throttled share (runs the CPU
 * cap would have made at least 1 % longer), and the slack (requested but unused, as Google's Autopilot
 * reports it: 1 − usage ÷ request, over the runs that fit), beside the hand-set request of 4 cores and
 * 4 GiB. Then the time the backtest of every policy takes on the 10 M-sample night's shape (1,000 tasks ×
 * 20 runs), beside the recommendation it tests.
 */
import { performance } from "node:perf_hooks";
import { backtestTask, demandAbove, exceedsMemory, NOTICEABLE_STRETCH } from "../analyzer/backtest.js";
import { addTasks, startSums } from "../analyzer/backtest-window.js";
import {
  type BacktestRun,
  type PolicyName,
  policyNames,
  type Sizing,
  sizingPolicies,
} from "../analyzer/policies.js";
import { type RecommendationSettings, recommend } from "../analyzer/recommend.js";
import { MiB } from "../common/units.js";
import { generateTraces, type TraceShape, traceShapes } from "./backtest-traces.js";

const seed = 20_261_207;
const tasksPerShape = 8;
const runsPerTask = 120;
const windowDays = 14;
const maxRuns = 100;
/** Runs before the first one tested: a task's first two weeks of daily runs. */
const warmUpRuns = 14;

const settings: RecommendationSettings = {
  cpuBuffer: 0.15,
  memoryBuffer: 0.15,
  cpuRunPercentile: 90,
  memoryPeakPercentile: 100,
  pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 },
};

interface Tally {
  tests: number;
  oom: number;
  throttled: number;
  requestedBytes: number;
  usedBytes: number;
  requestedCoreSeconds: number;
  usedCoreSeconds: number;
  oomByShape: Map<TraceShape, { tests: number; oom: number }>;
}

function emptyTally(): Tally {
  return {
    tests: 0,
    oom: 0,
    throttled: 0,
    requestedBytes: 0,
    usedBytes: 0,
    requestedCoreSeconds: 0,
    usedCoreSeconds: 0,
    oomByShape: new Map(traceShapes.map((shape) => [shape, { tests: 0, oom: 0 }])),
  };
}

function score(tally: Tally, shape: TraceShape, run: BacktestRun, sizing: Sizing): void {
  tally.tests++;
  const byShape = tally.oomByShape.get(shape)!;
  byShape.tests++;
  if (exceedsMemory(run, sizing.memoryBytes)) {
    tally.oom++;
    byShape.oom++;
    return;
  }
  if (demandAbove(run, sizing.cpuCores).stretch >= NOTICEABLE_STRETCH) tally.throttled++;
  tally.requestedBytes += sizing.memoryBytes;
  tally.usedBytes += run.peakRssBytes ?? 0;
  tally.requestedCoreSeconds += sizing.cpuCores * run.durationSeconds;
  tally.usedCoreSeconds += run.cpuSeconds ?? 0;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "–" : `${((100 * part) / whole).toFixed(1)} %`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

function policyComparison(): void {
  const tasks = generateTraces(seed, tasksPerShape, runsPerTask);
  const tallies = new Map<PolicyName | "by hand", Tally>([
    ...policyNames.map((name) => [name, emptyTally()] as const),
    ["by hand", emptyTally()],
  ]);
  const byHand: Sizing = { cpuCores: 4, memoryBytes: 4096 * MiB };
  for (const task of tasks) {
    for (let index = 0; index < task.runs.length; index++) {
      const run = task.runs[index]!;
      const from = run.startedAt.getTime() - windowDays * 86_400_000;
      if (index < warmUpRuns) continue; // a history to size from first
      const history = task.runs
        .slice(0, index)
        .filter((past) => past.startedAt.getTime() >= from)
        .slice(-maxRuns);
      for (const name of policyNames) {
        score(tallies.get(name)!, task.shape, run, sizingPolicies[name].size(history, settings));
      }
      score(tallies.get("by hand")!, task.shape, run, byHand);
    }
  }
  const rows = [...tallies].map(([name, tally]) => [
    name,
    String(tally.tests),
    percent(tally.oom, tally.tests),
    percent(tally.throttled, tally.tests),
    percent(tally.requestedBytes - tally.usedBytes, tally.requestedBytes),
    percent(tally.requestedCoreSeconds - tally.usedCoreSeconds, tally.requestedCoreSeconds),
  ]);
  process.stdout.write(
    `${tasks.length} tasks (${tasksPerShape} of each shape) × ${runsPerTask} runs, seed ${seed}; each run after the first ${warmUpRuns} sized from the ${windowDays} days before it (at most ${maxRuns} runs)\n\n`,
  );
  process.stdout.write(
    `${table(["policy", "runs tested", "OOM rate", "throttled ≥ 1 %", "memory slack", "CPU slack"], rows)}\n\n`,
  );
  const shapeRows = [...tallies].map(([name, tally]) => [
    name,
    ...traceShapes.map((shape) => {
      const counts = tally.oomByShape.get(shape)!;
      return percent(counts.oom, counts.tests);
    }),
  ]);
  process.stdout.write(`OOM rate by shape:\n\n${table(["policy", ...traceShapes], shapeRows)}\n\n`);
}

function timed(work: () => void): number {
  work();
  const times: number[] = [];
  for (let repetition = 0; repetition < 3; repetition++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[1]!;
}

function backtestCost(): void {
  // The 10 M-sample night's shape: 1,000 tasks × 20 runs (bench/analysis.bench.ts).
  const tasks = generateTraces(seed, 167, 20).slice(0, 1000);
  const windowEnd = new Date(Date.UTC(2026, 11, 1));
  const recommendAll = () => {
    for (const task of tasks) {
      recommend(
        { runs: task.runs, coresMax: 4, throttledShare: null, windowEnd, windowDays: 14, maxRuns: 100 },
        settings,
      );
    }
  };
  const nightBacktest = () => {
    for (const task of tasks) backtestTask(task.runs, "rightsize", settings);
  };
  const everyPolicy = () =>
    addTasks(
      startSums("rightsize"),
      tasks.map((task) => ({
        key: { orchestrator: "generic", pipeline: "bench", task: task.name },
        runs: task.runs,
      })),
      settings,
    );
  const floor = timed(recommendAll);
  const night = timed(nightBacktest);
  const all = timed(everyPolicy);
  process.stdout.write(
    `${table(
      ["1,000 tasks × 20 runs", "median ms", "× recommend"],
      [
        ["recommend (floor)", floor.toFixed(1), "1.00"],
        [
          "backtest, the night's (rightsize, in and out of sample)",
          night.toFixed(1),
          (night / floor).toFixed(2),
        ],
        ["backtest, every policy (`rightsize backtest`)", all.toFixed(1), (all / floor).toFixed(2)],
      ],
    )}\n`,
  );
}

export async function run(): Promise<void> {
  policyComparison();
  backtestCost();
}
