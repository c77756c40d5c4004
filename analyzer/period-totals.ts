/**
 * A period's sums over its runs (analyzer/cost-over-time.ts): every figure a change in cost is split by,
 * kept as sums so that periods add up to longer ones and tasks to pipelines. A run is priced as the night
 * prices it (analyzer/recommend.ts `costOf`): its request × the time it held it × the prices in effect
 * when it started; what it used beside it, its CPU-seconds and its peak memory held for the same time.
 */
import { durationStates } from "../common/fleet-document.js";
import type { FleetRun } from "../db/queries/fleet.js";
import type { StateSeconds } from "../db/queries/task-histories.js";
import { GiB } from "../common/units.js";
import type { Pricing } from "../common/pricing.js";

/** Days in a week: the periods are whole weeks. */
export const WEEK_DAYS = 7;

/** Wall-clock seconds per state of one run (collector/tracking/thread-state.ts wallClockSplit). */
export type StateWallSeconds = StateSeconds;

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

/** The wall-clock states a period sums: the fleet document's list (common/fleet-document.ts). */
export const stateNames = durationStates satisfies ReadonlyArray<keyof StateWallSeconds>;

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

/** Weeks `first` to `last` of the window (0 = the oldest), inclusive. */
export interface WeekRange {
  first: number;
  last: number;
}

/** The sum of `totals[first..last]` (inclusive): a period of whole weeks. */
export function periodTotals(totals: ReadonlyArray<PeriodTotals>, range: WeekRange): PeriodTotals {
  const period = emptyTotals((range.last - range.first + 1) * WEEK_DAYS);
  for (let index = range.first; index <= range.last; index++) addTotals(period, totals[index]!);
  return period;
}
