/** The backtest's pure core: replay, the stretch estimate, the time split, each policy, and the hold on unsafe cuts. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.js";
import { UsageError } from "../common/errors.js";
import { recommendedBytes } from "../common/sizing-policy.js";
import { GiB, MiB } from "../common/units.js";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";
import { backtestTask, demandAbove, exceedsMemory, replay, splitByTime } from "./backtest.js";
import { addTasks, finishSums, startSums } from "./backtest-window.js";
import { type BacktestRun, policyNamed, policyNames, sizingPolicies } from "./policies.js";
import type { RecommendationSettings } from "./recommend.js";
import { noDeclaredValues } from "./requests.js";
import { backtestRunOf, buildTaskAnalysis } from "./task-analysis.js";

const settings: RecommendationSettings = {
  cpuBuffer: 0.15,
  memoryBuffer: 0.15,
  cpuRunPercentile: 90,
  memoryPeakPercentile: 100,
  pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 },
};
const noRequest = {
  cpuRequest: null,
  cpuLimit: null,
  cpuSource: null,
  memoryRequest: null,
  memoryLimit: null,
  memorySource: null,
};

/** A sketch whose per-second cores rise evenly from `low` to `high`. */
function evenSketch(low: number, high: number): number[] {
  return Array.from({ length: 101 }, (_, index) => low + ((high - low) * index) / 100);
}

function run(overrides: Partial<BacktestRun> = {}, index = 0): BacktestRun {
  return {
    startedAt: new Date(Date.UTC(2026, 10, 1 + index)),
    durationSeconds: 100,
    sampledSeconds: 100,
    ticks: 100,
    cpuP95: 1,
    cpuMax: 1,
    cpuSeconds: 100,
    peakRssBytes: 400 * MiB,
    oomKills: 0,
    requests: noRequest,
    coresQuantiles: evenSketch(1, 1),
    throttledPeriods: null,
    totalPeriods: null,
    ...overrides,
  };
}

describe("replay", () => {
  it("counts runs over the memory and those in the reclaim zone below it", () => {
    const runs = [400, 500, 600].map((mib, index) => run({ peakRssBytes: mib * MiB }, index));
    const result = replay(runs, { cpuCores: 1, memoryBytes: 512 * MiB }, settings.pricing);
    expect(result).toMatchObject({ runs: 3, overMemory: 1, reclaimZone: 1, cpuCapped: 0 });
  });

  it("takes a run killed by the OOM killer as over any memory at or below its kill limit", () => {
    const killed = run({
      peakRssBytes: 509 * MiB,
      oomKills: 1,
      requests: { ...noRequest, memoryLimit: 512 * MiB },
    });
    expect(exceedsMemory(killed, 512 * MiB)).toBe(true);
    expect(exceedsMemory(killed, 576 * MiB)).toBe(false);
  });

  it("leaves unsampled runs out of every count", () => {
    const runs = [run({ ticks: 0, peakRssBytes: null, coresQuantiles: null }), run({}, 1)];
    expect(replay(runs, { cpuCores: 0.5, memoryBytes: 128 * MiB }, settings.pricing)).toMatchObject({
      runs: 1,
      overMemory: 1,
      cpuCapped: 1,
    });
  });

  it("prices the saving against the runs' own requests, as the cost does", () => {
    const requests = { ...noRequest, cpuRequest: 2, memoryRequest: 2 * GiB };
    const runs = [run({ requests, durationSeconds: 3600, sampledSeconds: 3600 })];
    const result = replay(runs, { cpuCores: 1, memoryBytes: 1 * GiB }, settings.pricing);
    expect(result.coreHoursSaved).toBe(1);
    expect(result.gibHoursSaved).toBe(1);
    expect(result.usdSaved).toBeCloseTo(0.031611 + 0.004237, 6);
    expect(replay([run()], { cpuCores: 1, memoryBytes: GiB }, settings.pricing).usdSaved).toBeNull();
  });
});

describe("demandAbove (the stretch estimate)", () => {
  it("integrates the demand above the cap over the run's quantile function", () => {
    // Cores rise evenly 0 → 2 over 100 s: 50 s above 1 core, holding 25 CPU-seconds above it.
    const even = run({ coresQuantiles: evenSketch(0, 2) });
    const demand = demandAbove(even, 1);
    expect(demand.seconds).toBeCloseTo(50, 6);
    expect(demand.cpuSeconds).toBeCloseTo(25, 6);
    // 25 CPU-seconds done at 1 core add 25 s to a 100 s run.
    expect(demand.stretch).toBeCloseTo(0.25, 6);
    expect(demandAbove(even, 2)).toEqual({ seconds: 0, cpuSeconds: 0, stretch: 0 });
  });

  it("reads a run summarized without a sketch from its p95 and max", () => {
    const coarse = run({ coresQuantiles: null, cpuP95: 1, cpuMax: 3 });
    const demand = demandAbove(coarse, 2);
    // The last 5 s rise from 1 to 3 cores: 2.5 s above 2, 1.25 CPU-seconds above it.
    expect(demand.seconds).toBeCloseTo(2.5, 6);
    expect(demand.cpuSeconds).toBeCloseTo(1.25, 6);
  });

  it("walking down from the top gives the full integral over every segment", () => {
    fc.assert(
      fc.property(sketchArbitrary, fc.double({ min: 0.05, max: 8, noNaN: true }), (sketch, cap) => {
        let cpuSeconds = 0;
        // The reference: every 1 % of the 100 s, at 1,000 steps each, demand above the cap.
        for (let segment = 0; segment < 100; segment++) {
          for (let step = 0; step < 1000; step++) {
            const at = sketch[segment]! + ((sketch[segment + 1]! - sketch[segment]!) * (step + 0.5)) / 1000;
            cpuSeconds += Math.max(0, at - cap) / 1000;
          }
        }
        expect(demandAbove(run({ coresQuantiles: sketch }), cap).cpuSeconds).toBeCloseTo(cpuSeconds, 3);
      }),
      { numRuns: 50 },
    );
  });

  it("never grows as the cap rises", () => {
    fc.assert(
      fc.property(
        sketchArbitrary,
        fc.double({ min: 0.05, max: 8, noNaN: true }),
        fc.double({ min: 0, max: 4, noNaN: true }),
        (sketch, cap, rise) => {
          const subject = run({ coresQuantiles: sketch });
          const lower = demandAbove(subject, cap);
          const higher = demandAbove(subject, cap + rise);
          expect(higher.seconds).toBeLessThanOrEqual(lower.seconds + 1e-9);
          expect(higher.cpuSeconds).toBeLessThanOrEqual(lower.cpuSeconds + 1e-9);
          expect(lower.seconds).toBeLessThanOrEqual(subject.sampledSeconds + 1e-9);
        },
      ),
    );
  });
});

describe("splitByTime", () => {
  it("holds out the newest quarter, at least one run, and gives none below four runs", () => {
    expect(splitByTime([1, 2, 3])).toBeNull();
    expect(splitByTime([1, 2, 3, 4])).toEqual({ training: [1, 2, 3], test: [4] });
    expect(splitByTime([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual({
      training: [1, 2, 3, 4, 5, 6, 7, 8],
      test: [9, 10],
    });
  });

  it("keeps every run once and in order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 200 }), (values) => {
        const split = splitByTime(values);
        if (split === null) {
          expect(values.length).toBeLessThan(4);
          return;
        }
        expect([...split.training, ...split.test]).toEqual(values);
        expect(split.test.length).toBeGreaterThanOrEqual(1);
        expect(split.training.length).toBeGreaterThan(split.test.length);
      }),
    );
  });
});

describe("sizing policies", () => {
  // Peaks 100, 200, … 1000 MiB; cores rise evenly 0 → 2 in every run.
  const runs = Array.from({ length: 10 }, (_, index) =>
    run(
      { peakRssBytes: (index + 1) * 100 * MiB, coresQuantiles: evenSketch(0, 2), cpuP95: 1.9, cpuMax: 2 },
      index,
    ),
  );

  it("each sizes by its published rule", () => {
    const size = (name: (typeof policyNames)[number]) => sizingPolicies[name].size(runs, settings);
    // VPA: p90 of peaks (910 MiB, interpolated) + 15 %; p90 of cores (1.8) + 15 %.
    expect(size("vpa")).toEqual({ cpuCores: 2.1, memoryBytes: recommendedBytes(910 * MiB * 1.15) });
    // KRR simple: CPU p95 (1.9), memory max × 1.15.
    expect(size("krr-simple")).toEqual({ cpuCores: 1.9, memoryBytes: recommendedBytes(1000 * MiB * 1.15) });
    // Kubecost: p95 ÷ 0.7.
    expect(size("kubecost")).toEqual({ cpuCores: 2.75, memoryBytes: recommendedBytes((955 * MiB) / 0.7) });
    expect(size("max-seen")).toEqual({ cpuCores: 2, memoryBytes: 1024 * MiB });
    // rightsize: p90 of per-run p95 (1.9) + 15 %, max peak + 15 %.
    expect(size("rightsize")).toEqual({ cpuCores: 2.2, memoryBytes: recommendedBytes(1000 * MiB * 1.15) });
  });

  it("VPA bumps memory after an OOM kill by max(+20 %, +100 MiB) over the kill's limit", () => {
    const killed = [
      ...runs.slice(0, 9),
      run({ peakRssBytes: 1000 * MiB, oomKills: 1, requests: { ...noRequest, memoryLimit: 1000 * MiB } }, 9),
    ];
    expect(sizingPolicies.vpa.size(killed, settings).memoryBytes).toBe(recommendedBytes(1200 * MiB));
  });

  it("an unknown name fails with the valid ones", () => {
    expect(() => policyNamed("p95")).toThrow(UsageError);
    expect(() => policyNamed("p95")).toThrow(/rightsize, vpa, krr-simple, kubecost, max-seen/);
    expect(() => policyNamed("toString")).toThrow(UsageError);
  });
});

/** Per-second cores sketches: 101 non-decreasing points. */
const sketchArbitrary = fc
  .array(fc.double({ min: 0, max: 8, noNaN: true }), { minLength: 101, maxLength: 101 })
  .map((values) => values.sort((a, b) => a - b));

/** Runs as the summaries hold them: sampled or not, sketched or not, killed or not, with or without a request. */
const runArbitrary = fc
  .record({
    sampled: fc.boolean(),
    sketch: fc.option(sketchArbitrary),
    peakMiB: fc.integer({ min: 1, max: 8192 }),
    seconds: fc.integer({ min: 1, max: 7200 }),
    killed: fc.boolean(),
    limitMiB: fc.option(fc.integer({ min: 64, max: 8192 })),
    requestCores: fc.option(fc.double({ min: 0.1, max: 16, noNaN: true })),
  })
  .map((shape) =>
    run({
      ticks: shape.sampled ? shape.seconds : 0,
      durationSeconds: shape.seconds,
      sampledSeconds: shape.sampled ? shape.seconds : 0,
      coresQuantiles: shape.sampled ? shape.sketch : null,
      cpuP95: shape.sketch ? shape.sketch[95]! : 1,
      cpuMax: shape.sketch ? shape.sketch[100]! : 2,
      peakRssBytes: shape.sampled ? shape.peakMiB * MiB : null,
      oomKills: shape.killed ? 1 : 0,
      requests: {
        ...noRequest,
        cpuRequest: shape.requestCores,
        memoryLimit: shape.limitMiB === null ? null : shape.limitMiB * MiB,
      },
    }),
  );

describe("backtests, for every policy and any runs", () => {
  it("count no more runs than they replay", () => {
    fc.assert(
      fc.property(
        fc.array(runArbitrary, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...policyNames),
        (runs, policy) => {
          const backtest = backtestTask(runs, policy, settings);
          for (const result of [backtest.inSample, backtest.outOfSample]) {
            if (result === null) continue;
            expect(result.overMemory + result.reclaimZone).toBeLessThanOrEqual(result.runs);
            expect(result.stretchedRuns).toBeLessThanOrEqual(result.cpuCapped);
            expect(result.cpuCapped).toBeLessThanOrEqual(result.runs);
          }
          expect(backtest.inSample.runs).toBe(runs.filter((each) => each.ticks > 0).length);
        },
      ),
    );
  });

  it("the largest ever seen never puts a run it was sized from over memory or over its cores", () => {
    fc.assert(
      fc.property(fc.array(runArbitrary, { minLength: 1, maxLength: 40 }), (runs) => {
        const { inSample } = backtestTask(runs, "max-seen", settings);
        expect(inSample.overMemory).toBe(0);
        expect(inSample.cpuCapped).toBe(0);
      }),
    );
  });
});

describe("the night's backtest", () => {
  const request = {
    requestMemoryBytes: 2 * GiB,
    memorySource: "flag",
    requestCpuCores: 1,
    cpuSource: "flag",
  };
  const input = (peaks: number[]) => ({
    key: { orchestrator: "airflow", pipeline: "etl", task: "load" },
    runs: syntheticRuns(peaks.length, (index) => ({ ...request, peakRssBytes: peaks[index]! * MiB })),
    processes: [],
    declared: noDeclaredValues,
    configured: undefined,
    windowEnd: new Date(Date.UTC(2026, 10, 20)),
    windowDays: 30,
    maxRuns: 100,
  });

  it("replays the recommendation it made and says what it would have done", () => {
    const analysis = buildTaskAnalysis(input([400, 410, 420, 400, 405, 415, 410, 400]), settings);
    expect(analysis.backtest?.inSample).toMatchObject({
      memoryBytes: analysis.recommendation.memoryBytes,
      cpuCores: analysis.recommendation.cpuCores,
      runs: 8,
      overMemory: 0,
    });
    expect(analysis.backtest?.outOfSample).toMatchObject({ trainingRuns: 6, runs: 2, overMemory: 0 });
    expect(analysis.backtest?.meetsTarget).toBe(true);
    expect(analysis.recommendation.memoryBytes).toBeLessThan(2 * GiB);
    expect(analysis.recommendation.confidence).toBe("high");
  });

  it("does not cut memory the newest runs outgrew, and says why", () => {
    const analysis = buildTaskAnalysis(input([400, 410, 420, 400, 405, 415, 410, 900]), settings);
    expect(analysis.backtest?.outOfSample).toMatchObject({ runs: 2, overMemory: 1 });
    expect(analysis.backtest?.meetsTarget).toBe(false);
    expect(analysis.recommendation.memoryBytes).toBe(2 * GiB);
    expect(analysis.recommendation.confidence).toBe("low");
    // CPU stays at its 1-core request and memory at its request: nothing is saved, nothing is wrong.
    expect(analysis.recommendation.cpuCores).toBe(1);
    expect(analysis.recommendation.monthlySavingsUsd).toBe(0);
    expect(analysis.recommendation.costPerRunUsd).toBe(analysis.recommendation.recommendedCostPerRunUsd);
    expect(analysis.recommendation.severity).toBe("good");
    expect(analysis.recommendation.reason).toMatch(
      /Memory kept at 2 GiB, not cut: out of sample, 1 of the 2 newest runs would have exceeded the 512 MiB the older runs suggest\.$/,
    );
  });

  it("follows the configured policy, and backtests that policy", () => {
    const peaks = [400, 410, 420, 400, 405, 415, 410, 400];
    const analysis = buildTaskAnalysis(input(peaks), { ...settings, policy: "vpa" });
    const runs = input(peaks).runs.map((each) =>
      backtestRunOf(each, { declared: noDeclaredValues, configured: undefined }),
    );
    expect(analysis.recommendation).toMatchObject(sizingPolicies.vpa.size(runs, settings));
    expect(analysis.recommendation.reason).toMatch(/^Policy vpa \(Kubernetes VPA: p90 \+ 15 %/);
    expect(analysis.backtest).toMatchObject({ policy: "vpa", inSample: { runs: 8 } });
    expect(analysis.recommendation.monthlySavingsUsd).toBeGreaterThan(0);
  });

  it("leaves the backtest or the diagnosis out only when asked (the analysis benchmark's leaveOut)", () => {
    const peaks = [400, 410, 420, 400, 405, 415, 410, 900];
    const whole = buildTaskAnalysis(input(peaks), settings);
    expect(whole.backtest).toBeDefined();
    expect(whole.diagnosis).toBeDefined();
    const withoutBacktest = buildTaskAnalysis(input(peaks), settings, new Set(["backtest"]));
    expect(withoutBacktest.backtest).toBeUndefined();
    expect(withoutBacktest.diagnosis).toEqual(whole.diagnosis);
    // Without the backtest nothing holds the cut back: the rule's own recommendation stands.
    expect(withoutBacktest.recommendation.memoryBytes).toBe(whole.backtest!.inSample.memoryBytes);
    expect(withoutBacktest.recommendation.memoryBytes).toBeLessThan(whole.recommendation.memoryBytes);
    const withoutDiagnosis = buildTaskAnalysis(input(peaks), settings, new Set(["diagnosis"]));
    expect(withoutDiagnosis.diagnosis).toBeUndefined();
    expect(withoutDiagnosis.backtest).toEqual(whole.backtest);
    expect(withoutDiagnosis.recommendation).toEqual(whole.recommendation);
  });

  it("offers exactly the registry's policies as the analysis.policy setting", () => {
    for (const name of policyNames) {
      expect(loadConfig({ env: { RIGHTSIZE_POLICY: name } }).analysis.policy).toBe(name);
    }
    expect(() => loadConfig({ env: { RIGHTSIZE_POLICY: "p95" } })).toThrow(/RIGHTSIZE_POLICY/);
  });

  it("reads a run's sketch and periods beside what the recommendation reads", () => {
    const figures = backtestRunOf(
      syntheticRun({ coresQuantiles: evenSketch(0, 1), throttledPeriods: 3, totalPeriods: 10 }),
      {
        declared: noDeclaredValues,
        configured: undefined,
      },
    );
    expect(figures).toMatchObject({
      coresQuantiles: evenSketch(0, 1),
      throttledPeriods: 3,
      totalPeriods: 10,
      peakRssBytes: 400 * MiB,
    });
  });
});

describe("the window's sums", () => {
  it("add every task's backtest under every policy, and keep the chosen policy's rows", () => {
    const tasks = [
      {
        key: { orchestrator: "airflow", pipeline: "etl", task: "a" },
        runs: [400, 410, 900, 420].map((mib, index) => run({ peakRssBytes: mib * MiB }, index)),
      },
      {
        key: { orchestrator: "airflow", pipeline: "etl", task: "b" },
        runs: [300, 310].map((mib, index) => run({ peakRssBytes: mib * MiB }, index)),
      },
    ];
    const sums = startSums("vpa");
    addTasks(sums, tasks, settings);
    const { policies, tasks: rows } = finishSums(sums);
    expect(policies.map((totals) => totals.policy)).toEqual(policyNames);
    for (const totals of policies) {
      const each = tasks.map((task) => backtestTask(task.runs, totals.policy, settings));
      expect(totals).toMatchObject({
        tasks: 2,
        runs: 6,
        overMemory: each[0]!.inSample.overMemory + each[1]!.inSample.overMemory,
        outOfSampleRuns: 1,
        tasksOverTarget: each.filter((backtest) => backtest.meetsTarget === false).length,
      });
    }
    expect(rows.map((row) => [row.task, row.backtest.policy])).toEqual([
      ["a", "vpa"],
      ["b", "vpa"],
    ]);
    // VPA's p90 of 400, 410, 420, 900 MiB (+15 %) leaves the 900 MiB run over.
    expect(policies.find((totals) => totals.policy === "vpa")!.overMemory).toBe(1);
  });
});
