/**
 * Sizing policies side by side: rightsize's own (analyzer/recommend.ts) and the rules other sizers
 * publish, each a pure function of a task's per-run figures returning the cores and bytes it would
 * request. The backtest (analyzer/backtest.ts) replays each one against the same runs, so a user can see
 * on their own tasks what each rule would have done. Every result is rounded up by the one sizing policy
 * (common/sizing-policy.ts), as a written request would be. A registry: an unknown name fails with the
 * list of valid names (STYLE.md 3).
 *
 * Per-second cores come from the runs' quantile sketches (db/queries/analysis.ts `cores_quantiles`) and
 * memory from each run's peak: the night reads per-run summaries, never samples.
 */
import { recommendedBytes, recommendedCores } from "../common/sizing-policy.js";
import { UsageError } from "../common/errors.js";
import { type RecommendationSettings, type RunFigures, recommendCpu, recommendMemory } from "./recommend.js";
import { mergedQuantile, percentileOf } from "./statistics.js";

/** One run as the policies and the replay read it: the recommendation's figures and its cores sketch. */
export interface BacktestRun extends RunFigures {
  /** Per-second cores at the 0, 1, …, 100th percentile; null when unsampled or recorded without one. */
  coresQuantiles: number[] | null;
  throttledPeriods: number | null;
  totalPeriods: number | null;
}

/** What a policy asks for. */
export interface Sizing {
  cpuCores: number;
  memoryBytes: number;
}

export interface SizingPolicy {
  /** One line for tables and `--help`. */
  description: string;
  /** Where the rule is published. */
  source: string;
  size(runs: readonly BacktestRun[], settings: RecommendationSettings): Sizing;
}

/** VPA's recommender: the 90th percentile of usage plus a 15 % safety margin, for CPU and memory. */
export const VPA_PERCENTILE = 0.9;
export const VPA_SAFETY_MARGIN = 0.15;
/** KRR's simple strategy: CPU at the 95th percentile, memory at the maximum plus 15 %. */
export const KRR_CPU_PERCENTILE = 0.95;
export const KRR_MEMORY_BUFFER = 0.15;
/** Kubecost's request sizing with `algorithm=quantile`, q 0.95, over its default target utilization 0.7. */
export const KUBECOST_QUANTILE = 0.95;
export const KUBECOST_TARGET_UTILIZATION = 0.7;

/**
 * The `p`-quantile of per-second cores over all runs, merged from their sketches (statistics.ts
 * mergedQuantile). Runs summarized without a sketch fall back to the quantile of their p95s (their max for
 * p = 1), the best the summary holds.
 */
export function coresQuantileOf(runs: readonly BacktestRun[], p: number): number {
  // The maximum is exact whatever each run kept: its sketch's top point is its highest second.
  if (p >= 1) return percentileOf(runs.map(highestCoresOf), 1);
  const sketches = runs
    .filter((run) => run.coresQuantiles !== null && run.coresQuantiles.length >= 2 && run.ticks > 0)
    .map((run) => ({ quantiles: run.coresQuantiles!, weight: run.ticks }));
  if (sketches.length > 0) return mergedQuantile(sketches, p);
  return percentileOf(
    runs.map((run) => run.cpuP95),
    p,
  );
}

/** A run's highest per-second cores: its sketch's top point, else its max. */
function highestCoresOf(run: BacktestRun): number | null {
  const sketch = run.coresQuantiles;
  return sketch && sketch.length >= 2 && run.ticks > 0
    ? Math.max(sketch.at(-1)!, run.cpuMax ?? 0)
    : run.cpuMax;
}

/** The bytes a run killed by the OOM killer was killed at: its limit, its request, else its peak. */
export function killLimitOf(run: BacktestRun): number {
  return run.requests.memoryLimit ?? run.requests.memoryRequest ?? run.peakRssBytes ?? 0;
}

/** Share of CFS periods throttled over the runs that counted them, as the recommendation reads it. */
function throttledShareOf(runs: readonly BacktestRun[]): number | null {
  let throttled = 0;
  let total = 0;
  for (const run of runs) {
    if (run.totalPeriods === null || run.totalPeriods <= 0) continue;
    throttled += run.throttledPeriods ?? 0;
    total += run.totalPeriods;
  }
  return total > 0 ? throttled / total : null;
}

const rightsize: SizingPolicy = {
  description: "rightsize: memory max peak + 15 %, CPU p90 of per-run p95 + 15 % (docs/analyzer.md)",
  source: 'docs/analyzer.md "Recommendation"',
  size(runs, settings) {
    const memory = recommendMemory([...runs], settings);
    const last = runs.at(-1);
    const cpu = recommendCpu(
      {
        runs: [...runs],
        coresMax: percentileOf(
          runs.map((run) => run.cpuMax),
          1,
        ),
        throttledShare: throttledShareOf(runs),
        // The CPU rule reads neither; the cost does, and the policy has none.
        windowEnd: last?.startedAt ?? new Date(0),
        windowDays: 1,
        maxRuns: runs.length,
      },
      settings,
    );
    return { cpuCores: cpu.cores, memoryBytes: memory.bytes };
  },
};

/**
 * Kubernetes VPA's recommender: target = the 90th percentile of CPU usage and of memory peaks, + 15 %
 * safety margin (vertical-pod-autoscaler/pkg/recommender/logic/recommender.go: targetCPUPercentile 0.9,
 * targetMemoryPercentile 0.9, safetyMarginFraction 0.15); after an OOM kill at least max(+20 %, +100 MiB)
 * over the memory at the kill (pkg/recommender/model/aggregate_container_state.go, oomBumpUpRatio,
 * oomMinBumpUp; vertical-pod-autoscaler/docs/faq.md). VPA weighs samples by a 24 h half-life; a window of
 * batch runs is weighed evenly here, each run's peak standing in for VPA's per-interval memory peak.
 */
const vpa: SizingPolicy = {
  description: "Kubernetes VPA: p90 + 15 %, after an OOM kill max(+20 %, +100 MiB)",
  source:
    "https://github.com/kubernetes/autoscaler/blob/master/vertical-pod-autoscaler/pkg/recommender/logic/recommender.go",
  size(runs, settings) {
    // recommend.ts's memory rule is VPA's at p90 + 15 %, with the same OOM bump.
    const memory = recommendMemory([...runs], {
      ...settings,
      memoryPeakPercentile: VPA_PERCENTILE * 100,
      memoryBuffer: VPA_SAFETY_MARGIN,
    });
    return {
      cpuCores: recommendedCores(coresQuantileOf(runs, VPA_PERCENTILE) * (1 + VPA_SAFETY_MARGIN)),
      memoryBytes: memory.bytes,
    };
  },
};

/**
 * KRR's simple strategy: CPU request at the 95th percentile of usage, memory at the maximum + 15 %
 * (robusta-dev/krr robusta_krr/strategies/simple.py: cpu_percentile 95, memory_buffer_percentage 15).
 */
const krrSimple: SizingPolicy = {
  description: "KRR simple: CPU p95, memory max × 1.15",
  source: "https://github.com/robusta-dev/krr/blob/main/robusta_krr/strategies/simple.py",
  size(runs) {
    const peak = percentileOf(
      runs.map((run) => run.peakRssBytes),
      1,
    );
    return {
      cpuCores: recommendedCores(coresQuantileOf(runs, KRR_CPU_PERCENTILE)),
      memoryBytes: recommendedBytes(peak * (1 + KRR_MEMORY_BUFFER)),
    };
  },
};

/**
 * Kubecost's container request right-sizing with the quantile algorithm: the 0.95 quantile of usage over
 * the target utilization (default 0.7), for CPU and memory (kubecost/docs
 * apis/apis-overview/api-request-right-sizing-v2.md: qCPU, qRAM, targetCPUUtilization,
 * targetRAMUtilization). Memory's quantile is over the runs' peaks.
 */
const kubecost: SizingPolicy = {
  description: "Kubecost: p95 ÷ 0.7 target utilization",
  source: "https://github.com/kubecost/docs/blob/v1.x/apis/apis-overview/api-request-right-sizing-v2.md",
  size(runs) {
    const peak = percentileOf(
      runs.map((run) => run.peakRssBytes),
      KUBECOST_QUANTILE,
    );
    return {
      cpuCores: recommendedCores(coresQuantileOf(runs, KUBECOST_QUANTILE) / KUBECOST_TARGET_UTILIZATION),
      memoryBytes: recommendedBytes(peak / KUBECOST_TARGET_UTILIZATION),
    };
  },
};

/**
 * The largest ever seen: the highest per-second cores and the highest peak, no margin; a run killed by
 * the OOM killer needed more than it was killed at, so it counts as one step above that.
 */
const maxSeen: SizingPolicy = {
  description: "largest ever seen: max cores, max peak (above any OOM kill's limit)",
  source: 'docs/analyzer.md "Backtest"',
  size(runs) {
    const need = percentileOf(
      runs.map((run) =>
        run.oomKills > 0 ? Math.max(run.peakRssBytes ?? 0, killLimitOf(run) + 1) : run.peakRssBytes,
      ),
      1,
    );
    return {
      cpuCores: recommendedCores(coresQuantileOf(runs, 1)),
      memoryBytes: recommendedBytes(need),
    };
  },
};

export const sizingPolicies = {
  rightsize,
  vpa,
  "krr-simple": krrSimple,
  kubecost,
  "max-seen": maxSeen,
} satisfies Record<string, SizingPolicy>;

export type PolicyName = keyof typeof sizingPolicies;
export const policyNames = Object.keys(sizingPolicies) as PolicyName[];

/** The policy `name` names; an unknown name is a usage error listing the valid ones. */
export function policyNamed(name: string): SizingPolicy {
  if (!Object.hasOwn(sizingPolicies, name)) {
    throw new UsageError(`unknown sizing policy "${name}": expected one of ${policyNames.join(", ")}`);
  }
  return sizingPolicies[name as PolicyName];
}
