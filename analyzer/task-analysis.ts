/**
 * One task's entry of the analysis document, from its per-run summaries (db/queries/analysis.ts), the
 * percentiles of its per-second cores, the processes it started and the requests that applied. Pure.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import type { ConfiguredRequest } from "../common/config.js";
import type { TaskKey } from "../common/task-key.js";
import type { ProcessSummary, RunSummary } from "../db/queries/task-histories.js";
import { classifyBottleneck } from "./classify.js";
import { findRegressions, type RecommendationSettings, type RunFigures, recommend } from "./recommend.js";
import { type DeclaredValues, resolveRequests } from "./requests.js";
import {
  type CorePercentiles,
  corePercentilesOf,
  coresText,
  percentileOf,
  percentText,
  sum,
} from "./statistics.js";

/** Charts show this many latest runs. */
export const RECENT_RUNS_SHOWN = 20;
/** Endpoints listed per task: the few that explain most of the waiting. */
export const ENDPOINTS_SHOWN = 5;

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

function aggregateEndpoints(runs: RunSummary[]): Array<{ endpoint: string; waitSeconds: number }> {
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

export function buildTaskAnalysis(input: TaskInput, settings: RecommendationSettings): TaskAnalysis {
  const runs = [...input.runs].sort(
    (a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.executionId.localeCompare(b.executionId),
  );
  const figures: RunFigures[] = runs.map((run) => ({
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
  }));
  const latest = figures.at(-1)?.requests;
  const cores =
    input.cores !== undefined
      ? input.cores
      : corePercentilesOf(
          runs.map((run) => ({
            quantiles: run.coresQuantiles ?? [],
            weight: run.coresQuantiles ? run.ticks : 0,
          })),
          percentileOf(
            runs.map((run) => run.cpuMax),
            1,
          ),
        );
  const threadSeconds = {
    cpu: sum(runs.map((run) => run.onCpuSeconds)),
    cpuWait: sum(runs.map((run) => run.cpuWaitSeconds)),
    diskWait: sum(runs.map((run) => run.diskWaitSeconds)),
    networkWait: sum(runs.map((run) => run.netWaitSeconds)),
    childWait: sum(runs.map((run) => run.childWaitSeconds)),
    idle: sum(runs.map((run) => run.idleSeconds)),
  };
  const threadTotal = sum(Object.values(threadSeconds));
  // Wall-clock seconds over the runs that recorded them (runs sampled before that have null).
  const wallRuns = runs.flatMap((run) => (run.wall ? [run.wall] : []));
  const wallSeconds =
    wallRuns.length === 0
      ? null
      : {
          cpu: sum(wallRuns.map((wall) => wall.onCpuSeconds)),
          cpuWait: sum(wallRuns.map((wall) => wall.cpuWaitSeconds)),
          diskWait: sum(wallRuns.map((wall) => wall.diskWaitSeconds)),
          networkWait: sum(wallRuns.map((wall) => wall.netWaitSeconds)),
          childWait: sum(wallRuns.map((wall) => wall.childWaitSeconds)),
          idle: sum(wallRuns.map((wall) => wall.idleSeconds)),
        };
  const wallTotal = wallSeconds ? sum(Object.values(wallSeconds)) : 0;
  const sharesOf = (seconds: typeof threadSeconds, total: number) => {
    const share = (value: number) => (total > 0 ? value / total : 0);
    return {
      cpu: share(seconds.cpu),
      cpuWait: share(seconds.cpuWait),
      diskWait: share(seconds.diskWait),
      networkWait: share(seconds.networkWait),
      idle: share(seconds.idle),
      childWait: share(seconds.childWait),
    };
  };
  const threadTimeShares = sharesOf(threadSeconds, threadTotal);
  // timeShares are wall-clock shares, thread time the fallback for runs without them (docs/architecture.md).
  const timeShares = wallSeconds && wallTotal > 0 ? sharesOf(wallSeconds, wallTotal) : threadTimeShares;
  const throttled = sum(runs.map((run) => run.throttledPeriods));
  const periods = sum(runs.map((run) => run.totalPeriods));
  const throttledShare = periods > 0 ? throttled / periods : null;
  const peaks = runs.map((run) => run.peakRssBytes);
  const peakMax = percentileOf(peaks, 1);
  const oomKills = sum(runs.map((run) => run.oomKills));
  const endpoints = aggregateEndpoints(runs);
  const diskRead = percentileOf(
    runs.map((run) => run.diskReadBytes),
    0.5,
  );
  const diskWrite = percentileOf(
    runs.map((run) => run.diskWriteBytes),
    0.5,
  );
  const sampledSeconds = sum(runs.map((run) => run.sampledSeconds));
  const cpuSeconds = sum(runs.map((run) => run.cpuSeconds));
  const loads = runs.map((run) => run.hostLoadAvg).filter((load): load is number => load !== null);
  const hostCores = runs.map((run) => run.hostCores).find((cores) => cores !== null) ?? null;
  const classification = classifyBottleneck({
    runs: runs.length,
    ticks: sum(runs.map((run) => run.ticks)),
    threadSeconds,
    wallSeconds,
    sampledSeconds,
    cpuSeconds,
    throttledShare,
    oomKills,
    oomRuns: runs.filter((run) => run.oomKills > 0).length,
    peakMemoryBytes: peakMax,
    memoryLimitBytes: latest?.memoryLimit ?? null,
    hostLoadAvg: loads.length > 0 ? sum(loads) / loads.length : null,
    hostCores,
    endpoints,
    diskReadBytesPerRun: diskRead,
    diskWriteBytesPerRun: diskWrite,
  });
  const evidence = [...classification.evidence];
  const averageCores = sampledSeconds > 0 ? cpuSeconds / sampledSeconds : 0;
  if (latest?.cpuRequest != null && latest.cpuRequest > 0 && sampledSeconds > 0) {
    evidence.push(
      `used ${coresText(averageCores)} cores on average (p95 ${coresText(cores?.p95 ?? 0)}) against a ${coresText(latest.cpuRequest)}-core request: ${percentText(averageCores / latest.cpuRequest)} utilization`,
    );
  }
  const recommendation = recommend(
    {
      runs: figures,
      coresMax: cores?.max ?? 0,
      throttledShare,
      windowEnd: input.windowEnd,
      windowDays: input.windowDays,
      maxRuns: input.maxRuns,
    },
    settings,
  );
  const analysis: TaskAnalysis = {
    orchestrator: input.key.orchestrator,
    pipeline: input.key.pipeline,
    task: input.key.task,
    runs: runs.length,
    durationSeconds: {
      p50: percentileOf(
        runs.map((run) => run.durationSeconds),
        0.5,
      ),
      p95: percentileOf(
        runs.map((run) => run.durationSeconds),
        0.95,
      ),
      max: percentileOf(
        runs.map((run) => run.durationSeconds),
        1,
      ),
    },
    cpu: {
      requestCores: latest?.cpuRequest ?? null,
      limitCores: latest?.cpuLimit ?? null,
      requestSource: latest?.cpuSource ?? null,
      p50: cores?.p50 ?? 0,
      p90: cores?.p90 ?? 0,
      p95: cores?.p95 ?? 0,
      p99: cores?.p99 ?? 0,
      max: cores?.max ?? 0,
      cpuSecondsPerRun: {
        p50: percentileOf(
          runs.map((run) => run.cpuSeconds),
          0.5,
        ),
        max: percentileOf(
          runs.map((run) => run.cpuSeconds),
          1,
        ),
      },
      throttledShare,
    },
    memory: {
      requestBytes: latest?.memoryRequest ?? null,
      limitBytes: latest?.memoryLimit ?? null,
      requestSource: latest?.memorySource ?? null,
      peakBytes: { p50: percentileOf(peaks, 0.5), p95: percentileOf(peaks, 0.95), max: peakMax },
      oomKills,
    },
    disk: { readBytesPerRun: { p50: diskRead }, writeBytesPerRun: { p50: diskWrite } },
    network: {
      rxBytesPerRun: { p50: p50OrNull(runs.map((run) => run.netRxBytes)) },
      txBytesPerRun: { p50: p50OrNull(runs.map((run) => run.netTxBytes)) },
    },
    timeShares,
    threadTimeShares,
    bottleneck: classification.bottleneck,
    evidence,
    processes: input.processes.map((process) => ({ ...process })),
    recommendation,
    endpoints,
    regressions: findRegressions(figures),
    recentRuns: runs.slice(-RECENT_RUNS_SHOWN).map((run) => ({
      runId: run.runId,
      tryNumber: run.tryNumber,
      startedAt: run.startedAt.toISOString(),
      durationSeconds: run.durationSeconds,
      cpuP95: run.cpuP95 ?? 0,
      cpuMax: run.cpuMax ?? 0,
      peakMemoryBytes: run.peakRssBytes ?? 0,
      exitCode: run.exitCode,
    })),
  };
  return analysis;
}
