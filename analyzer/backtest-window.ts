/**
 * The window's backtest (`rightsize backtest`): every task's runs replayed against every sizing policy,
 * summed per policy for the side-by-side table, with one policy's rows per task. The loader is thin: it
 * reads the window's per-run summaries (db/queries/task-histories.ts), never a sample; the sums are pure.
 */
import type { Config } from "../common/config.js";
import { type TaskKey, taskKeyString } from "../common/task-key.js";
import type { Db } from "../db/client.js";
import { loadTaskHistories } from "../db/queries/task-histories.js";
import { backtestTask, type TaskBacktest } from "./backtest.js";
import { batchesOf, type Night, settingsOf, summarizeNight, tasksOfNight, windowOf } from "./nightly.js";
import { type BacktestRun, type PolicyName, policyNames, sizingPolicies } from "./policies.js";
import type { RecommendationSettings } from "./recommend.js";
import { declaredValuesOf, matchConfiguredRequest } from "./requests.js";
import { backtestRunOf, oldestFirst } from "./task-analysis.js";

/** A task's runs as the backtest reads them, oldest first. */
export interface TaskRuns {
  key: TaskKey;
  runs: BacktestRun[];
}

/** One policy's sums over every task. */
export interface PolicyTotals {
  policy: PolicyName;
  description: string;
  source: string;
  tasks: number;
  /** In sample: sized from every run, replayed on every run. */
  runs: number;
  overMemory: number;
  reclaimZone: number;
  cpuCapped: number;
  stretchedRuns: number;
  /** Summed over the tasks with a known request; null when none has one. */
  usdSaved: number | null;
  coreHoursSaved: number;
  gibHoursSaved: number;
  /** Out of sample: sized from each task's older runs, replayed on its newest quarter. */
  outOfSampleRuns: number;
  outOfSampleOverMemory: number;
  outOfSampleCpuCapped: number;
  /** Tasks whose out-of-sample runs over memory exceed the risk target. */
  tasksOverTarget: number;
}

export interface TaskRow {
  orchestrator: string;
  pipeline: string;
  task: string;
  backtest: TaskBacktest;
}

export interface WindowBacktest {
  windowEnd: string;
  windowDays: number;
  /** The policy of the per-task rows. */
  policy: PolicyName;
  maxOverMemoryShare: number;
  policies: PolicyTotals[];
  tasks: TaskRow[];
}

function emptyTotals(policy: PolicyName): PolicyTotals {
  return {
    policy,
    description: sizingPolicies[policy].description,
    source: sizingPolicies[policy].source,
    tasks: 0,
    runs: 0,
    overMemory: 0,
    reclaimZone: 0,
    cpuCapped: 0,
    stretchedRuns: 0,
    usdSaved: null,
    coreHoursSaved: 0,
    gibHoursSaved: 0,
    outOfSampleRuns: 0,
    outOfSampleOverMemory: 0,
    outOfSampleCpuCapped: 0,
    tasksOverTarget: 0,
  };
}

/** Adds one task's backtest to its policy's sums. */
export function addToTotals(totals: PolicyTotals, backtest: TaskBacktest): void {
  const { inSample, outOfSample } = backtest;
  totals.tasks++;
  totals.runs += inSample.runs;
  totals.overMemory += inSample.overMemory;
  totals.reclaimZone += inSample.reclaimZone;
  totals.cpuCapped += inSample.cpuCapped;
  totals.stretchedRuns += inSample.stretchedRuns;
  totals.coreHoursSaved += inSample.coreHoursSaved;
  totals.gibHoursSaved += inSample.gibHoursSaved;
  if (inSample.usdSaved !== null) totals.usdSaved = (totals.usdSaved ?? 0) + inSample.usdSaved;
  if (outOfSample) {
    totals.outOfSampleRuns += outOfSample.runs;
    totals.outOfSampleOverMemory += outOfSample.overMemory;
    totals.outOfSampleCpuCapped += outOfSample.cpuCapped;
  }
  if (backtest.meetsTarget === false) totals.tasksOverTarget++;
}

/** The running sums of a window's backtest: one entry per policy, and the rows of the chosen one. */
export interface BacktestSums {
  policy: PolicyName;
  totals: Map<PolicyName, PolicyTotals>;
  rows: TaskRow[];
}

export function startSums(policy: PolicyName): BacktestSums {
  return { policy, totals: new Map(policyNames.map((name) => [name, emptyTotals(name)])), rows: [] };
}

/** Backtests `tasks` under every policy into `sums` (a batch at a time, so no more than a batch is held). */
export function addTasks(
  sums: BacktestSums,
  tasks: readonly TaskRuns[],
  settings: RecommendationSettings,
): void {
  for (const task of tasks) {
    for (const name of policyNames) {
      const backtest = backtestTask(task.runs, name, settings);
      addToTotals(sums.totals.get(name)!, backtest);
      if (name === sums.policy) sums.rows.push({ ...task.key, backtest });
    }
  }
}

/** The per-policy sums, rounded as the document's money is, and the rows. */
export function finishSums(sums: BacktestSums): Pick<WindowBacktest, "policies" | "tasks"> {
  const round = (value: number) => Math.round(value * 1e6) / 1e6;
  const policies = [...sums.totals.values()].map((totals) => ({
    ...totals,
    coreHoursSaved: round(totals.coreHoursSaved),
    gibHoursSaved: round(totals.gibHoursSaved),
    usdSaved: totals.usdSaved === null ? null : round(totals.usdSaved),
  }));
  return { policies, tasks: sums.rows };
}

/**
 * The window's backtest from the database: the window's unsummarized runs summarized first (as the night
 * does), then each batch of tasks read in three statements and backtested, the next batch's read under
 * way meanwhile (two batches held at most). `task` limits it to one key.
 */
export async function backtestWindow(
  db: Db,
  config: Config,
  night: Night,
  options: { task?: TaskKey; policy: PolicyName },
): Promise<WindowBacktest> {
  await summarizeNight(db, config, night);
  const window = windowOf(night, config.analysis.maxRuns);
  const keys = options.task ? [options.task] : await tasksOfNight(db, config, night);
  const settings = settingsOf(config);
  const sums = startSums(options.policy);
  const batches = batchesOf(keys, 1, keys.length);
  // The next batch is read while this one is backtested: Postgres answers while Node computes, so the
  // command takes about the longer of the two rather than their sum (BENCHMARKS.md "backtest").
  let next = batches.length > 0 ? loadTaskHistories(db, batches[0]!, window) : null;
  for (let index = 0; index < batches.length; index++) {
    const batch = batches[index]!;
    const histories = await next!;
    next = index + 1 < batches.length ? loadTaskHistories(db, batches[index + 1]!, window) : null;
    // Awaited on the next turn; if this batch's backtest throws first, its failure is not unhandled.
    next?.catch(() => undefined);
    const tasks: TaskRuns[] = [];
    for (const key of batch) {
      const history = histories.get(taskKeyString(key));
      if (!history || history.runs.length === 0) continue;
      const requests = {
        declared: declaredValuesOf(history.declared),
        configured: matchConfiguredRequest(config.analysis.requests, key),
      };
      tasks.push({ key, runs: oldestFirst(history.runs).map((run) => backtestRunOf(run, requests)) });
    }
    addTasks(sums, tasks, settings);
  }
  return {
    windowEnd: night.windowEnd.toISOString(),
    windowDays: night.windowDays,
    policy: options.policy,
    maxOverMemoryShare: config.analysis.maxOverMemoryShare,
    ...finishSums(sums),
  };
}
