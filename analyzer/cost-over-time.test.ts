import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pricesAt } from "../common/pricing.js";
import { GiB } from "../common/units.js";
import type { FleetRun } from "../db/queries/fleet.js";
import { decomposeChange, durationCause } from "./cost-change.js";
import { comparisonProblem, costOverTime, defaultComparison, weekIndexOf } from "./cost-over-time.js";
import {
  addRun,
  costOfTotals,
  emptyTotals,
  heldCostOf as heldCost,
  type PeriodTotals,
} from "./period-totals.js";

const pricing = { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 };
const end = new Date("2026-12-07T00:00:00Z");
const DAY = 86_400_000;

function run(overrides: Partial<FleetRun> & { startedAt: Date }): FleetRun {
  const heldSeconds = overrides.heldSeconds ?? 600;
  return {
    orchestrator: "airflow",
    pipeline: "etl_daily",
    task: "load_facts",
    hostId: "worker-1",
    endedAt: new Date(overrides.startedAt.getTime() + heldSeconds * 1000),
    heldSeconds,
    requestCpuCores: 2,
    requestMemoryBytes: 4 * GiB,
    cpuSeconds: 300,
    peakRssBytes: GiB,
    diskReadBytes: 10 * GiB,
    diskWriteBytes: GiB,
    netBytes: 0,
    wall: {
      onCpuSeconds: 300,
      cpuWaitSeconds: 0,
      diskWaitSeconds: 280,
      netWaitSeconds: 0,
      childWaitSeconds: 0,
      idleSeconds: 20,
    },
    ...overrides,
  };
}

/** One run a day of each task for `weeks` weeks, the last `lateDays` days' runs changed by `late`. */
function dailyRuns(
  weeks: number,
  late: (run: FleetRun) => FleetRun,
  task = "load_facts",
  lateDays = 7,
): FleetRun[] {
  const runs: FleetRun[] = [];
  for (let day = weeks * 7; day >= 1; day--) {
    const base = run({ task, startedAt: new Date(end.getTime() - day * DAY + 3_600_000) });
    runs.push(day <= lateDays ? late(base) : base);
  }
  return runs;
}

describe("cost over time", () => {
  it("places runs in weeks, oldest first, the window's end excluded", () => {
    expect(weekIndexOf(new Date(end.getTime() - 1), end, 8)).toBe(7);
    expect(weekIndexOf(new Date(end.getTime() - 7 * DAY), end, 8)).toBe(7);
    expect(weekIndexOf(new Date(end.getTime() - 7 * DAY - 1), end, 8)).toBe(6);
    expect(weekIndexOf(new Date(end.getTime() - 56 * DAY), end, 8)).toBe(0);
    expect(weekIndexOf(new Date(end.getTime() - 56 * DAY - 1), end, 8)).toBe(-1);
    expect(weekIndexOf(end, end, 8)).toBe(-1);
  });

  it("says a task runs twice as long because it reads twice the data, and its pipeline grows with it", () => {
    const slower = (base: FleetRun): FleetRun => ({
      ...base,
      heldSeconds: 1200,
      diskReadBytes: 20 * GiB,
      wall: { ...base.wall!, diskWaitSeconds: 880 },
    });
    const steady = dailyRuns(8, (base) => base, "extract");
    // Slower over the last four weeks: the default comparison, weeks 5–8 against 1–4.
    const result = costOverTime({
      runs: [...dailyRuns(8, slower, "load_facts", 28), ...steady],
      end,
      weeks: 8,
      pricing,
    });
    expect(result.weekStarts).toHaveLength(8);
    expect(result.compare).toEqual({ before: { first: 0, last: 3 }, after: { first: 4, last: 7 } });
    const task = result.growers.find((growth) => growth.task === "load_facts")!;
    expect(task.change).toBeCloseTo(2, 9);
    for (const factor of ["runsPerDay", "size", "price"] as const)
      expect(task.factors![factor]).toBeCloseTo(1, 9);
    expect(task.factors!.duration).toBeCloseTo(2, 9);
    expect(task.cause).toMatchObject({ state: "diskWaitSeconds", driver: "diskReadBytes", driverRatio: 2 });
    expect(task.sentence).toBe(
      "load_facts costs 2× what it did 4 weeks ago ($0.09 → $0.19 a week): it runs 2× longer because it reads 2× more data",
    );
    const pipeline = result.growers[0]!;
    expect(pipeline).toMatchObject({ kind: "pipeline", pipeline: "etl_daily", leadingTask: "load_facts" });
    expect(pipeline.change).toBeCloseTo(1.5, 9);
    expect(pipeline.sentence).toBe(
      "etl_daily costs 1.5× what it did 4 weeks ago ($0.19 → $0.28 a week): load_facts runs 2× longer because it reads 2× more data",
    );
    // A steady task does not grow.
    expect(result.growers.find((growth) => growth.task === "extract")).toMatchObject({
      change: 1,
      weeklyIncreaseUsd: 0,
    });
    // The week's cost is request × hours × price; the used cost is CPU-seconds and peak-held memory.
    const series = result.tasks.find((entry) => "task" in entry.key && entry.key.task === "extract")!;
    const perRun = (2 * pricing.cpuHourUsd + 4 * pricing.memoryGibHourUsd) / 6;
    expect(series.weeks[0]!.costUsd).toBeCloseTo(7 * perRun, 6);
    expect(series.weeks[0]!.usedCostUsd).toBeCloseTo(
      7 * ((300 / 3600) * pricing.cpuHourUsd + pricing.memoryGibHourUsd / 6),
      6,
    );
  });

  it("names the runs per day, the request or the price when they moved most", () => {
    const twice = (base: FleetRun) => base;
    const moreOften = costOverTime({
      runs: [
        ...dailyRuns(2, twice),
        ...dailyRuns(1, twice).map((r) => ({ ...r, startedAt: new Date(r.startedAt.getTime() + 60_000) })),
      ],
      end,
      weeks: 2,
      pricing,
    }).growers.find((growth) => growth.kind === "task")!;
    expect(moreOften.factors!.runsPerDay).toBeCloseTo(2, 9);
    expect(moreOften.sentence).toContain("it runs 2× as often (1 → 2 runs a day)");

    const bigger = costOverTime({
      runs: dailyRuns(2, (base) => ({ ...base, requestCpuCores: 4, requestMemoryBytes: 8 * GiB })),
      end,
      weeks: 2,
      pricing,
    }).growers[0]!;
    expect(bigger.sentence).toContain("asks for 2× the resources (2 → 4 cores, 4 → 8 GiB)");

    const dearer = costOverTime({
      runs: dailyRuns(2, (base) => base),
      end,
      weeks: 2,
      pricing: (weekStart) =>
        weekStart.getTime() < end.getTime() - 7 * DAY
          ? pricing
          : { cpuHourUsd: pricing.cpuHourUsd * 1.5, memoryGibHourUsd: pricing.memoryGibHourUsd * 1.5 },
    }).growers[0]!;
    expect(dearer.factors!.price).toBeCloseTo(1.5, 9);
    expect(dearer.sentence).toContain("is priced 1.5× what it was");
  });

  it("tells a new task and a gone one apart, and counts runs without a request", () => {
    const runs = [
      run({ task: "new_one", startedAt: new Date(end.getTime() - DAY) }),
      run({ task: "old_one", startedAt: new Date(end.getTime() - 13 * DAY) }),
      run({
        task: "unpriced",
        startedAt: new Date(end.getTime() - DAY),
        requestCpuCores: null,
        requestMemoryBytes: null,
      }),
    ];
    const result = costOverTime({ runs, end, weeks: 2, pricing });
    expect(result.unpricedRuns).toBe(1);
    expect(result.growers.find((growth) => growth.task === "new_one")!.sentence).toMatch(
      /^new_one is new since a week ago: \$0\.01 a week$/,
    );
    expect(result.growers.find((growth) => growth.task === "old_one")!.sentence).toMatch(
      /^old_one no longer runs \(a week ago it cost \$0\.01 a week\)$/,
    );
    expect(result.growers.at(-1)!.task).toBe("old_one");
  });

  it("falls back to the figure that moved most when runs have no wall-clock states", () => {
    const before = emptyTotals(7);
    const after = emptyTotals(7);
    addRun(before, run({ startedAt: end, wall: null }), pricing);
    addRun(after, run({ startedAt: end, wall: null, heldSeconds: 1800, cpuSeconds: 900 }), pricing);
    expect(durationCause(before, after)).toMatchObject({
      state: null,
      driver: "cpuSeconds",
      driverRatio: 3,
      sentence: "it uses 3× more CPU-seconds",
    });
  });
});

const finiteRun = fc.record({
  heldSeconds: fc.double({ min: 1, max: 86_400, noNaN: true }),
  requestCpuCores: fc.option(fc.double({ min: 0.05, max: 64, noNaN: true }), { nil: null }),
  requestMemoryBytes: fc.option(fc.double({ min: 1, max: 256 * GiB, noNaN: true }), { nil: null }),
  cpuSeconds: fc.double({ min: 0, max: 1e6, noNaN: true }),
});

type Prices = typeof pricing;

/** A period's totals, each run at its own price (`prices` cycled over the runs). */
function totalsOf(
  runs: Array<Partial<FleetRun>>,
  days: number,
  prices: Prices | Prices[] = pricing,
): PeriodTotals {
  const list = Array.isArray(prices) ? prices : [prices];
  const totals = emptyTotals(days);
  runs.forEach((overrides, index) =>
    addRun(totals, run({ startedAt: end, ...overrides }), list[index % list.length]!),
  );
  return totals;
}

describe("cost change properties", () => {
  const price = fc.record({
    cpuHourUsd: fc.double({ min: 0.001, max: 10, noNaN: true }),
    memoryGibHourUsd: fc.double({ min: 0.0001, max: 1, noNaN: true }),
  });

  it("the factors multiply back to the change in cost per day", () => {
    fc.assert(
      fc.property(
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 28 }),
        fc.integer({ min: 1, max: 28 }),
        price,
        price,
        (beforeRuns, afterRuns, beforeDays, afterDays, beforePrice, afterPrice) => {
          const before = totalsOf(beforeRuns, beforeDays, beforePrice);
          const after = totalsOf(afterRuns, afterDays, afterPrice);
          const change = decomposeChange(before, after);
          if (change === null) {
            expect(before.runs === 0 || after.runs === 0).toBe(true);
            return;
          }
          const { runsPerDay, duration, size, price: priceFactor } = change.factors;
          const product = runsPerDay * duration * size * priceFactor;
          expect(Math.abs(product / change.change - 1)).toBeLessThan(1e-9);
          const expected =
            costOfTotals(after, afterPrice) / afterDays / (costOfTotals(before, beforePrice) / beforeDays);
          expect(Math.abs(change.change / expected - 1)).toBeLessThan(1e-9);
          for (const factor of Object.values(change.factors)) expect(factor).toBeGreaterThan(0);
        },
      ),
    );
  });

  it("the factors multiply back when every run of both periods paid its own prices", () => {
    fc.assert(
      fc.property(
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        fc.array(price, { minLength: 1, maxLength: 5 }),
        fc.array(price, { minLength: 1, maxLength: 5 }),
        (beforeRuns, afterRuns, beforePrices, afterPrices) => {
          const before = totalsOf(beforeRuns, 28, beforePrices);
          const after = totalsOf(afterRuns, 28, afterPrices);
          const change = decomposeChange(before, after);
          if (change === null) return;
          const { runsPerDay, duration, size, price: priceFactor } = change.factors;
          expect(Math.abs((runsPerDay * duration * size * priceFactor) / change.change - 1)).toBeLessThan(
            1e-9,
          );
          const expected = heldCost(after) / heldCost(before);
          expect(Math.abs(change.change / expected - 1)).toBeLessThan(1e-9);
        },
      ),
    );
  });

  it("the price factor is 1 when both periods paid the same prices, whatever else moved", () => {
    fc.assert(
      fc.property(
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        fc.array(finiteRun, { minLength: 1, maxLength: 20 }),
        price,
        (beforeRuns, afterRuns, both) => {
          const change = decomposeChange(totalsOf(beforeRuns, 7, both), totalsOf(afterRuns, 7, both));
          if (change === null) return;
          expect(change.factors.price).toBeCloseTo(1, 9);
        },
      ),
    );
  });

  it("a pipeline's weekly cost is the sum of its tasks'", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            task: fc.constantFrom("a", "b", "c\n<x>"),
            pipeline: fc.constantFrom("p", "q"),
            day: fc.integer({ min: 0, max: 27 }),
            run: finiteRun,
          }),
          { maxLength: 40 },
        ),
        (entries) => {
          const runs = entries.map((entry) =>
            run({
              ...entry.run,
              task: entry.task,
              pipeline: entry.pipeline,
              startedAt: new Date(end.getTime() - (entry.day + 0.5) * DAY),
            }),
          );
          const result = costOverTime({ runs, end, weeks: 4, pricing });
          for (const pipeline of result.pipelines) {
            for (let week = 0; week < 4; week++) {
              const sum = result.tasks
                .filter((series) => series.key.pipeline === pipeline.key.pipeline)
                .reduce((total, series) => total + series.weeks[week]!.costUsd, 0);
              expect(Math.abs(pipeline.weeks[week]!.costUsd - sum)).toBeLessThan(1e-5);
            }
          }
          // Growers come biggest weekly increase first.
          for (let index = 1; index < result.growers.length; index++)
            expect(result.growers[index - 1]!.weeklyIncreaseUsd).toBeGreaterThanOrEqual(
              result.growers[index]!.weeklyIncreaseUsd,
            );
        },
      ),
    );
  });
});

describe("periods and prices", () => {
  const slower = (base: FleetRun): FleetRun => ({ ...base, heldSeconds: 1200, diskReadBytes: 20 * GiB });

  it("compares the last four weeks with the four before, or any two periods asked for", () => {
    expect(defaultComparison(8)).toEqual({ before: { first: 0, last: 3 }, after: { first: 4, last: 7 } });
    expect(defaultComparison(12)).toEqual({ before: { first: 4, last: 7 }, after: { first: 8, last: 11 } });
    expect(defaultComparison(5)).toEqual({ before: { first: 1, last: 2 }, after: { first: 3, last: 4 } });
    expect(defaultComparison(1)).toBeNull();
    // Only the last week is slower: a month against a month sees a quarter of it, week 1 against week 8 all.
    const runs = dailyRuns(8, slower);
    const byDefault = costOverTime({ runs, end, weeks: 8, pricing }).growers[0]!;
    expect(byDefault.factors!.duration).toBeCloseTo(1.25, 9);
    const firstAndLast = costOverTime({
      runs,
      end,
      weeks: 8,
      pricing,
      compare: { before: { first: 0, last: 0 }, after: { first: 7, last: 7 } },
    }).growers[0]!;
    expect(firstAndLast.factors!.duration).toBeCloseTo(2, 9);
    expect(firstAndLast.sentence).toMatch(/^etl_daily costs 2× what it did 7 weeks ago/);
    const none = costOverTime({ runs, end, weeks: 1, pricing });
    expect(none).toMatchObject({ compare: null, growers: [] });
    expect(none.tasks[0]!.weeks).toHaveLength(1);
  });

  it("refuses periods outside the window or running backwards, naming which", () => {
    expect(comparisonProblem({ before: { first: 0, last: 1 }, after: { first: 6, last: 8 } }, 8)).toBe(
      "the after period lies outside the window's 8 weeks",
    );
    expect(comparisonProblem({ before: { first: 3, last: 1 }, after: { first: 6, last: 7 } }, 8)).toBe(
      "the before period's weeks must run forwards",
    );
    expect(comparisonProblem({ before: { first: 4, last: 5 }, after: { first: 0, last: 1 } }, 8)).toBe(
      "the after period must start after the before period",
    );
    expect(() =>
      costOverTime({
        runs: [],
        end,
        weeks: 2,
        pricing,
        compare: { before: { first: 0, last: 0 }, after: { first: 2, last: 2 } },
      }),
    ).toThrow(/compare: the after period lies outside/);
  });

  it("prices each run as it started from the price history: the price factor carries the change", () => {
    // The CPU price rises by half two weeks before the end: half of the after period pays it.
    const history = {
      ...pricing,
      history: [{ from: new Date(end.getTime() - 14 * DAY), cpuHourUsd: pricing.cpuHourUsd * 1.5 }],
    };
    expect(pricesAt(history, new Date(end.getTime() - 15 * DAY))).toEqual(pricing);
    expect(pricesAt(history, new Date(end.getTime() - 14 * DAY)).cpuHourUsd).toBeCloseTo(
      pricing.cpuHourUsd * 1.5,
      12,
    );
    const result = costOverTime({
      runs: dailyRuns(8, (base) => base),
      end,
      weeks: 8,
      pricing: (at) => pricesAt(history, at),
    });
    const growth = result.growers.find((entry) => entry.kind === "task")!;
    const cpu = 2 * pricing.cpuHourUsd;
    const memory = 4 * pricing.memoryGibHourUsd;
    // Weeks 7 and 8 of 5–8 pay 1.5× for CPU: (2 × cpu + 2 × 1.5 cpu + 4 × memory) ÷ 4 (cpu + memory).
    const expected = (2 * cpu + 2 * 1.5 * cpu + 4 * memory) / (4 * (cpu + memory));
    for (const factor of ["runsPerDay", "duration", "size"] as const)
      expect(growth.factors![factor]).toBeCloseTo(1, 9);
    expect(growth.factors!.price).toBeCloseTo(expected, 9);
    expect(growth.change).toBeCloseTo(expected, 9);
    expect(growth.sentence).toContain(`is priced ${Number(expected.toPrecision(2))}× what it was`);
    // Each week is priced as billed: the last week dearer than the first by the CPU's share.
    const weeks = result.tasks[0]!.weeks;
    expect(weeks[7]!.costUsd / weeks[0]!.costUsd).toBeCloseTo((1.5 * cpu + memory) / (cpu + memory), 4);
  });
});
