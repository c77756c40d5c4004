/**
 * Why a cost changed between two periods (analyzer/period-totals.ts): the change in cost per day split into
 * factors whose product is the change exactly,
 *
 *   cost per day = runs per day × hours held per run × size per held hour (at the earlier period's prices)
 *                  × price (the later period's cost against its request-hours at the earlier period's prices)
 *
 * each a ratio of sums, so a pipeline decomposes as its tasks do; and what moved the duration, read from the
 * runs' wall-clock seconds per state with the figure that drives the state (docs/fleet.md "Why the bill
 * grows").
 */
import {
  averagePricing,
  costOfTotals,
  heldCostOf,
  type PeriodTotals,
  type StateWallSeconds,
  stateNames,
} from "./period-totals.js";

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

/** The dominant factor of a change as a predicate: "runs 2.1× longer because it reads 2× more data". */
export function factorClause(
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
