/**
 * Cost over time, explained: what each task and pipeline cost week by week over a longer window than the
 * night's (`fleet.weeks`), and why it changed. Pure functions of per-run summaries (one row per run, never
 * a sample; db/queries/fleet.ts reads them).
 *
 * A run's cost is priced as the night prices it (analyzer/recommend.ts `costOf`): its request × the time it
 * held it (its duration, or its sampled seconds when longer) × price (CPU-hours and GiB-hours). The cost of
 * what was used beside it: its CPU-seconds at the CPU price, and its peak memory held for the same time at
 * the memory price (the peak, not an average: summaries keep no memory integral).
 *
 * Each run is priced at the prices in effect when it started (`pricing.*` and `pricing.history`,
 * common/pricing.ts), so a period may hold several prices. A change between two periods (any two ranges
 * of weeks; by default the last four against the four before) is split into factors whose product is the
 * change exactly:
 *
 *   cost per day = runs per day × hours held per run × size per held hour (at the earlier period's prices)
 *                  × price (the later period's cost against its request-hours at the earlier period's prices)
 *
 * each a ratio of sums, so a pipeline decomposes as its tasks do (docs/fleet.md "Why the bill grows").
 * What moved the duration is read from the runs' wall-clock seconds per state (on a CPU, waiting for one,
 * on disk, on the network, on a child, idle): the state whose seconds per run grew most names the cause,
 * with the figure that drives it (CPU-seconds, bytes read or written, bytes over the network).
 */
import type { TaskKey } from "../common/task-key.js";
import type { FleetRun } from "../db/queries/fleet.js";
import type { StateSeconds } from "../db/queries/task-histories.js";
import { taskKeyString } from "../common/task-key.js";
import { GiB } from "../common/units.js";
import type { Pricing } from "../common/pricing.js";
import { roundMicroUsd } from "./recommend.js";

/** A day and a week in milliseconds. */
const DAY_MS = 86_400_000;
export const WEEK_DAYS = 7;

/** Prices a run is charged at (`pricing.*`, or `pricing.history` from the day a price took effect). */
export type { Pricing } from "../common/pricing.js";

/** Wall-clock seconds per state of one run (collector/tracking/thread-state.ts wallClockSplit). */
export type StateWallSeconds = StateSeconds;
export type { FleetRun };

/** Sums over a set of runs: every figure of a period, so periods and tasks add up to pipelines. */
export interface PeriodTotals {
  days: number;
  runs: number;
  /** Runs priced (a request known); the rest are counted in `unpricedRuns` and left out of every sum. */
  unpricedRuns: number;
  heldHours: number;
  coreHours: number;
  gibHours: number;
  usedCoreHours: number;
  usedGibHours: number;
  /** The request-hours and the used hours, each run at the prices in effect when it started. */
  cpuCostUsd: number;
  memoryCostUsd: number;
  usedCostUsd: number;
  cpuSeconds: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  netBytes: number;
  /** Runs with wall-clock states, and their seconds per state. */
  wallRuns: number;
  wall: StateWallSeconds;
}

const stateNames = [
  "onCpuSeconds",
  "cpuWaitSeconds",
  "diskWaitSeconds",
  "netWaitSeconds",
  "childWaitSeconds",
  "idleSeconds",
] as const satisfies ReadonlyArray<keyof StateWallSeconds>;

const zeroWall = (): StateWallSeconds => ({
  onCpuSeconds: 0,
  cpuWaitSeconds: 0,
  diskWaitSeconds: 0,
  netWaitSeconds: 0,
  childWaitSeconds: 0,
  idleSeconds: 0,
});

export function emptyTotals(days: number): PeriodTotals {
  return {
    days,
    runs: 0,
    unpricedRuns: 0,
    heldHours: 0,
    coreHours: 0,
    gibHours: 0,
    usedCoreHours: 0,
    usedGibHours: 0,
    cpuCostUsd: 0,
    memoryCostUsd: 0,
    usedCostUsd: 0,
    cpuSeconds: 0,
    diskReadBytes: 0,
    diskWriteBytes: 0,
    netBytes: 0,
    wallRuns: 0,
    wall: zeroWall(),
  };
}

/** Adds one run, priced at `pricing` (the prices when it started), to a period's totals (in place). */
export function addRun(totals: PeriodTotals, run: FleetRun, pricing: Pricing): void {
  if (run.requestCpuCores === null && run.requestMemoryBytes === null) {
    totals.unpricedRuns++;
    return;
  }
  const hours = Math.max(0, run.heldSeconds) / 3600;
  const coreHours = (run.requestCpuCores ?? 0) * hours;
  const gibHours = ((run.requestMemoryBytes ?? 0) / GiB) * hours;
  const usedCoreHours = (run.cpuSeconds ?? 0) / 3600;
  const usedGibHours = ((run.peakRssBytes ?? 0) / GiB) * hours;
  totals.runs++;
  totals.heldHours += hours;
  totals.coreHours += coreHours;
  totals.gibHours += gibHours;
  totals.usedCoreHours += usedCoreHours;
  totals.usedGibHours += usedGibHours;
  totals.cpuCostUsd += coreHours * pricing.cpuHourUsd;
  totals.memoryCostUsd += gibHours * pricing.memoryGibHourUsd;
  totals.usedCostUsd += usedCoreHours * pricing.cpuHourUsd + usedGibHours * pricing.memoryGibHourUsd;
  totals.cpuSeconds += run.cpuSeconds ?? 0;
  totals.diskReadBytes += run.diskReadBytes ?? 0;
  totals.diskWriteBytes += run.diskWriteBytes ?? 0;
  totals.netBytes += run.netBytes ?? 0;
  if (run.wall) {
    totals.wallRuns++;
    for (const state of stateNames) totals.wall[state] += run.wall[state];
  }
}

/** The sum of two periods' totals over the same days (a pipeline from its tasks). */
export function addTotals(into: PeriodTotals, other: PeriodTotals): void {
  into.runs += other.runs;
  into.unpricedRuns += other.unpricedRuns;
  into.heldHours += other.heldHours;
  into.coreHours += other.coreHours;
  into.gibHours += other.gibHours;
  into.usedCoreHours += other.usedCoreHours;
  into.usedGibHours += other.usedGibHours;
  into.cpuCostUsd += other.cpuCostUsd;
  into.memoryCostUsd += other.memoryCostUsd;
  into.usedCostUsd += other.usedCostUsd;
  into.cpuSeconds += other.cpuSeconds;
  into.diskReadBytes += other.diskReadBytes;
  into.diskWriteBytes += other.diskWriteBytes;
  into.netBytes += other.netBytes;
  into.wallRuns += other.wallRuns;
  for (const state of stateNames) into.wall[state] += other.wall[state];
}

/** What a period's request-hours cost at `pricing`. */
export function costOfTotals(totals: PeriodTotals, pricing: Pricing): number {
  return totals.coreHours * pricing.cpuHourUsd + totals.gibHours * pricing.memoryGibHourUsd;
}

/** What a period's request-hours cost, each run at the prices in effect when it started. */
export function heldCostOf(totals: PeriodTotals): number {
  return totals.cpuCostUsd + totals.memoryCostUsd;
}

/**
 * The prices a period paid on average per resource (its cost ÷ its request-hours); `fallback`'s for a
 * resource it held none of, so that resource's price did not move.
 */
export function averagePricing(totals: PeriodTotals, fallback: PeriodTotals): Pricing {
  const average = (cost: number, hours: number, otherCost: number, otherHours: number) =>
    hours > 0 ? cost / hours : otherHours > 0 ? otherCost / otherHours : 0;
  return {
    cpuHourUsd: average(totals.cpuCostUsd, totals.coreHours, fallback.cpuCostUsd, fallback.coreHours),
    memoryGibHourUsd: average(
      totals.memoryCostUsd,
      totals.gibHours,
      fallback.memoryCostUsd,
      fallback.gibHours,
    ),
  };
}

/** The sum of `totals[first..last]` (inclusive): a period of whole weeks. */
export function periodTotals(totals: ReadonlyArray<PeriodTotals>, range: WeekRange): PeriodTotals {
  const period = emptyTotals((range.last - range.first + 1) * WEEK_DAYS);
  for (let index = range.first; index <= range.last; index++) addTotals(period, totals[index]!);
  return period;
}

/** The factors of a change in cost per day; their product is `change`. */
export interface CostFactors {
  runsPerDay: number;
  duration: number;
  size: number;
  price: number;
}
export type CostFactorName = keyof CostFactors;

export interface CostChange {
  /** Cost per day after ÷ before. */
  change: number;
  factors: CostFactors;
}

/**
 * The change in cost per day from `before` to `after`, split into runs per day, hours held per run, size
 * (request-hours per held hour priced at `before`'s average prices) and price (`after`'s cost, each run
 * at its own prices, against its request-hours at `before`'s average prices). Null when either period has
 * no priced run or no cost: a task that is new or gone has a change no ratio describes.
 */
export function decomposeChange(before: PeriodTotals, after: PeriodTotals): CostChange | null {
  const costBefore = heldCostOf(before);
  const costAfter = heldCostOf(after);
  const afterAtBeforePrices = costOfTotals(after, averagePricing(before, after));
  if (
    before.runs === 0 ||
    after.runs === 0 ||
    before.heldHours <= 0 ||
    after.heldHours <= 0 ||
    costBefore <= 0 ||
    afterAtBeforePrices <= 0 ||
    before.days <= 0 ||
    after.days <= 0
  )
    return null;
  const factors: CostFactors = {
    runsPerDay: after.runs / after.days / (before.runs / before.days),
    duration: after.heldHours / after.runs / (before.heldHours / before.runs),
    size: afterAtBeforePrices / after.heldHours / (costBefore / before.heldHours),
    price: costAfter / afterAtBeforePrices,
  };
  return { change: costAfter / after.days / (costBefore / before.days), factors };
}

/** What moved the duration: the state that grew (or shrank) most per run, and the figure behind it. */
export interface DurationCause {
  state: keyof StateWallSeconds | null;
  /** Seconds per run the state moved by. */
  stateSecondsChange: number;
  /** The figure behind it, per run: after ÷ before (null when unmeasured in either period). */
  driver: "cpuSeconds" | "diskReadBytes" | "diskWriteBytes" | "netBytes" | null;
  driverRatio: number | null;
  sentence: string;
}

const perRun = (total: number, runs: number) => (runs > 0 ? total / runs : 0);

function ratioOrNull(after: number, before: number): number | null {
  return before > 0 && after > 0 ? after / before : null;
}

/** `2.1×`: two significant digits. */
export function timesText(ratio: number): string {
  return `${Number(ratio.toPrecision(2))}×`;
}

/** "2.0× more" or "0.5× as much" (a shrinking figure reads as a fraction, never as "0.5× more"). */
function moreText(ratio: number, unit: string): string {
  return ratio >= 1 ? `${timesText(ratio)} more ${unit}` : `${timesText(ratio)} the ${unit}`;
}

/**
 * Why the hours per run moved: the wall-clock state whose seconds per run moved most in the direction of
 * the change, and the figure that drives that state (on a CPU: CPU-seconds; on disk: bytes read or
 * written, whichever grew more; on the network: bytes received and sent). Falls back to the figure that
 * moved most when the runs recorded no wall-clock states.
 */
export function durationCause(before: PeriodTotals, after: PeriodTotals): DurationCause {
  const grew = perRun(after.heldHours, after.runs) >= perRun(before.heldHours, before.runs);
  const drivers = {
    cpuSeconds: ratioOrNull(perRun(after.cpuSeconds, after.runs), perRun(before.cpuSeconds, before.runs)),
    diskReadBytes: ratioOrNull(
      perRun(after.diskReadBytes, after.runs),
      perRun(before.diskReadBytes, before.runs),
    ),
    diskWriteBytes: ratioOrNull(
      perRun(after.diskWriteBytes, after.runs),
      perRun(before.diskWriteBytes, before.runs),
    ),
    netBytes: ratioOrNull(perRun(after.netBytes, after.runs), perRun(before.netBytes, before.runs)),
  };
  let state: keyof StateWallSeconds | null = null;
  let stateSecondsChange = 0;
  if (before.wallRuns > 0 && after.wallRuns > 0) {
    for (const name of stateNames) {
      const moved = perRun(after.wall[name], after.wallRuns) - perRun(before.wall[name], before.wallRuns);
      if (grew ? moved > stateSecondsChange : moved < stateSecondsChange) {
        state = name;
        stateSecondsChange = moved;
      }
    }
  }
  const diskDriver =
    (drivers.diskWriteBytes ?? 0) > (drivers.diskReadBytes ?? 0) &&
    Math.abs(Math.log(drivers.diskWriteBytes ?? 1)) > Math.abs(Math.log(drivers.diskReadBytes ?? 1))
      ? ("diskWriteBytes" as const)
      : drivers.diskReadBytes !== null
        ? ("diskReadBytes" as const)
        : drivers.diskWriteBytes !== null
          ? ("diskWriteBytes" as const)
          : null;
  const driverOfState: Record<keyof StateWallSeconds, DurationCause["driver"]> = {
    onCpuSeconds: drivers.cpuSeconds !== null ? "cpuSeconds" : null,
    cpuWaitSeconds: null,
    diskWaitSeconds: diskDriver,
    netWaitSeconds: drivers.netBytes !== null ? "netBytes" : null,
    childWaitSeconds: null,
    idleSeconds: null,
  };
  let driver: DurationCause["driver"] = state === null ? null : driverOfState[state];
  if (state === null) {
    // No wall-clock states: the measured figure that moved most, in the direction of the change.
    let best = 0;
    for (const [name, ratio] of Object.entries(drivers) as Array<[keyof typeof drivers, number | null]>) {
      if (ratio === null) continue;
      const moved = Math.log(ratio);
      if (grew ? moved > best : moved < best) {
        best = moved;
        driver = name;
      }
    }
  }
  const driverRatio = driver === null ? null : drivers[driver];
  const seconds = `${Math.abs(Math.round(stateSecondsChange))} s`;
  const sign = stateSecondsChange >= 0 ? "more" : "less";
  const driverText: Record<NonNullable<DurationCause["driver"]>, (ratio: number) => string> = {
    cpuSeconds: (ratio) => `it uses ${moreText(ratio, "CPU-seconds")}`,
    diskReadBytes: (ratio) => `it reads ${moreText(ratio, "data")}`,
    diskWriteBytes: (ratio) => `it writes ${moreText(ratio, "data")}`,
    netBytes: (ratio) => `it moves ${moreText(ratio, "bytes over the network")}`,
  };
  const stateText: Record<keyof StateWallSeconds, string> = {
    onCpuSeconds: `it is on a CPU ${seconds} ${sign} per run`,
    cpuWaitSeconds: `it waits for a CPU ${seconds} ${sign} per run (a busier host)`,
    diskWaitSeconds: `it waits on disk ${seconds} ${sign} per run`,
    netWaitSeconds: `it waits on the network ${seconds} ${sign} per run`,
    childWaitSeconds: `it waits on its child processes ${seconds} ${sign} per run`,
    idleSeconds: `it sits idle ${seconds} ${sign} per run`,
  };
  const sentence =
    driver !== null && driverRatio !== null
      ? driverText[driver](driverRatio)
      : state !== null
        ? stateText[state]
        : "no measured figure explains it";
  return { state, stateSecondsChange, driver, driverRatio, sentence };
}

/** One week of a task's or a pipeline's cost. */
export interface WeekCost {
  weekStart: Date;
  runs: number;
  costUsd: number;
  usedCostUsd: number;
}

export interface CostSeries {
  key: TaskKey | { orchestrator: string; pipeline: string };
  weeks: WeekCost[];
  totals: PeriodTotals[];
}

/** A growth (or shrink) between the two periods compared, with its factors and its sentence. */
export interface Growth {
  kind: "task" | "pipeline";
  orchestrator: string;
  pipeline: string;
  task: string | null;
  /** Cost per week in the before and the after period. */
  beforeWeekUsd: number;
  afterWeekUsd: number;
  /** after − before, per week: the order growers are listed in. */
  weeklyIncreaseUsd: number;
  change: number | null;
  factors: CostFactors | null;
  cause: DurationCause | null;
  /** For a pipeline, the task whose weekly cost grew most. */
  leadingTask: string | null;
  /** A task's dominant factor as a predicate ("runs 2.1× longer because it reads 2× more data"). */
  clause: string | null;
  sentence: string;
}

/** Weeks `first` to `last` of the window (0 = the oldest), inclusive. */
export interface WeekRange {
  first: number;
  last: number;
}

/** The two periods a change is measured between: `after` starts after `before` starts. */
export interface Comparison {
  before: WeekRange;
  after: WeekRange;
}

/** Weeks compared by default, at most: a month against the month before (chosen value). */
export const DEFAULT_COMPARE_WEEKS = 4;

/**
 * The default comparison of a window of `weeks`: its last min(4, ⌊weeks ÷ 2⌋) weeks against as many
 * before them (8 weeks: weeks 5–8 against 1–4), so one odd week moves no grower; null under two weeks.
 */
export function defaultComparison(weeks: number): Comparison | null {
  const span = Math.min(DEFAULT_COMPARE_WEEKS, Math.floor(weeks / 2));
  if (span < 1) return null;
  return {
    before: { first: weeks - 2 * span, last: weeks - span - 1 },
    after: { first: weeks - span, last: weeks - 1 },
  };
}

/** Why a comparison does not fit a window of `weeks`, or null when it does. */
export function comparisonProblem(compare: Comparison, weeks: number): string | null {
  for (const [name, range] of Object.entries(compare) as Array<[string, WeekRange]>) {
    if (!Number.isInteger(range.first) || !Number.isInteger(range.last) || range.first > range.last)
      return `the ${name} period's weeks must run forwards`;
    if (range.first < 0 || range.last >= weeks)
      return `the ${name} period lies outside the window's ${weeks} weeks`;
  }
  return compare.after.first > compare.before.first
    ? null
    : "the after period must start after the before period";
}

export interface CostOverTime {
  weekStarts: Date[];
  tasks: CostSeries[];
  pipelines: CostSeries[];
  /** The periods each growth compares; null (and no growers) when the window is under two weeks. */
  compare: Comparison | null;
  growers: Growth[];
  unpricedRuns: number;
}

export interface CostOverTimeInput {
  runs: Iterable<FleetRun>;
  /** The end of the last week (exclusive). */
  end: Date;
  weeks: number;
  /** One price for all, or the prices in effect at an instant (each run is priced as it started). */
  pricing: Pricing | ((at: Date) => Pricing);
  /** The periods to compare; default {@link defaultComparison}. */
  compare?: Comparison | null;
}

/** The week (0 = oldest) a run started in, or -1 outside the window. */
export function weekIndexOf(startedAt: Date, end: Date, weeks: number): number {
  const fromStart = startedAt.getTime() - (end.getTime() - weeks * WEEK_DAYS * DAY_MS);
  if (fromStart < 0 || startedAt.getTime() >= end.getTime()) return -1;
  return Math.floor(fromStart / (WEEK_DAYS * DAY_MS));
}

const pipelineKeyOf = (key: { orchestrator: string; pipeline: string }) =>
  `${key.orchestrator}/${key.pipeline}`;

const factorOrder: CostFactorName[] = ["runsPerDay", "duration", "size", "price"];

/** The factor that moved most (largest |log|) in the direction of the change. */
export function dominantFactor(change: CostChange): CostFactorName {
  const grew = change.change >= 1;
  let best: CostFactorName = "duration";
  let bestMove = -Infinity;
  for (const name of factorOrder) {
    const move = grew ? Math.log(change.factors[name]) : -Math.log(change.factors[name]);
    if (move > bestMove) {
      best = name;
      bestMove = move;
    }
  }
  return best;
}

function factorClause(
  change: CostChange,
  before: PeriodTotals,
  after: PeriodTotals,
  cause: DurationCause,
): string {
  const factor = dominantFactor(change);
  const ratio = change.factors[factor];
  switch (factor) {
    case "runsPerDay":
      return `runs ${timesText(ratio)} as often (${Number((before.runs / before.days).toFixed(2))} → ${Number((after.runs / after.days).toFixed(2))} runs a day)`;
    case "duration":
      return `runs ${ratio >= 1 ? `${timesText(ratio)} longer` : `in ${timesText(ratio)} the time`} because ${cause.sentence}`;
    case "size": {
      const cores = (totals: PeriodTotals) => Number((totals.coreHours / totals.heldHours).toFixed(2));
      const gib = (totals: PeriodTotals) => Number((totals.gibHours / totals.heldHours).toFixed(2));
      return `asks for ${timesText(ratio)} the resources (${cores(before)} → ${cores(after)} cores, ${gib(before)} → ${gib(after)} GiB)`;
    }
    case "price":
      return `is priced ${timesText(ratio)} what it was for the same request-hours`;
  }
}

/** `$12.34`: money in sentences, cents, or two significant digits below a cent. */
export function usdText(amount: number): string {
  if (amount !== 0 && Math.abs(amount) < 0.01) return `$${Number(amount.toPrecision(2))}`;
  return `$${amount.toFixed(2)}`;
}

function weeksAgoText(weeks: number): string {
  return weeks === 1 ? "a week ago" : `${weeks} weeks ago`;
}

/**
 * Weekly cost per task and pipeline over `weeks` weeks ending at `end`, and each one's change between two
 * periods of weeks (`compare`), biggest weekly increase first.
 */
export function costOverTime(input: CostOverTimeInput): CostOverTime {
  const { end, weeks } = input;
  const compare = input.compare === undefined ? defaultComparison(weeks) : input.compare;
  if (compare) {
    const problem = comparisonProblem(compare, weeks);
    if (problem !== null) throw new RangeError(`compare: ${problem}`);
  }
  const weekStarts = Array.from(
    { length: weeks },
    (_, index) => new Date(end.getTime() - (weeks - index) * WEEK_DAYS * DAY_MS),
  );
  const { pricing } = input;
  const priceAt = typeof pricing === "function" ? pricing : () => pricing;
  const tasks = new Map<string, { key: TaskKey; totals: PeriodTotals[] }>();
  let unpricedRuns = 0;
  for (const run of input.runs) {
    const index = weekIndexOf(run.startedAt, end, weeks);
    if (index < 0) continue;
    const id = taskKeyString(run);
    let entry = tasks.get(id);
    if (!entry) {
      entry = {
        key: { orchestrator: run.orchestrator, pipeline: run.pipeline, task: run.task },
        totals: weekStarts.map(() => emptyTotals(WEEK_DAYS)),
      };
      tasks.set(id, entry);
    }
    addRun(entry.totals[index]!, run, priceAt(run.startedAt));
    if (run.requestCpuCores === null && run.requestMemoryBytes === null) unpricedRuns++;
  }
  const pipelines = new Map<
    string,
    { key: { orchestrator: string; pipeline: string }; totals: PeriodTotals[] }
  >();
  for (const { key, totals } of tasks.values()) {
    const id = pipelineKeyOf(key);
    let entry = pipelines.get(id);
    if (!entry) {
      entry = {
        key: { orchestrator: key.orchestrator, pipeline: key.pipeline },
        totals: weekStarts.map(() => emptyTotals(WEEK_DAYS)),
      };
      pipelines.set(id, entry);
    }
    totals.forEach((week, index) => addTotals(entry.totals[index]!, week));
  }
  const seriesOf = (entry: { key: CostSeries["key"]; totals: PeriodTotals[] }): CostSeries => ({
    key: entry.key,
    totals: entry.totals,
    weeks: entry.totals.map((totals, index) => ({
      weekStart: weekStarts[index]!,
      runs: totals.runs,
      costUsd: roundMicroUsd(heldCostOf(totals)),
      usedCostUsd: roundMicroUsd(totals.usedCostUsd),
    })),
  });
  const taskSeries = [...tasks.values()].map(seriesOf);
  const pipelineSeries = [...pipelines.values()].map(seriesOf);
  if (compare === null)
    return { weekStarts, tasks: taskSeries, pipelines: pipelineSeries, compare, growers: [], unpricedRuns };
  const taskGrowths = taskSeries.map((series) => growthOf(series, compare, null));
  const pipelineGrowths = pipelineSeries.map((series) => {
    const members = taskGrowths.filter(
      (growth) => growth.orchestrator === series.key.orchestrator && growth.pipeline === series.key.pipeline,
    );
    const leading = members.reduce<Growth | null>(
      (best, growth) => (best === null || growth.weeklyIncreaseUsd > best.weeklyIncreaseUsd ? growth : best),
      null,
    );
    return growthOf(series, compare, leading);
  });
  const growers = [...pipelineGrowths, ...taskGrowths].sort(
    (a, b) =>
      b.weeklyIncreaseUsd - a.weeklyIncreaseUsd ||
      // On a tie (a pipeline of one task) the pipeline first, then by name: one order every time.
      (a.kind === b.kind ? 0 : a.kind === "pipeline" ? -1 : 1) ||
      `${a.orchestrator}/${a.pipeline}/${a.task ?? ""}`.localeCompare(
        `${b.orchestrator}/${b.pipeline}/${b.task ?? ""}`,
      ),
  );
  return { weekStarts, tasks: taskSeries, pipelines: pipelineSeries, compare, growers, unpricedRuns };
}

/**
 * One series' change between the periods of `compare`: its factors, what moved its duration, and the
 * sentence ("etl_daily costs 2.3× what it did 4 weeks ago ($1.20 → $2.76 a week): load_facts runs 2.1×
 * longer because it reads 2× more data"; "N weeks ago" is how far the after period starts after the
 * before period, and the money is each period's cost per week). A pipeline's sentence names its leading
 * task's clause.
 */
function growthOf(series: CostSeries, compare: Comparison, leading: Growth | null): Growth {
  const before = periodTotals(series.totals, compare.before);
  const after = periodTotals(series.totals, compare.after);
  const beforeWeekUsd = roundMicroUsd((heldCostOf(before) / before.days) * WEEK_DAYS);
  const afterWeekUsd = roundMicroUsd((heldCostOf(after) / after.days) * WEEK_DAYS);
  const change = decomposeChange(before, after);
  const cause = change === null ? null : durationCause(before, after);
  const task = "task" in series.key ? series.key.task : null;
  const name = task ?? series.key.pipeline;
  const ago = weeksAgoText(compare.after.first - compare.before.first);
  const money = `(${usdText(beforeWeekUsd)} → ${usdText(afterWeekUsd)} a week)`;
  let sentence: string;
  let clause: string | null = null;
  if (change === null) {
    sentence =
      beforeWeekUsd <= 0 && afterWeekUsd > 0
        ? `${name} is new since ${ago}: ${usdText(afterWeekUsd)} a week`
        : afterWeekUsd <= 0 && beforeWeekUsd > 0
          ? `${name} no longer runs (${ago} it cost ${usdText(beforeWeekUsd)} a week)`
          : `${name} has no priced runs to compare with ${ago}`;
  } else {
    const head = `${name} costs ${timesText(change.change)} what it did ${ago} ${money}`;
    if (task !== null) {
      clause = factorClause(change, before, after, cause!);
      sentence = `${head}: it ${clause}`;
    } else {
      const why =
        leading === null
          ? "no task of it grew"
          : leading.clause === null
            ? leading.sentence
            : `${leading.task} ${leading.clause}`;
      sentence = `${head}: ${why}`;
    }
  }
  return {
    kind: task === null ? "pipeline" : "task",
    orchestrator: series.key.orchestrator,
    pipeline: series.key.pipeline,
    task,
    beforeWeekUsd,
    afterWeekUsd,
    weeklyIncreaseUsd: roundMicroUsd(afterWeekUsd - beforeWeekUsd),
    change: change?.change ?? null,
    factors: change?.factors ?? null,
    cause,
    leadingTask: leading?.task ?? null,
    clause,
    sentence,
  };
}
