/**
 * Cost over time, explained: what each task and pipeline cost week by week over a longer window than the
 * night's (`fleet.weeks`), and why it changed. Pure functions of per-run summaries (one row per run, never
 * a sample; db/queries/fleet.ts reads them).
 *
 * Each week of each task is a period's sums (analyzer/period-totals.ts: every run priced at the prices in
 * effect when it started, `pricing.*` and `pricing.history`, common/pricing.ts); pipelines add up their
 * tasks. A change between two periods (any two ranges of weeks; by default the last four against the four
 * before) is split into factors whose product is the change exactly, with what moved the duration
 * (analyzer/cost-change.ts); the growers are listed by their weekly increase, each with its sentence.
 */
import type { TaskKey } from "../common/task-key.js";
import type { FleetRun } from "../db/queries/fleet.js";
import { taskKeyString } from "../common/task-key.js";
import type { Pricing } from "../common/pricing.js";
import {
  type CostChange,
  type CostFactors,
  decomposeChange,
  type DurationCause,
  durationCause,
  factorClause,
  timesText,
} from "./cost-change.js";
import {
  addRun,
  addTotals,
  emptyTotals,
  heldCostOf,
  type PeriodTotals,
  periodTotals,
  WEEK_DAYS,
  type WeekRange,
} from "./period-totals.js";
import { roundMicroUsd } from "./recommend.js";

/** A day in milliseconds. */
const DAY_MS = 86_400_000;

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
