/**
 * One task's entry of the analysis document, from its per-run summaries (db/queries/analysis.ts), the
 * percentiles of its per-second cores, the processes it started and the requests that applied. Pure.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import type { ConfiguredRequest } from "../common/config.js";
import type { TaskKey } from "../common/task-key.js";
import type { ProcessSummary, RunSummary, StateSeconds } from "../db/queries/task-histories.js";
import { type ClassificationInput, classifyBottleneck, sharesOf, type ThreadSeconds } from "./classify.js";
import { backtestTask, holdUnsafeCut, recommendByPolicy } from "./backtest.js";
import {
  declaredAgainstEffective,
  describeAmount,
  type EffectiveRequest,
  effectiveRequestOf,
} from "./effective-requests.js";
import type { BacktestRun } from "./policies.js";
import { findRegressions, type RecommendationSettings } from "./recommend.js";
import { type DeclaredValues, type EffectiveRequests, resolveRequests } from "./requests.js";
import {
  type CorePercentiles,
  corePercentilesOf,
  coresText,
  percentileOf,
  percentText,
  sum,
} from "./statistics.js";
import { taskDiagnosisOf } from "./task-diagnosis.js";

/** Charts show this many latest runs. */
export const RECENT_RUNS_SHOWN = 20;
/** Endpoints listed per task: the few that explain most of the waiting. */
export const ENDPOINTS_SHOWN = 5;

/**
 * Parts of a task's analysis that can be left out of a night: the benchmark times the night with and
 * without each (bench/analysis.bench.ts); the product always computes both.
 */
export const optionalParts = ["backtest", "diagnosis"] as const;
export type OptionalPart = (typeof optionalParts)[number];

export interface TaskInput {
  key: TaskKey;
  /** Any order; sorted oldest first here. */
  runs: RunSummary[];
  /** Percentiles of per-second cores; omitted: merged from the runs' sketches. */
  cores?: CorePercentiles | null;
  processes: ProcessSummary[];
  declared: DeclaredValues;
  configured: ConfiguredRequest | undefined;
  windowEnd: Date;
  windowDays: number;
  maxRuns: number;
}

function aggregateEndpoints(runs: readonly RunSummary[]): Array<{ endpoint: string; waitSeconds: number }> {
  const totals = new Map<string, number>();
  for (const run of runs) {
    for (const item of run.endpoints ?? []) {
      totals.set(item.endpoint, (totals.get(item.endpoint) ?? 0) + item.waitSeconds);
    }
  }
  return [...totals]
    .map(([endpoint, waitSeconds]) => ({ endpoint, waitSeconds: Number(waitSeconds.toFixed(3)) }))
    .sort((a, b) => b.waitSeconds - a.waitSeconds || a.endpoint.localeCompare(b.endpoint))
    .slice(0, ENDPOINTS_SHOWN);
}

function p50OrNull(values: Array<number | null>): number | null {
  return values.some((value) => value !== null) ? percentileOf(values, 0.5) : null;
}

/** Oldest first; runs that started together in execution-id order, so the order is always the same. */
export function oldestFirst(runs: readonly RunSummary[]): RunSummary[] {
  return [...runs].sort(
    (a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.executionId.localeCompare(b.executionId),
  );
}

/**
 * What the recommendation and its backtest read of one run, with the requests that applied to it (the
 * `backtest` command reads runs the same way).
 */
export function backtestRunOf(
  run: RunSummary,
  input: Pick<TaskInput, "declared" | "configured">,
): BacktestRun {
  return {
    coresQuantiles: run.coresQuantiles,
    throttledPeriods: run.throttledPeriods,
    totalPeriods: run.totalPeriods,
    startedAt: run.startedAt,
    durationSeconds: run.durationSeconds,
    sampledSeconds: run.sampledSeconds,
    ticks: run.ticks,
    cpuP95: run.cpuP95,
    cpuMax: run.cpuMax,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    oomKills: run.oomKills,
    requests: resolveRequests(run, input.declared, input.configured),
  };
}

/** Percentiles of per-second cores merged from the runs' sketches (for callers that did not read them). */
function mergedCorePercentiles(runs: readonly RunSummary[]): CorePercentiles | null {
  return corePercentilesOf(
    runs.map((run) => ({
      quantiles: run.coresQuantiles ?? [],
      weight: run.coresQuantiles ? run.ticks : 0,
    })),
    percentileOf(
      runs.map((run) => run.cpuMax),
      1,
    ),
  );
}

/** Seconds per state summed over runs (thread time) or over their wall-clock splits. */
function stateSecondsOf(states: readonly StateSeconds[]): ThreadSeconds {
  return {
    cpu: sum(states.map((state) => state.onCpuSeconds)),
    cpuWait: sum(states.map((state) => state.cpuWaitSeconds)),
    diskWait: sum(states.map((state) => state.diskWaitSeconds)),
    networkWait: sum(states.map((state) => state.netWaitSeconds)),
    childWait: sum(states.map((state) => state.childWaitSeconds)),
    idle: sum(states.map((state) => state.idleSeconds)),
  };
}

type TimeShares = TaskAnalysis["timeShares"];

/** p50, p95 and max of a per-run series. */
function percentilesOf(values: Array<number | null>): { p50: number; p95: number; max: number } {
  return { p50: percentileOf(values, 0.5), p95: percentileOf(values, 0.95), max: percentileOf(values, 1) };
}

/** What a task's runs add up to: the totals its class, its evidence and its document entry read. */
interface RunTotals {
  threadSeconds: ThreadSeconds;
  /** Wall-clock seconds over the runs that recorded them (runs sampled before that have null). */
  wallSeconds: ThreadSeconds | null;
  sampledSeconds: number;
  cpuSeconds: number;
  throttledShare: number | null;
  peakBytes: { p50: number; p95: number; max: number };
  oomKills: number;
  endpoints: Array<{ endpoint: string; waitSeconds: number }>;
  diskReadBytesPerRun: number;
  diskWriteBytesPerRun: number;
}

function totalsOf(runs: readonly RunSummary[]): RunTotals {
  const wallRuns = runs.flatMap((run) => (run.wall ? [run.wall] : []));
  const periods = sum(runs.map((run) => run.totalPeriods));
  return {
    threadSeconds: stateSecondsOf(runs),
    wallSeconds: wallRuns.length === 0 ? null : stateSecondsOf(wallRuns),
    sampledSeconds: sum(runs.map((run) => run.sampledSeconds)),
    cpuSeconds: sum(runs.map((run) => run.cpuSeconds)),
    throttledShare: periods > 0 ? sum(runs.map((run) => run.throttledPeriods)) / periods : null,
    peakBytes: percentilesOf(runs.map((run) => run.peakRssBytes)),
    oomKills: sum(runs.map((run) => run.oomKills)),
    endpoints: aggregateEndpoints(runs),
    diskReadBytesPerRun: percentileOf(
      runs.map((run) => run.diskReadBytes),
      0.5,
    ),
    diskWriteBytesPerRun: percentileOf(
      runs.map((run) => run.diskWriteBytes),
      0.5,
    ),
  };
}

/** DESIGN.md: timeShares are wall-clock shares; thread time is the fallback for runs without them. */
function timeSharesOf(totals: RunTotals): { timeShares: TimeShares; threadTimeShares: TimeShares } {
  const threadTimeShares = sharesOf(totals.threadSeconds, sum(Object.values(totals.threadSeconds)));
  const wall = totals.wallSeconds;
  const wallTotal = wall ? sum(Object.values(wall)) : 0;
  const timeShares = wall && wallTotal > 0 ? sharesOf(wall, wallTotal) : threadTimeShares;
  return { timeShares, threadTimeShares };
}

function classificationInputOf(
  runs: readonly RunSummary[],
  totals: RunTotals,
  latest: EffectiveRequests | undefined,
): ClassificationInput {
  const loads = runs.map((run) => run.hostLoadAvg).filter((load): load is number => load !== null);
  return {
    runs: runs.length,
    ticks: sum(runs.map((run) => run.ticks)),
    threadSeconds: totals.threadSeconds,
    wallSeconds: totals.wallSeconds,
    sampledSeconds: totals.sampledSeconds,
    cpuSeconds: totals.cpuSeconds,
    throttledShare: totals.throttledShare,
    oomKills: totals.oomKills,
    oomRuns: runs.filter((run) => run.oomKills > 0).length,
    peakMemoryBytes: totals.peakBytes.max,
    memoryLimitBytes: latest?.memoryLimit ?? null,
    hostLoadAvg: loads.length > 0 ? sum(loads) / loads.length : null,
    hostCores: runs.map((run) => run.hostCores).find((cores) => cores !== null) ?? null,
    endpoints: totals.endpoints,
    diskReadBytesPerRun: totals.diskReadBytesPerRun,
    diskWriteBytesPerRun: totals.diskWriteBytesPerRun,
  };
}

/** The sentence on how much of its CPU request the task used; none without a request or samples. */
function utilizationEvidence(
  totals: RunTotals,
  cores: CorePercentiles | null,
  latest: EffectiveRequests | undefined,
): string[] {
  const request = latest?.cpuRequest;
  if (request == null || !(request > 0) || !(totals.sampledSeconds > 0)) return [];
  const averageCores = totals.cpuSeconds / totals.sampledSeconds;
  return [
    `used ${coresText(averageCores)} cores on average (p95 ${coresText(cores?.p95 ?? 0)}) against a ${coresText(request)}-core request: ${percentText(averageCores / request)} utilization`,
  ];
}

function cpuOf(
  runs: readonly RunSummary[],
  cores: CorePercentiles | null,
  latest: EffectiveRequests | undefined,
  throttledShare: number | null,
): TaskAnalysis["cpu"] {
  const cpuSeconds = runs.map((run) => run.cpuSeconds);
  return {
    requestCores: latest?.cpuRequest ?? null,
    limitCores: latest?.cpuLimit ?? null,
    requestSource: latest?.cpuSource ?? null,
    p50: cores?.p50 ?? 0,
    p90: cores?.p90 ?? 0,
    p95: cores?.p95 ?? 0,
    p99: cores?.p99 ?? 0,
    max: cores?.max ?? 0,
    cpuSecondsPerRun: { p50: percentileOf(cpuSeconds, 0.5), max: percentileOf(cpuSeconds, 1) },
    throttledShare,
  };
}

/**
 * Each declared value (as the last scan stored it) that the runs show never reached the task, with a
 * sentence the report shows beside the figures it is read with.
 */
function notAppliedOf(
  declared: DeclaredValues,
  effective: EffectiveRequest | null,
): NonNullable<NonNullable<TaskAnalysis["effectiveRequest"]>["notApplied"]> {
  const values = [
    { resource: "cpu", kind: "request", value: declared.cpuRequest },
    { resource: "cpu", kind: "limit", value: declared.cpuLimit },
    { resource: "memory", kind: "request", value: declared.memoryRequest },
    { resource: "memory", kind: "limit", value: declared.memoryLimit },
  ] as const;
  return values.flatMap(({ resource, kind, value }) => {
    if (value === null) return [];
    const mismatch = declaredAgainstEffective({ resource, kind, value }, effective?.[resource] ?? null);
    if (!mismatch) return [];
    const name = resource === "cpu" ? "CPU" : "memory";
    const message = `the declared ${name} ${kind} of ${describeAmount(resource, value)} does not apply: ${mismatch.observed}`;
    return [{ resource, kind, declared: value, message }];
  });
}

function recentRunsOf(runs: readonly RunSummary[]): NonNullable<TaskAnalysis["recentRuns"]> {
  return runs.slice(-RECENT_RUNS_SHOWN).map((run) => ({
    runId: run.runId,
    tryNumber: run.tryNumber,
    startedAt: run.startedAt.toISOString(),
    durationSeconds: run.durationSeconds,
    cpuP95: run.cpuP95 ?? 0,
    cpuMax: run.cpuMax ?? 0,
    peakMemoryBytes: run.peakRssBytes ?? 0,
    exitCode: run.exitCode,
  }));
}

/** `leaveOut`: parts not computed (their keys are absent, the recommendation is not held back). */
export function buildTaskAnalysis(
  input: TaskInput,
  settings: RecommendationSettings,
  leaveOut: ReadonlySet<OptionalPart> = new Set(),
): TaskAnalysis {
  const runs = oldestFirst(input.runs);
  const figures = runs.map((run) => backtestRunOf(run, input));
  const latest = figures.at(-1)?.requests;
  const cores = input.cores !== undefined ? input.cores : mergedCorePercentiles(runs);
  const totals = totalsOf(runs);
  const effective = effectiveRequestOf(runs);
  const notApplied = notAppliedOf(input.declared, effective);
  const classification = classifyBottleneck(classificationInputOf(runs, totals, latest));
  const recommendationInput = {
    runs: figures,
    coresMax: cores?.max ?? 0,
    throttledShare: totals.throttledShare,
    windowEnd: input.windowEnd,
    windowDays: input.windowDays,
    maxRuns: input.maxRuns,
  };
  const { policy, recommendation: made } = recommendByPolicy(recommendationInput, settings);
  // The recommendation's own values in sample; out of sample, the same rule from the older runs.
  const backtest = leaveOut.has("backtest") ? undefined : backtestTask(figures, policy, settings, made);
  const recommendation = backtest ? holdUnsafeCut(made, backtest, recommendationInput, settings) : made;
  return {
    orchestrator: input.key.orchestrator,
    pipeline: input.key.pipeline,
    task: input.key.task,
    runs: runs.length,
    durationSeconds: percentilesOf(runs.map((run) => run.durationSeconds)),
    cpu: cpuOf(runs, cores, latest, totals.throttledShare),
    memory: {
      requestBytes: latest?.memoryRequest ?? null,
      limitBytes: latest?.memoryLimit ?? null,
      requestSource: latest?.memorySource ?? null,
      peakBytes: totals.peakBytes,
      oomKills: totals.oomKills,
    },
    disk: {
      readBytesPerRun: { p50: totals.diskReadBytesPerRun },
      writeBytesPerRun: { p50: totals.diskWriteBytesPerRun },
    },
    network: {
      rxBytesPerRun: { p50: p50OrNull(runs.map((run) => run.netRxBytes)) },
      txBytesPerRun: { p50: p50OrNull(runs.map((run) => run.netTxBytes)) },
    },
    ...timeSharesOf(totals),
    bottleneck: classification.bottleneck,
    evidence: [
      ...classification.evidence,
      ...utilizationEvidence(totals, cores, latest),
      ...notApplied.map((item) => item.message),
    ],
    processes: input.processes.map((process) => ({ ...process })),
    recommendation,
    endpoints: totals.endpoints,
    regressions: findRegressions(figures),
    ...(backtest ? { backtest } : {}),
    ...(leaveOut.has("diagnosis") ? {} : { diagnosis: taskDiagnosisOf(runs) }),
    recentRuns: recentRunsOf(runs),
    ...(effective
      ? { effectiveRequest: { ...effective, ...(notApplied.length > 0 ? { notApplied } : {}) } }
      : {}),
  };
}
