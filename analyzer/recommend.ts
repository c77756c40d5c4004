/**
 * Rightsizing: the request a task should ask for, how sure we are, how much it matters, and what it
 * saves. Batch tasks run to completion, so memory (not compressible: too little is an OOM kill) is sized
 * to the largest peak and CPU (compressible: too little only slows the run) to a high percentile.
 * Pure functions of per-run figures.
 */
import type { Confidence, Severity, TaskAnalysis } from "../common/analysis-document.js";
import { recommendedBytes, recommendedCores } from "../common/sizing-policy.js";
import { formatBytes, GiB, MiB } from "../common/units.js";
import { THROTTLED_SHARE } from "./classify.js";
import type { EffectiveRequests } from "./requests.js";
import { coresText, medianOrNull, percentileOf, percentText } from "./statistics.js";

/** After an OOM kill: at least the limit at the kill + 100 MiB… (Kubernetes VPA, oomMinBumpUp). */
export const OOM_MIN_BUMP_BYTES = 100 * MiB;
/** …and at least the limit × 1.2 (Kubernetes VPA, oomBumpUpRatio). */
export const OOM_BUMP_RATIO = 1.2;
/** A run whose p95 is within 5 % of its CPU limit is pinned at the limit: it would use more if allowed. */
export const PINNED_SHARE = 0.95;
/** A throttled or pinned task is offered its limit (or request) plus 25 %: one visible step up, to be
 * measured again next night rather than guessed at once. */
export const THROTTLED_INCREASE = 1.25;
/** Never more than this many cores busy at once means single-threaded (1 core + 10 % sampling jitter). */
export const SINGLE_THREAD_MAX_CORES = 1.1;
/** Samples covering less than half of the run time lower the confidence one level. */
export const MIN_SAMPLE_COVERAGE = 0.5;
/**
 * Regressions: the last 3 runs against the window median, flagged above +30 %. Chosen values, stated in
 * docs/analyzer.md "Recommendation"; the report's across-runs marks use the same 30 % (reports/charts.ts).
 */
export const REGRESSION_RECENT_RUNS = 3;
export const REGRESSION_THRESHOLD = 0.3;
/** …and only with a window of at least 6 runs, so "the median" is not mostly the recent runs. */
export const REGRESSION_MIN_RUNS = 6;
/** Savings are reported per 30 days (a "month" in the report's headline; DESIGN.md `monthlySavingsUsd`). */
export const MONTH_DAYS = 30;

export interface RecommendationSettings {
  cpuBuffer: number;
  memoryBuffer: number;
  /** Percentile (1..100) across runs of each run's p95 cores. */
  cpuRunPercentile: number;
  /** Percentile (1..100) of per-run memory peaks; 100 = the maximum. */
  memoryPeakPercentile: number;
  pricing: { cpuHourUsd: number; memoryGibHourUsd: number };
  /** The backtest's risk target (analyzer/backtest.ts). @defaultValue 0.01 */
  maxOverMemoryShare?: number;
  /** The sizing policy the recommendation follows (analyzer/policies.ts). @defaultValue "rightsize" */
  policy?: string;
}

/** What the recommendation needs of one run. */
export interface RunFigures {
  startedAt: Date;
  durationSeconds: number;
  sampledSeconds: number;
  ticks: number;
  cpuP95: number | null;
  cpuMax: number | null;
  cpuSeconds: number | null;
  peakRssBytes: number | null;
  oomKills: number;
  requests: EffectiveRequests;
}

export interface RecommendationInput {
  /** Oldest first. */
  runs: RunFigures[];
  /** Highest per-second cores seen in any run. */
  coresMax: number;
  throttledShare: number | null;
  windowEnd: Date;
  windowDays: number;
  maxRuns: number;
}

export interface MemoryRecommendation {
  bytes: number;
  basePeakBytes: number;
  /** Set when an OOM kill raised the recommendation: the limit it was killed at. */
  oomLimitBytes: number | null;
}

export function recommendMemory(runs: RunFigures[], settings: RecommendationSettings): MemoryRecommendation {
  const peaks = runs.map((run) => run.peakRssBytes);
  const basePeakBytes = percentileOf(peaks, settings.memoryPeakPercentile / 100);
  // Rounding is the sizing policy's (common/sizing-policy.ts): the value every target is written with.
  let bytes = recommendedBytes(basePeakBytes * (1 + settings.memoryBuffer));
  let oomLimitBytes: number | null = null;
  for (const run of runs) {
    if (run.oomKills <= 0) continue;
    // The kill happened at the limit; without a known limit, the peak seen is the best stand-in.
    const limit = run.requests.memoryLimit ?? run.requests.memoryRequest ?? run.peakRssBytes ?? 0;
    const floor = recommendedBytes(Math.max(limit + OOM_MIN_BUMP_BYTES, limit * OOM_BUMP_RATIO));
    if (floor > bytes) {
      bytes = floor;
      oomLimitBytes = limit;
    }
  }
  return { bytes, basePeakBytes, oomLimitBytes };
}

export interface CpuRecommendation {
  cores: number;
  baseCores: number;
  /** Why it was raised or capped, if it was. */
  adjustment: "throttled" | "pinned" | "single-threaded" | null;
}

export function recommendCpu(
  input: RecommendationInput,
  settings: RecommendationSettings,
): CpuRecommendation {
  const perRunP95 = input.runs.map((run) => run.cpuP95);
  const baseCores = percentileOf(perRunP95, settings.cpuRunPercentile / 100);
  const cores = recommendedCores(baseCores * (1 + settings.cpuBuffer));
  const latest = input.runs.at(-1)?.requests;
  const ceiling = latest?.cpuLimit ?? latest?.cpuRequest ?? null;
  const throttled = input.throttledShare !== null && input.throttledShare > THROTTLED_SHARE;
  const pinned = latest?.cpuLimit != null && baseCores >= PINNED_SHARE * latest.cpuLimit;
  if (throttled || pinned) {
    const raised = recommendedCores((ceiling ?? cores) * THROTTLED_INCREASE);
    return { cores: Math.max(cores, raised), baseCores, adjustment: throttled ? "throttled" : "pinned" };
  }
  const sampled = input.runs.some((run) => run.ticks > 0);
  // One busy thread cannot use a second core. A tree never seen above SINGLE_THREAD_MAX_CORES is one
  // core: a highest sample of 1.02 is a clock tick of jitter over half a second (0.51 s of CPU read
  // for 0.50 s of wall), not a second thread, and a request above one core would go unused.
  if (sampled && input.coresMax <= SINGLE_THREAD_MAX_CORES && cores > 1)
    return { cores: 1, baseCores, adjustment: "single-threaded" };
  return { cores, baseCores, adjustment: null };
}

/**
 * Runs seen: 0 none, 1–2 low, 3–6 medium, ≥ 7 high; thin sample coverage lowers one level. Chosen values,
 * stated in docs/analyzer.md "Recommendation".
 */
export function confidenceOf(runs: RunFigures[]): Confidence {
  const sampledRuns = runs.filter((run) => run.ticks > 0).length;
  if (sampledRuns === 0) return "none";
  let level: Confidence = sampledRuns >= 7 ? "high" : sampledRuns >= 3 ? "medium" : "low";
  const runSeconds = runs.reduce((total, run) => total + run.durationSeconds, 0);
  const sampledSeconds = runs.reduce(
    (total, run) => total + Math.min(run.sampledSeconds, run.durationSeconds),
    0,
  );
  const coverage = runSeconds > 0 ? sampledSeconds / runSeconds : 1;
  if (coverage < MIN_SAMPLE_COVERAGE) level = level === "high" ? "medium" : "low";
  return level;
}

const severityRank: Record<Severity, number> = { good: 0, ok: 1, warning: 2, critical: 3 };

/** The worse of severities. */
export function worst(...levels: Severity[]): Severity {
  return levels.reduce((a, b) => (severityRank[b] > severityRank[a] ? b : a), "good");
}

/** KRR's thresholds on the difference between request and recommendation; an unknown request is a
 * warning, as KRR rates a missing request. */
export function cpuSeverity(requestCores: number | null, recommendedCores: number): Severity {
  if (requestCores === null) return "warning";
  const difference = Math.abs(requestCores - recommendedCores);
  if (difference >= 0.5) return "critical";
  if (difference >= 0.25) return "warning";
  if (difference >= 0.1) return "ok";
  return "good";
}

export function memorySeverity(requestBytes: number | null, recommendedBytes: number): Severity {
  if (requestBytes === null) return "warning";
  const difference = Math.abs(requestBytes - recommendedBytes);
  if (difference >= 500 * MiB) return "critical";
  if (difference >= 250 * MiB) return "warning";
  if (difference >= 100 * MiB) return "ok";
  return "good";
}

/**
 * Money figures are kept to a millionth of a dollar: a short run's cost is a fraction of a cent, and
 * rounding it to cents (as a monthly total is shown) would make every short task's saving read as zero.
 */
export function roundMicroUsd(amount: number): number {
  return Math.round(amount * 1e6) / 1e6;
}

/** What a task's runs cost and what the recommendation saves, and the frequency that scales it. */
export interface CostFigures {
  /** Runs per day observed in the window: runs ÷ the days they cover (see {@link runsPerDayOf}). */
  runsPerDay: number;
  /** Mean cost of one run at its own request (request × the time the run held it × price); null when no request is known. */
  costPerRunUsd: number | null;
  /** Mean cost of one run at the recommended request. */
  recommendedCostPerRunUsd: number;
  /** (cost per run − recommended cost per run) × runs per day × 30; null when no request is known. */
  monthlySavingsUsd: number | null;
}

/**
 * Runs per day as observed in the window: the runs kept, over the days from the oldest one's start to the
 * window end, at least one day (a task first seen an hour ago is not taken to run 24 times a day) and at
 * most the window. `scan` records no DAG or flow schedule, so the observed frequency is the only one.
 */
export function runsPerDayOf(input: RecommendationInput): number {
  const oldest = input.runs[0]?.startedAt;
  if (!oldest) return 0;
  const observedDays = (input.windowEnd.getTime() - oldest.getTime()) / 86_400_000;
  return input.runs.length / Math.min(input.windowDays, Math.max(1, observedDays));
}

/**
 * What one run costs at its request and at the recommended one (CPU-hours and GiB-hours for the time the
 * run held its request, at `pricing.*`), and the monthly saving: the difference per run × runs per day ×
 * 30 days. Null saving when no run has a known request; negative when the task asks for too little.
 */
export function costOf(
  input: RecommendationInput,
  recommended: { cpuCores: number; memoryBytes: number },
  pricing: RecommendationSettings["pricing"],
): CostFigures {
  const runsPerDay = runsPerDayOf(input);
  const priceOf = (cores: number, bytes: number, hours: number) =>
    (cores * pricing.cpuHourUsd + (bytes / GiB) * pricing.memoryGibHourUsd) * hours;
  let current = 0;
  let known = false;
  let recommendedTotal = 0;
  for (const run of input.runs) {
    // The run held its request at least as long as it was sampled (a start recorded late shortens the
    // recorded duration, down to zero, while the samples still cover the work).
    const hours = Math.max(run.durationSeconds, run.sampledSeconds) / 3600;
    recommendedTotal += priceOf(recommended.cpuCores, recommended.memoryBytes, hours);
    // A resource without a known request costs, for the saving, what the recommendation costs.
    const cores = run.requests.cpuRequest ?? recommended.cpuCores;
    const bytes = run.requests.memoryRequest ?? recommended.memoryBytes;
    if (run.requests.cpuRequest !== null || run.requests.memoryRequest !== null) known = true;
    current += priceOf(cores, bytes, hours);
  }
  const runs = Math.max(1, input.runs.length);
  const costPerRun = current / runs;
  const recommendedCostPerRun = recommendedTotal / runs;
  return {
    runsPerDay: Math.round(runsPerDay * 1000) / 1000,
    costPerRunUsd: known ? roundMicroUsd(costPerRun) : null,
    recommendedCostPerRunUsd: roundMicroUsd(recommendedCostPerRun),
    monthlySavingsUsd: known
      ? roundMicroUsd((costPerRun - recommendedCostPerRun) * runsPerDay * MONTH_DAYS)
      : null,
  };
}

export type Regression = NonNullable<TaskAnalysis["regressions"]>[number];

/** The median of the last 3 runs against the window median, per metric, where it rose by more than 30 %. */
export function findRegressions(runs: RunFigures[]): Regression[] {
  if (runs.length < REGRESSION_MIN_RUNS) return [];
  const metrics: Array<[Regression["metric"], (run: RunFigures) => number | null]> = [
    ["durationSeconds", (run) => run.durationSeconds],
    ["peakMemoryBytes", (run) => run.peakRssBytes],
    ["cpuSeconds", (run) => run.cpuSeconds],
  ];
  const regressions: Regression[] = [];
  for (const [metric, read] of metrics) {
    const median = medianOrNull(runs.map(read));
    const recent = medianOrNull(runs.slice(-REGRESSION_RECENT_RUNS).map(read));
    if (median === null || recent === null || median <= 0) continue;
    const change = (recent - median) / median;
    if (change > REGRESSION_THRESHOLD) {
      regressions.push({ metric, recent, median, change: Math.round(change * 1000) / 1000 });
    }
  }
  return regressions;
}

export type Recommendation = TaskAnalysis["recommendation"];

export function recommend(input: RecommendationInput, settings: RecommendationSettings): Recommendation {
  const memory = recommendMemory(input.runs, settings);
  const cpu = recommendCpu(input, settings);
  const latest = input.runs.at(-1)?.requests;
  const requestCores = latest?.cpuRequest ?? null;
  const requestBytes = latest?.memoryRequest ?? null;
  const confidence = confidenceOf(input.runs);
  const peakMax = Math.max(0, ...input.runs.map((run) => run.peakRssBytes ?? 0));
  const oomKills = input.runs.reduce((total, run) => total + run.oomKills, 0);
  const oomRisk = oomKills > 0 || (requestBytes !== null && requestBytes < peakMax);
  const severity = oomRisk
    ? "critical"
    : worst(cpuSeverity(requestCores, cpu.cores), memorySeverity(requestBytes, memory.bytes));
  const cost = costOf(input, { cpuCores: cpu.cores, memoryBytes: memory.bytes }, settings.pricing);
  return {
    cpuCores: cpu.cores,
    memoryBytes: memory.bytes,
    confidence,
    severity,
    monthlySavingsUsd: cost.monthlySavingsUsd,
    runsPerDay: cost.runsPerDay,
    costPerRunUsd: cost.costPerRunUsd,
    recommendedCostPerRunUsd: cost.recommendedCostPerRunUsd,
    reason: reasonOf({
      input,
      cpu,
      memory,
      requestCores,
      requestBytes,
      oomKills,
      peakMax,
      confidence,
      settings,
    }),
  };
}

function reasonOf(facts: {
  input: RecommendationInput;
  cpu: CpuRecommendation;
  memory: MemoryRecommendation;
  requestCores: number | null;
  requestBytes: number | null;
  oomKills: number;
  peakMax: number;
  confidence: Confidence;
  settings: RecommendationSettings;
}): string {
  const { cpu, memory } = facts;
  if (facts.confidence === "none") {
    return `No samples in ${facts.input.runs.length} run${facts.input.runs.length === 1 ? "" : "s"}: the minimum request (${coresText(cpu.cores)} cores, ${formatBytes(memory.bytes)}) until data arrives.`;
  }
  const cpuPart = (() => {
    const from = facts.requestCores === null ? "" : `${coresText(facts.requestCores)} → `;
    if (cpu.adjustment === "throttled")
      return `CPU ${from}${coresText(cpu.cores)} cores: throttled in ${percentText(facts.input.throttledShare ?? 0)} of periods, so raised`;
    if (cpu.adjustment === "pinned")
      return `CPU ${from}${coresText(cpu.cores)} cores: its p95 sits at its limit, so raised`;
    if (cpu.adjustment === "single-threaded")
      return `CPU ${from}${coresText(cpu.cores)} cores: single-threaded (never more than ${coresText(facts.input.coresMax)} cores busy: one core and sampling jitter), more would go unused`;
    return `CPU ${from}${coresText(cpu.cores)} cores (p${facts.settings.cpuRunPercentile} of per-run p95 ${coresText(cpu.baseCores)} + ${percentText(facts.settings.cpuBuffer)})`;
  })();
  const memoryFrom = facts.requestBytes === null ? "" : `${formatBytes(facts.requestBytes)} → `;
  const memoryPart =
    memory.oomLimitBytes !== null
      ? `memory ${memoryFrom}${formatBytes(memory.bytes)} after ${facts.oomKills} OOM kill${facts.oomKills === 1 ? "" : "s"} at ${formatBytes(memory.oomLimitBytes)}`
      : `memory ${memoryFrom}${formatBytes(memory.bytes)} (peak ${formatBytes(memory.basePeakBytes)} + ${percentText(facts.settings.memoryBuffer)})`;
  const unknown =
    facts.requestCores === null && facts.requestBytes === null
      ? "; no request known, so the saving is unknown"
      : "";
  return `${cpuPart}; ${memoryPart}${unknown}.`;
}
