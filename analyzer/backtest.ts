/**
 * Backtests of recommendations: what a request would have done to the task's own runs. Each run's stored
 * summary (peak memory, per-second cores sketch, duration, OOM kills; db/queries/task-histories.ts) is
 * replayed against the request: runs over the memory (they would have been OOM-killed), runs in the
 * reclaim zone just below it, runs whose CPU demand rose above the cores and how much longer they would
 * have taken, and what the request saves against the one the runs had. In sample (recommend from every
 * run, replay on every run) and out of sample (recommend from the older runs, replay on the newest), which
 * is what `confidence` is backed by (docs/analyzer.md "Backtest"). Pure functions of plain data.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import { formatBytes, GiB } from "../common/units.js";
import { coresText } from "./statistics.js";
import {
  type BacktestRun,
  killLimitOf,
  type PolicyName,
  policyNamed,
  type Sizing,
  sizingPolicies,
} from "./policies.js";
import {
  costOf,
  cpuSeverity,
  memorySeverity,
  recommend,
  worst,
  type Recommendation,
  type RecommendationInput,
  type RecommendationSettings,
} from "./recommend.js";

/**
 * A run whose peak came within 10 % below the memory is in the reclaim zone: near a cgroup's limit the
 * kernel reclaims the run's page cache and it slows, before any OOM kill (kernel.org
 * admin-guide/cgroup-v2.rst, "memory.high" and "memory.max"). Chosen value.
 */
export const RECLAIM_ZONE = 0.1;
/**
 * The newest quarter of a task's runs is held out: recommend from the older three quarters, replay on the
 * newest (a time-ordered split, as a recommendation is applied to the runs that come after it). Chosen value.
 */
export const HOLD_OUT_SHARE = 0.25;
/** Fewer runs than this give no out-of-sample test: one run to learn from and one to test is not evidence. */
export const MIN_SPLIT_RUNS = 4;
/**
 * The default risk target: at most 1 run in 100 over the memory, out of sample (`analysis.maxOverMemoryShare`).
 * With fewer than 100 held-out runs, one run over fails it.
 */
export const DEFAULT_MAX_OVER_MEMORY_SHARE = 0.01;
/** A stretch under 1 % of a run's duration is within the run-to-run noise of a batch task (chosen value). */
export const NOTICEABLE_STRETCH = 0.01;

/** What replaying one request against a set of runs finds. Counts are of sampled runs. */
export interface Replay {
  /** Sampled runs replayed (unsampled runs are not evidence). */
  runs: number;
  /** Runs whose peak exceeded the memory, or that were OOM-killed at or above it: they would have been killed. */
  overMemory: number;
  /** Runs that fit, with a peak within {@link RECLAIM_ZONE} below the memory. */
  reclaimZone: number;
  /** Runs whose per-second CPU demand rose above the cores at some point. */
  cpuCapped: number;
  /** Seconds, over all runs, in which demand was above the cores. */
  cappedSeconds: number;
  /** Runs the cap would have made at least 1 % longer. */
  stretchedRuns: number;
  /** Largest estimated stretch of a run's duration under the cap (0.06 = 6 % longer). */
  maxStretch: number;
  /** Core-hours and GiB-hours the request saves against the runs' own requests (negative: it asks more). */
  coreHoursSaved: number;
  gibHoursSaved: number;
  /** Their price (`pricing.*`, as recommend.ts costOf); null when no run had a known request. */
  usdSaved: number | null;
}

/** Whether `memoryBytes` would have killed the run: its peak is above it, or it was killed at or above it. */
export function exceedsMemory(run: BacktestRun, memoryBytes: number): boolean {
  if (run.peakRssBytes !== null && run.peakRssBytes > memoryBytes) return true;
  // A killed run needed more than its kill limit, by an unknown amount.
  return run.oomKills > 0 && memoryBytes <= killLimitOf(run);
}

/**
 * The run's per-second cores as a quantile function: its sketch (101 points, 1 % of its sampled seconds
 * between neighbours), or, summarized without one, 95 % of its time at its p95 rising to its max over the
 * last 5 % (an over-estimate below the p95, which a cap at or above the p95 does not read).
 */
function quantilePointsOf(run: BacktestRun): { shares: readonly number[]; cores: readonly number[] } {
  const sketch = run.coresQuantiles;
  if (sketch && sketch.length >= 2) return { shares: evenShares(sketch.length), cores: sketch };
  const p95 = run.cpuP95 ?? 0;
  const max = Math.max(p95, run.cpuMax ?? p95);
  return { shares: [0, 0.95, 1], cores: [p95, p95, max] };
}

/** 0, 1/(n−1), …, 1: the shares of a sketch's points, made once per length (the night reads thousands of runs). */
const evenSharesByLength = new Map<number, number[]>();
function evenShares(length: number): readonly number[] {
  let shares = evenSharesByLength.get(length);
  if (!shares) {
    shares = Array.from({ length }, (_, index) => index / (length - 1));
    evenSharesByLength.set(length, shares);
  }
  return shares;
}

/**
 * The run's CPU demand above a cap of `cores`: the seconds spent above it and the CPU-seconds above it,
 * integrated over its quantile function (linear between points).
 *
 * Stretch model: the CPU-seconds above the cap are not lost but deferred; done at the cap's rate they add
 * `excess ÷ cap` seconds to the run. This assumes the run has no idle moment below the cap to absorb them
 * (an upper bound for a bursty run with slack between bursts) and that the sampled demand was the run's
 * true demand (a run already throttled by its own limit demanded more than was sampled: a lower bound).
 */
export function demandAbove(
  run: BacktestRun,
  cores: number,
): { seconds: number; cpuSeconds: number; stretch: number } {
  if (run.ticks <= 0 || cores <= 0) return { seconds: 0, cpuSeconds: 0, stretch: 0 };
  const { shares, cores: levels } = quantilePointsOf(run);
  const sampled = run.sampledSeconds;
  let seconds = 0;
  let cpuSeconds = 0;
  // From the top down: a quantile function never falls, so once a segment's top is at or below the cap
  // every segment under it is too (the unit test holds this against the full integral). The night walks
  // the few points above the cap, not all 101.
  for (let index = levels.length - 1; index >= 1; index--) {
    const low = levels[index - 1]!;
    const high = levels[index]!;
    if (high <= cores) break;
    const width = (shares[index]! - shares[index - 1]!) * sampled;
    if (width <= 0) continue;
    if (low >= cores) {
      seconds += width;
      cpuSeconds += width * ((low + high) / 2 - cores);
    } else {
      // The segment crosses the cap: the part above it is a triangle.
      const above = (high - cores) / (high - low);
      seconds += width * above;
      cpuSeconds += (width * above * (high - cores)) / 2;
    }
  }
  const duration = Math.max(run.durationSeconds, run.sampledSeconds);
  return { seconds, cpuSeconds, stretch: duration > 0 ? cpuSeconds / cores / duration : 0 };
}

/** Replays `sizing` against `runs`: see {@link Replay}. */
export function replay(
  runs: readonly BacktestRun[],
  sizing: Sizing,
  pricing: RecommendationSettings["pricing"],
): Replay {
  const result: Replay = {
    runs: 0,
    overMemory: 0,
    reclaimZone: 0,
    cpuCapped: 0,
    cappedSeconds: 0,
    stretchedRuns: 0,
    maxStretch: 0,
    coreHoursSaved: 0,
    gibHoursSaved: 0,
    usdSaved: null,
  };
  let known = false;
  for (const run of runs) {
    if (run.ticks <= 0) continue;
    result.runs++;
    if (exceedsMemory(run, sizing.memoryBytes)) result.overMemory++;
    else if ((run.peakRssBytes ?? 0) > sizing.memoryBytes * (1 - RECLAIM_ZONE)) result.reclaimZone++;
    const demand = demandAbove(run, sizing.cpuCores);
    if (demand.seconds > 0) result.cpuCapped++;
    result.cappedSeconds += demand.seconds;
    if (demand.stretch >= NOTICEABLE_STRETCH) result.stretchedRuns++;
    result.maxStretch = Math.max(result.maxStretch, demand.stretch);
    // As recommend.ts costOf: the run held its request for its duration, or its sampled time when longer.
    const hours = Math.max(run.durationSeconds, run.sampledSeconds) / 3600;
    if (run.requests.cpuRequest !== null) {
      result.coreHoursSaved += (run.requests.cpuRequest - sizing.cpuCores) * hours;
      known = true;
    }
    if (run.requests.memoryRequest !== null) {
      result.gibHoursSaved += ((run.requests.memoryRequest - sizing.memoryBytes) / GiB) * hours;
      known = true;
    }
  }
  result.cappedSeconds = round(result.cappedSeconds, 3);
  result.maxStretch = round(result.maxStretch, 4);
  result.coreHoursSaved = round(result.coreHoursSaved, 6);
  result.gibHoursSaved = round(result.gibHoursSaved, 6);
  if (known) {
    result.usdSaved = round(
      result.coreHoursSaved * pricing.cpuHourUsd + result.gibHoursSaved * pricing.memoryGibHourUsd,
      6,
    );
  }
  return result;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * The time-ordered split: the older runs to recommend from, the newest {@link HOLD_OUT_SHARE} (at least
 * one) to test on; null below {@link MIN_SPLIT_RUNS} runs. `runs` oldest first.
 */
export function splitByTime<T>(runs: readonly T[]): { training: T[]; test: T[] } | null {
  if (runs.length < MIN_SPLIT_RUNS) return null;
  const testCount = Math.max(1, Math.floor(runs.length * HOLD_OUT_SHARE));
  return { training: runs.slice(0, runs.length - testCount), test: runs.slice(runs.length - testCount) };
}

export type TaskBacktest = NonNullable<TaskAnalysis["backtest"]>;

/**
 * A policy's backtest on one task: in sample (sized from every run, replayed on every run) and out of
 * sample (sized from the older runs, replayed on the newest). `runs` oldest first. `inSampleSizing`
 * replaces the policy's in-sample sizing (the night passes the recommendation it made, so the backtest is
 * of the very values the document recommends).
 */
export function backtestTask(
  runs: readonly BacktestRun[],
  policy: PolicyName,
  settings: RecommendationSettings,
  inSampleSizing?: Sizing,
): TaskBacktest {
  const size = sizingPolicies[policy].size;
  const { cpuCores, memoryBytes } = inSampleSizing ?? size(runs, settings);
  const sized = { cpuCores, memoryBytes };
  const split = splitByTime(runs);
  const outSized = split ? size(split.training, settings) : null;
  const maxOverMemoryShare = settings.maxOverMemoryShare ?? DEFAULT_MAX_OVER_MEMORY_SHARE;
  const outOfSample =
    split && outSized
      ? {
          cpuCores: outSized.cpuCores,
          memoryBytes: outSized.memoryBytes,
          trainingRuns: split.training.length,
          ...replay(split.test, outSized, settings.pricing),
        }
      : null;
  return {
    policy,
    maxOverMemoryShare,
    inSample: { ...sized, ...replay(runs, sized, settings.pricing) },
    outOfSample,
    meetsTarget:
      outOfSample === null || outOfSample.runs === 0
        ? null
        : outOfSample.overMemory / outOfSample.runs <= maxOverMemoryShare,
  };
}

/**
 * The recommendation, held back where its backtest says a memory cut is unsafe: when out of sample more
 * runs than the risk target allows would have exceeded the memory, its confidence is `low` (confidence is
 * the out-of-sample evidence, docs/analyzer.md "Backtest"), and if the recommendation is below the current
 * request the memory stays at the request (no cut is proposed) and the reason says why; the cost and
 * severity follow. A miss without a cut only adds the sentence and lowers the confidence.
 */
export function holdUnsafeCut(
  recommendation: Recommendation,
  backtest: TaskBacktest,
  input: RecommendationInput,
  settings: RecommendationSettings,
): Recommendation {
  const outOfSample = backtest.outOfSample;
  if (backtest.meetsTarget !== false || outOfSample === null) return recommendation;
  const latest = input.runs.at(-1)?.requests;
  const requestBytes = latest?.memoryRequest ?? null;
  const evidence = `out of sample, ${outOfSample.overMemory} of the ${outOfSample.runs} newest runs would have exceeded the ${formatBytes(outOfSample.memoryBytes)} the older runs suggest`;
  if (requestBytes === null || recommendation.memoryBytes >= requestBytes) {
    return {
      ...recommendation,
      confidence: "low",
      reason: `${recommendation.reason} Backtest: ${evidence}.`,
    };
  }
  const cost = costOf(
    input,
    { cpuCores: recommendation.cpuCores, memoryBytes: requestBytes },
    settings.pricing,
  );
  // Memory no longer moves, so the CPU change alone rates it, unless an OOM kill already made it critical.
  const killed = input.runs.some((run) => run.oomKills > 0);
  const severity = killed
    ? recommendation.severity
    : cpuSeverity(latest?.cpuRequest ?? null, recommendation.cpuCores);
  return {
    ...recommendation,
    memoryBytes: requestBytes,
    confidence: "low",
    severity,
    monthlySavingsUsd: cost.monthlySavingsUsd,
    costPerRunUsd: cost.costPerRunUsd,
    recommendedCostPerRunUsd: cost.recommendedCostPerRunUsd,
    reason: `${recommendation.reason} Memory kept at ${formatBytes(requestBytes)}, not cut: ${evidence}.`,
  };
}

/**
 * The recommendation under the configured policy (`analysis.policy`): rightsize's own (recommend.ts), or
 * another policy's cores and bytes with the cost and severity they give, the confidence of the runs, and
 * a reason naming the policy. `runs` of the input oldest first.
 */
export function recommendByPolicy(
  input: RecommendationInput & { runs: BacktestRun[] },
  settings: RecommendationSettings,
): { policy: PolicyName; recommendation: Recommendation } {
  const policy = (settings.policy ?? "rightsize") as PolicyName;
  const own = recommend(input, settings);
  if (policy === "rightsize") return { policy, recommendation: own };
  const { description } = policyNamed(policy);
  const sized = sizingPolicies[policy].size(input.runs, settings);
  const latest = input.runs.at(-1)?.requests;
  const requestCores = latest?.cpuRequest ?? null;
  const requestBytes = latest?.memoryRequest ?? null;
  const cost = costOf(input, sized, settings.pricing);
  const peakMax = Math.max(0, ...input.runs.map((run) => run.peakRssBytes ?? 0));
  const oomRisk =
    input.runs.some((run) => run.oomKills > 0) || (requestBytes !== null && requestBytes < peakMax);
  const from = (value: string | null) => (value === null ? "" : `${value} → `);
  return {
    policy,
    recommendation: {
      ...own,
      cpuCores: sized.cpuCores,
      memoryBytes: sized.memoryBytes,
      severity: oomRisk
        ? "critical"
        : worst(cpuSeverity(requestCores, sized.cpuCores), memorySeverity(requestBytes, sized.memoryBytes)),
      monthlySavingsUsd: cost.monthlySavingsUsd,
      runsPerDay: cost.runsPerDay,
      costPerRunUsd: cost.costPerRunUsd,
      recommendedCostPerRunUsd: cost.recommendedCostPerRunUsd,
      reason:
        own.confidence === "none"
          ? own.reason
          : `Policy ${policy} (${description}): CPU ${from(requestCores === null ? null : coresText(requestCores))}${coresText(sized.cpuCores)} cores; memory ${from(requestBytes === null ? null : formatBytes(requestBytes))}${formatBytes(sized.memoryBytes)}.`,
    },
  };
}
