/** The analyzer's pure core on synthetic series: every bottleneck class and every recommendation rule. */
import { describe, expect, it } from "vitest";
import { taskAnalysisSchema } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";
import type { RunSummary } from "../db/queries/task-histories.js";
import {
  confidenceOf,
  cpuSeverity,
  findRegressions,
  memorySeverity,
  type RecommendationSettings,
  type RunFigures,
} from "./recommend.js";
import { declaredValuesOf, matchConfiguredRequest, noDeclaredValues, resolveRequests } from "./requests.js";
import { type CorePercentiles, mergedQuantile, percentileOf } from "./statistics.js";
import { buildTaskAnalysis, type TaskInput } from "./task-analysis.js";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";

const settings: RecommendationSettings = {
  cpuBuffer: 0.15,
  memoryBuffer: 0.15,
  cpuRunPercentile: 90,
  memoryPeakPercentile: 100,
  pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 },
};
const key = { orchestrator: "airflow", pipeline: "etl", task: "load" };

function cores(max: number, p95 = max, p50 = max): CorePercentiles {
  return { p50, p90: p95, p95, p99: max, max };
}

function analyze(runs: RunSummary[], extra: Partial<TaskInput> = {}) {
  const input: TaskInput = {
    key,
    runs,
    cores: runs.some((run) => run.ticks > 0)
      ? cores(
          Math.max(...runs.map((run) => run.cpuMax ?? 0)),
          Math.max(...runs.map((run) => run.cpuP95 ?? 0)),
        )
      : null,
    processes: [],
    declared: noDeclaredValues,
    configured: undefined,
    windowEnd: new Date(Date.UTC(2026, 11, 1)),
    windowDays: 14,
    maxRuns: 100,
    ...extra,
  };
  const analysis = buildTaskAnalysis(input, settings);
  expect(taskAnalysisSchema.safeParse(analysis).success).toBe(true);
  return analysis;
}

/** Thread-seconds per state for a 600 s run, as fractions of one thread. */
function states(shares: Partial<Record<"cpu" | "cpuWait" | "disk" | "net" | "idle" | "child", number>>) {
  const seconds = 600;
  return {
    onCpuSeconds: (shares.cpu ?? 0) * seconds,
    cpuWaitSeconds: (shares.cpuWait ?? 0) * seconds,
    diskWaitSeconds: (shares.disk ?? 0) * seconds,
    netWaitSeconds: (shares.net ?? 0) * seconds,
    idleSeconds: (shares.idle ?? 0) * seconds,
    childWaitSeconds: (shares.child ?? 0) * seconds,
  };
}

describe("bottleneck classes", () => {
  it("cpu: on a CPU most of its active time", () => {
    const analysis = analyze(syntheticRuns(5, () => ({ ...states({ cpu: 0.9, disk: 0.05, idle: 0.05 }) })));
    expect(analysis.bottleneck).toBe("cpu");
    expect(analysis.evidence[0]).toMatch(/on a CPU 95 % of its active thread time/);
  });

  it("cpu-contention: waited for a CPU, with the host's load and cores in the evidence", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.5, cpuWait: 0.31, idle: 0.1 }),
        hostLoadAvg: 7.9,
        hostCores: 4,
      })),
    );
    expect(analysis.bottleneck).toBe("cpu-contention");
    expect(analysis.evidence[0]).toBe(
      "waited for a CPU 38 % of its runnable time on a host at load 7.9 on 4 cores",
    );
  });

  it("cpu-throttled: throttled in more than 5 % of periods", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 1 }),
        throttledPeriods: 6,
        totalPeriods: 100,
        limitCpuCores: 1,
      })),
    );
    expect(analysis.bottleneck).toBe("cpu-throttled");
    expect(analysis.cpu.throttledShare).toBeCloseTo(0.06);
    // 5 % exactly is not above the threshold.
    const edge = analyze(
      syntheticRuns(5, () => ({ ...states({ cpu: 1 }), throttledPeriods: 5, totalPeriods: 100 })),
    );
    expect(edge.bottleneck).toBe("cpu");
  });

  it("memory: an OOM kill, or a peak at 90 % of the limit", () => {
    const killed = analyze(
      syntheticRuns(5, (index) => ({ ...states({ cpu: 1 }), oomKills: index === 2 ? 1 : 0 })),
    );
    expect(killed.bottleneck).toBe("memory");
    expect(killed.evidence[0]).toMatch(/OOM killer 1 time in 1 of 5 runs/);
    const tight = analyze(
      syntheticRuns(3, () => ({
        ...states({ cpu: 1 }),
        peakRssBytes: 950 * MiB,
        limitMemoryBytes: 1000 * MiB,
      })),
    );
    expect(tight.bottleneck).toBe("memory");
    expect(tight.evidence[0]).toMatch(/95 % of its 1000 MiB limit/);
  });

  it("disk-io: blocked on disk", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({ ...states({ cpu: 0.3, disk: 0.6, idle: 0.1 }), diskReadBytes: 2 * GiB })),
    );
    expect(analysis.bottleneck).toBe("disk-io");
    expect(analysis.evidence[0]).toMatch(/67 % of its active thread time blocked on disk, reading 2 GiB/);
  });

  it("network-wait: blocked on sockets, naming the endpoint waited on most", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.2, net: 0.71, idle: 0.09 }),
        endpoints: [
          { endpoint: "127.0.0.1:5432", waitSeconds: 400 },
          { endpoint: "127.0.0.1:6379", waitSeconds: 26 },
        ],
      })),
    );
    expect(analysis.bottleneck).toBe("network-wait");
    expect(analysis.evidence[0]).toBe(
      "78 % of its active thread time blocked on sockets, mostly 127.0.0.1:5432 and 127.0.0.1:6379",
    );
    expect(analysis.endpoints?.[0]).toEqual({ endpoint: "127.0.0.1:5432", waitSeconds: 2000 });
  });

  it("network-wait: one thread on a socket all run long beside a pool of idle threads", () => {
    // An event-loop runtime: the main thread waits in epoll on an HTTP API, eight pool threads sleep.
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.02, net: 0.95, idle: 8 }),
        cpuSeconds: 12,
        cpuP95: 0.04,
        cpuMax: 0.06,
      })),
    );
    expect(analysis.bottleneck).toBe("network-wait");
  });

  it("idle: asleep and using almost no CPU", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.02, idle: 0.98 }),
        cpuSeconds: 6,
        cpuP95: 0.02,
        cpuMax: 0.05,
      })),
    );
    expect(analysis.bottleneck).toBe("idle");
  });

  it("balanced: no single cause", () => {
    const analysis = analyze(syntheticRuns(5, () => ({ ...states({ cpu: 0.4, disk: 0.3, net: 0.3 }) })));
    expect(analysis.bottleneck).toBe("balanced");
    expect(analysis.evidence[0]).toMatch(/40 % on a CPU, 30 % on sockets, 30 % on disk/);
  });

  it("unknown: runs without samples", () => {
    const analysis = analyze(
      syntheticRuns(2, () => ({
        ticks: 0,
        sampledSeconds: 0,
        cpuP50: null,
        cpuP95: null,
        cpuMax: null,
        cpuSeconds: null,
        peakRssBytes: null,
        onCpuSeconds: 0,
      })),
    );
    expect(analysis.bottleneck).toBe("unknown");
    expect(analysis.recommendation.confidence).toBe("none");
    expect(analysis.recommendation.cpuCores).toBe(0.1);
    expect(analysis.recommendation.memoryBytes).toBe(128 * MiB);
  });

  it("child wait does not hide a busy subprocess: shares exclude it from the class, not from timeShares", () => {
    const analysis = analyze(syntheticRuns(5, () => ({ ...states({ cpu: 0.95, child: 1, idle: 0.05 }) })));
    expect(analysis.bottleneck).toBe("cpu");
    expect(analysis.timeShares.childWait).toBeCloseTo(0.5);
    const total = Object.values(analysis.timeShares).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1);
  });
});

function wall(shares: Partial<Record<"cpu" | "cpuWait" | "disk" | "net" | "idle" | "child", number>>) {
  const seconds = states(shares);
  return {
    wall: {
      onCpuSeconds: seconds.onCpuSeconds,
      cpuWaitSeconds: seconds.cpuWaitSeconds,
      diskWaitSeconds: seconds.diskWaitSeconds,
      netWaitSeconds: seconds.netWaitSeconds,
      childWaitSeconds: seconds.childWaitSeconds,
      idleSeconds: seconds.idleSeconds,
    },
  };
}

describe("wall-clock shares", () => {
  it("a single-threaded burner beside 8 idle threads is on a CPU in timeShares, idle by thread time", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({ ...states({ cpu: 1, idle: 8 }), ...wall({ cpu: 0.98, idle: 0.02 }) })),
    );
    expect(analysis.bottleneck).toBe("cpu");
    expect(analysis.timeShares.cpu).toBeCloseTo(0.98);
    expect(analysis.threadTimeShares?.idle).toBeCloseTo(8 / 9);
    expect(analysis.evidence[0]).toContain("wall time");
  });

  it("a task asleep most of its wall time is idle whatever its runnable moments did", () => {
    // 600 MB touched then a long sleep: the few runnable moments queued (thread time says contention).
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.01, cpuWait: 0.01, idle: 0.98 }),
        ...wall({ cpu: 0.01, cpuWait: 0.01, idle: 0.98 }),
        cpuSeconds: 6,
        cpuP50: 0.01,
        cpuP95: 0.01,
        cpuMax: 0.5,
      })),
    );
    expect(analysis.bottleneck).toBe("idle");
    expect(analysis.evidence[0]).toContain("of its wall time");
  });

  it("two hogs sharing one core stay cpu-contention: waiting for a CPU is judged per thread", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({ ...states({ cpu: 1, cpuWait: 1 }), ...wall({ cpu: 0.75, cpuWait: 0.25 }) })),
    );
    expect(analysis.bottleneck).toBe("cpu-contention");
  });

  it("one thread blocked on a socket beside idle pool threads is network wait on the wall clock", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.05, net: 0.9, idle: 8 }),
        ...wall({ cpu: 0.05, net: 0.9, idle: 0.05 }),
        cpuSeconds: 30,
        cpuP50: 0.05,
        cpuP95: 0.05,
        cpuMax: 0.1,
      })),
    );
    expect(analysis.bottleneck).toBe("network-wait");
    expect(analysis.timeShares.networkWait).toBeCloseTo(0.9);
  });

  it("the rules after contention name the wall clock, and balanced says how long it slept", () => {
    const balanced = analyze(
      syntheticRuns(5, () => ({
        ...states({ cpu: 0.4, disk: 0.3, net: 0.3 }),
        ...wall({ cpu: 0.2, disk: 0.15, net: 0.15, idle: 0.5 }),
      })),
    );
    expect(balanced.bottleneck).toBe("balanced");
    expect(balanced.evidence[0]).toBe(
      "no single cause: of its active wall time 40 % on a CPU, 30 % on sockets, 30 % on disk, 0 % waiting for a CPU; asleep 50 % of its wall time",
    );
    const disk = analyze(
      syntheticRuns(5, () => ({ ...states({ cpu: 0.5, disk: 0.5 }), ...wall({ cpu: 0.5, disk: 0.5 }) })),
    );
    expect(disk.bottleneck).toBe("disk-io");
    expect(disk.evidence[0]).toMatch(/^50 % of its active wall time blocked on disk, reading /);
  });

  it("runs without wall-clock data fall back to thread time", () => {
    const analysis = analyze(syntheticRuns(5, () => ({ ...states({ cpu: 0.5, idle: 0.5 }) })));
    expect(analysis.timeShares).toEqual(analysis.threadTimeShares);
  });
});

describe("memory recommendation", () => {
  it("max per-run peak × 1.15, rounded up to 64 MiB", () => {
    const analysis = analyze(syntheticRuns(7, (index) => ({ peakRssBytes: (300 + index * 10) * MiB })));
    // 360 MiB × 1.15 = 414 MiB → 448 MiB.
    expect(analysis.recommendation.memoryBytes).toBe(448 * MiB);
    expect(analysis.memory.peakBytes.max).toBe(360 * MiB);
  });

  it("never below 128 MiB", () => {
    const analysis = analyze(syntheticRuns(3, () => ({ peakRssBytes: 20 * MiB })));
    expect(analysis.recommendation.memoryBytes).toBe(128 * MiB);
  });

  it("the percentile of per-run peaks is configurable", () => {
    const runs = syntheticRuns(10, (index) => ({ peakRssBytes: (index === 9 ? 2000 : 500) * MiB }));
    const input: TaskInput = {
      key,
      runs,
      cores: cores(1),
      processes: [],
      declared: noDeclaredValues,
      configured: undefined,
      windowEnd: new Date(Date.UTC(2026, 11, 1)),
      windowDays: 14,
      maxRuns: 100,
    };
    expect(buildTaskAnalysis(input, settings).recommendation.memoryBytes).toBe(2304 * MiB);
    // p90 of nine 500 MiB peaks and one 2000 MiB, interpolated like percentile_cont: 500 + 0.1 × 1500
    // = 650 MiB; × 1.15 = 747.5 → 768 MiB.
    expect(
      buildTaskAnalysis(input, { ...settings, memoryPeakPercentile: 90 }).recommendation.memoryBytes,
    ).toBe(768 * MiB);
  });

  it("after an OOM kill: at least max(limit + 100 MiB, limit × 1.2) (VPA)", () => {
    const small = analyze(
      syntheticRuns(4, (index) => ({
        peakRssBytes: 250 * MiB,
        limitMemoryBytes: 256 * MiB,
        requestMemoryBytes: 256 * MiB,
        memorySource: "cgroup",
        oomKills: index === 3 ? 1 : 0,
      })),
    );
    // 256 + 100 = 356 MiB beats 256 × 1.2 = 307 MiB; → 384 MiB.
    expect(small.recommendation.memoryBytes).toBe(384 * MiB);
    expect(small.recommendation.severity).toBe("critical");
    expect(small.recommendation.reason).toMatch(/after 1 OOM kill at 256 MiB/);
    const large = analyze(
      syntheticRuns(4, (index) => ({
        peakRssBytes: 1900 * MiB,
        limitMemoryBytes: 2 * GiB,
        oomKills: index === 0 ? 1 : 0,
      })),
    );
    // 2048 × 1.2 = 2457.6 MiB beats 2148 MiB; → 2496 MiB.
    expect(large.recommendation.memoryBytes).toBe(2496 * MiB);
  });
});

describe("CPU recommendation", () => {
  it("p90 across runs of per-run p95 × 1.15, rounded up to 50 millicores", () => {
    const analysis = analyze(syntheticRuns(10, (index) => ({ cpuP95: 0.5 + index * 0.1, cpuMax: 2 })));
    // p90 of the per-run p95s, interpolated like percentile_cont: 1.3 + 0.1 × 0.1 = 1.31; × 1.15 = 1.5065 → 1.55.
    expect(percentileOf([0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4], 0.9)).toBeCloseTo(1.31);
    expect(analysis.recommendation.cpuCores).toBe(1.55);
  });

  it("zero CPU gets the 0.1 core minimum", () => {
    const analysis = analyze(
      syntheticRuns(3, () => ({ cpuP50: 0, cpuP95: 0, cpuMax: 0, cpuSeconds: 0, ...states({ idle: 1 }) })),
    );
    expect(analysis.recommendation.cpuCores).toBe(0.1);
    expect(analysis.cpu.cpuSecondsPerRun.max).toBe(0);
  });

  it("a throttled task gets an increase over its limit, and says so", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        cpuP95: 0.7,
        cpuMax: 1,
        limitCpuCores: 1,
        requestCpuCores: 1,
        cpuSource: "cgroup",
        throttledPeriods: 30,
        totalPeriods: 100,
      })),
    );
    expect(analysis.recommendation.cpuCores).toBe(1.25);
    expect(analysis.recommendation.reason).toMatch(/throttled in 30 % of periods, so raised/);
  });

  it("a task pinned at its limit gets an increase", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        cpuP95: 2,
        cpuMax: 2,
        limitCpuCores: 2,
        requestCpuCores: 2,
        cpuSource: "cgroup",
      })),
    );
    expect(analysis.recommendation.cpuCores).toBe(2.5);
    expect(analysis.recommendation.reason).toMatch(/sits at its limit/);
  });

  it("a single-threaded task with a 4-core request is offered about one core", () => {
    const analysis = analyze(
      syntheticRuns(8, () => ({
        cpuP95: 1,
        cpuMax: 1.02,
        cpuSeconds: 590,
        requestCpuCores: 4,
        cpuSource: "flag",
        requestMemoryBytes: 512 * MiB,
        memorySource: "flag",
      })),
    );
    // 1.02 at most: one core and a clock tick of jitter, not a second thread.
    expect(analysis.recommendation.cpuCores).toBe(1);
    expect(analysis.recommendation.severity).toBe("critical");
    expect(analysis.recommendation.reason).toMatch(/single-threaded/);
    expect(analysis.evidence.join(" ")).toMatch(/against a 4-core request: 25 % utilization/);
    expect(analysis.recommendation.monthlySavingsUsd).toBeGreaterThan(0);
  });

  it("a multi-threaded task is not capped", () => {
    const analysis = analyze(syntheticRuns(8, () => ({ cpuP95: 3, cpuMax: 3.5 })));
    expect(analysis.recommendation.cpuCores).toBe(3.45);
  });
});

describe("confidence, severity, savings, regressions", () => {
  const figures = (count: number, coverage = 1): RunFigures[] =>
    Array.from({ length: count }, (_, index) => ({
      startedAt: new Date(Date.UTC(2026, 10, index + 1)),
      durationSeconds: 100,
      sampledSeconds: 100 * coverage,
      ticks: 10,
      cpuP95: 1,
      cpuMax: 1,
      cpuSeconds: 100,
      peakRssBytes: 100 * MiB,
      oomKills: 0,
      requests: resolveRequests(syntheticRun(), noDeclaredValues, undefined),
    }));

  it("confidence from runs seen and sample coverage", () => {
    expect(confidenceOf([])).toBe("none");
    expect(confidenceOf(figures(1))).toBe("low");
    expect(confidenceOf(figures(2))).toBe("low");
    expect(confidenceOf(figures(3))).toBe("medium");
    expect(confidenceOf(figures(6))).toBe("medium");
    expect(confidenceOf(figures(7))).toBe("high");
    expect(confidenceOf(figures(7, 0.3))).toBe("medium");
  });

  it("severity like KRR", () => {
    expect(cpuSeverity(2, 1.5)).toBe("critical");
    expect(cpuSeverity(2, 1.75)).toBe("warning");
    expect(cpuSeverity(2, 1.9)).toBe("ok");
    expect(cpuSeverity(2, 1.95)).toBe("good");
    expect(cpuSeverity(null, 1)).toBe("warning");
    expect(memorySeverity(1000 * MiB, 500 * MiB)).toBe("critical");
    expect(memorySeverity(1000 * MiB, 750 * MiB)).toBe("warning");
    expect(memorySeverity(1000 * MiB, 900 * MiB)).toBe("ok");
    expect(memorySeverity(1000 * MiB, 960 * MiB)).toBe("good");
  });

  it("a memory request below an observed peak is an OOM risk: critical", () => {
    const analysis = analyze(
      syntheticRuns(5, () => ({
        requestMemoryBytes: 300 * MiB,
        memorySource: "cgroup",
        peakRssBytes: 320 * MiB,
      })),
    );
    expect(analysis.recommendation.severity).toBe("critical");
  });

  it("monthly savings: (request − recommendation) × run time × price per run, × runs a day observed × 30", () => {
    // 7 runs of 1 h each, request 4 cores and 4 GiB; recommendation 1.15 cores and 512 MiB.
    const runs = syntheticRuns(7, () => ({
      durationSeconds: 3600,
      sampledSeconds: 3600,
      cpuP95: 1,
      cpuMax: 1.5,
      peakRssBytes: 400 * MiB,
      requestCpuCores: 4,
      requestMemoryBytes: 4 * GiB,
      cpuSource: "flag",
      memorySource: "flag",
    }));
    const analysis = analyze(runs);
    expect(analysis.recommendation.cpuCores).toBe(1.15);
    expect(analysis.recommendation.memoryBytes).toBe(512 * MiB);
    // The runs span more than the 14-day window: 7 runs in 14 days, half a run a day.
    expect(analysis.recommendation.runsPerDay).toBe(0.5);
    expect(analysis.recommendation.costPerRunUsd).toBeCloseTo(4 * 0.031611 + 4 * 0.004237, 6);
    expect(analysis.recommendation.recommendedCostPerRunUsd).toBeCloseTo(1.15 * 0.031611 + 0.5 * 0.004237, 6);
    const perRun = (4 - 1.15) * 0.031611 + (4 - 0.5) * 0.004237;
    expect(analysis.recommendation.monthlySavingsUsd).toBeCloseTo(perRun * 0.5 * 30, 5);
  });

  it("runs of seconds, first seen minutes ago: a saving counted over one day, not rounded away", () => {
    // The demo's shape: 3 runs of 4 s within the last minutes, a 4-core request for a single thread.
    const windowEnd = new Date(Date.UTC(2026, 11, 1));
    const runs = [0, 1, 2].map((index) =>
      syntheticRun(
        {
          startedAt: new Date(windowEnd.getTime() - (300 - index * 60) * 1000),
          durationSeconds: 4,
          sampledSeconds: 4,
          ticks: 4,
          cpuP95: 1,
          cpuMax: 1,
          cpuSeconds: 4,
          peakRssBytes: 100 * MiB,
          requestCpuCores: 4,
          cpuSource: "flag",
        },
        index,
      ),
    );
    const analysis = analyze(runs);
    expect(analysis.recommendation.cpuCores).toBe(1);
    // Observed over minutes, counted as one day: 3 runs a day.
    expect(analysis.recommendation.runsPerDay).toBe(3);
    const perRun = (4 - 1) * 0.031611 * (4 / 3600);
    expect(analysis.recommendation.monthlySavingsUsd).toBeCloseTo(perRun * 3 * 30, 6);
    expect(analysis.recommendation.monthlySavingsUsd).toBeGreaterThan(0);
  });

  it("no request known: a recommendation anyway, the saving unknown", () => {
    const analysis = analyze(syntheticRuns(4));
    expect(analysis.recommendation.monthlySavingsUsd).toBeNull();
    expect(analysis.recommendation.reason).toMatch(/no request known, so the saving is unknown/);
    expect(analysis.recommendation.cpuCores).toBe(1); // 1 × 1.15 = 1.15, capped: single-threaded
  });

  it("one run: low confidence, still a recommendation, no regression", () => {
    const analysis = analyze(syntheticRuns(1, () => ({ cpuP95: 0.4, cpuMax: 0.6, peakRssBytes: 700 * MiB })));
    expect(analysis.runs).toBe(1);
    expect(analysis.recommendation.confidence).toBe("low");
    expect(analysis.recommendation.cpuCores).toBe(0.5);
    expect(analysis.recommendation.memoryBytes).toBe(832 * MiB);
    expect(analysis.regressions).toEqual([]);
    expect(analysis.durationSeconds).toEqual({ p50: 600, p95: 600, max: 600 });
  });

  it("regressions: the last 3 runs against the window median, above +30 %", () => {
    const runs = figures(10).map((run, index) =>
      index >= 7 ? { ...run, durationSeconds: 150, cpuSeconds: 120, peakRssBytes: 100 * MiB } : run,
    );
    expect(findRegressions(runs)).toEqual([
      { metric: "durationSeconds", recent: 150, median: 100, change: 0.5 },
    ]);
    expect(findRegressions(runs.slice(5))).toEqual([]); // too few runs to have a median of their own
  });
});

describe("requests and quantities", () => {
  it("execution's own request > declared > configured, each with its source", () => {
    const declared = declaredValuesOf([
      { resource: "cpu", kind: "request", value: 2 },
      { resource: "memory", kind: "limit", value: 4 * GiB },
      { resource: "memory", kind: "request", value: null },
    ]);
    const configured = matchConfiguredRequest(
      [
        { pipeline: "etl", cpuCores: 8, memoryBytes: GiB },
        { pipeline: "etl", task: "load", memoryBytes: 3 * GiB },
        { pipeline: "other", task: "load", cpuCores: 16 },
      ],
      key,
    );
    expect(configured).toEqual({ pipeline: "etl", task: "load", memoryBytes: 3 * GiB });
    const fromExecution = resolveRequests(
      { ...syntheticRun(), requestCpuCores: 1, cpuSource: "cgroup" },
      declared,
      configured,
    );
    expect(fromExecution).toMatchObject({
      cpuRequest: 1,
      cpuSource: "cgroup",
      memoryRequest: 3 * GiB,
      memorySource: "config",
      memoryLimit: 4 * GiB,
    });
    const fromDeclared = resolveRequests(syntheticRun(), declared, configured);
    expect(fromDeclared).toMatchObject({ cpuRequest: 2, cpuSource: "declared" });
  });
});

describe("merged percentiles of per-second cores", () => {
  /** A run's sketch as the SQL makes it: percentile_cont at 0, 1, …, 100 % (R-7, as simple-statistics). */
  const sketchOf = (values: number[]) => ({
    quantiles: Array.from({ length: 101 }, (_, index) => percentileOf(values, index / 100)),
    weight: values.length,
  });

  it("is exact for one run", () => {
    const values = Array.from({ length: 500 }, (_, index) => ((index * 37) % 101) / 50);
    for (const p of [0.5, 0.9, 0.95, 0.99]) {
      expect(mergedQuantile([sketchOf(values)], p)).toBeCloseTo(percentileOf(values, p), 6);
    }
  });

  it("across runs of different shapes and lengths, lands within 1 % of rank of the exact union", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 20; trial++) {
      const runs = Array.from({ length: 1 + Math.floor(random() * 20) }, (_, run) =>
        Array.from(
          { length: 50 + Math.floor(random() * 600) },
          () => (run % 3) * 0.7 + random() * (1 + run / 5),
        ),
      );
      const union = runs.flat().sort((a, b) => a - b);
      for (const p of [0.5, 0.9, 0.95, 0.99]) {
        const merged = mergedQuantile(runs.map(sketchOf), p);
        const rank = union.filter((value) => value <= merged).length / union.length;
        expect(Math.abs(rank - p)).toBeLessThanOrEqual(0.011);
      }
    }
  });

  it("no sketches: 0", () => {
    expect(mergedQuantile([], 0.5)).toBe(0);
  });
});
