/**
 * The fleet document from its parts: the weeks of run summaries priced and explained
 * (analyzer/cost-over-time.ts), and the latest analysis's classes and recommendations placed and packed
 * (analyzer/placement.ts). Pure: the command (cli/commands/fleet.ts) reads the runs, the hosts and the
 * analysis, and prints what this returns.
 */
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import type { FleetDocument } from "../common/fleet-document.js";
import { taskKeyString } from "../common/task-key.js";
import type { FleetRun, HostSize } from "../db/queries/fleet.js";
import { type PricingSettings, priceLookup, pricesAt } from "../common/pricing.js";
import { type Comparison, costOverTime } from "./cost-over-time.js";
import { WEEK_DAYS, type WeekRange } from "./period-totals.js";
import {
  FAMILY_PRICES_SOURCE,
  type InstanceFamily,
  instanceFamilies,
  type PlacementTask,
  planPlacement,
} from "./placement.js";

export interface FleetInput {
  runs: ReadonlyArray<FleetRun & { id: string }>;
  hosts: ReadonlyMap<string, HostSize>;
  /** The latest analysis (classes, recommendations, the request a task declares); null before the first. */
  analysis: AnalysisDocument | null;
  end: Date;
  weeks: number;
  /** The base prices and their history: each run is priced at the prices in effect when it started. */
  pricing: PricingSettings;
  /** The periods the change is measured between; default the last four weeks against the four before. */
  compare?: Comparison | null;
  generatedAt: Date;
}

/** What the placement is, and is not, evidence of (docs/fleet.md "Where tasks should run"). */
export const PLACEMENT_EVIDENCE =
  "Packed from the runs that ran at once (their start and end times) and each task's recommended request: observed concurrency, not a scheduler simulation; a queue that moved tasks to other workers would have changed when they ran.";

/** A recommendation worth placing by: one with some confidence and a request above zero. */
function recommended(task: TaskAnalysis): { cpuCores: number; memoryBytes: number } | null {
  const { recommendation } = task;
  if (recommendation.confidence === "none" || recommendation.cpuCores <= 0) return null;
  return { cpuCores: recommendation.cpuCores, memoryBytes: recommendation.memoryBytes };
}

/**
 * A run without a recorded request is priced at what its task's analysis resolved (declared in its
 * source or configured: analyzer/requests.ts), else at its recommendation, as the night prices a resource
 * without a known request (analyzer/recommend.ts costOf).
 */
function withKnownRequests(
  runs: FleetInput["runs"],
  tasks: ReadonlyMap<string, TaskAnalysis>,
): Array<FleetRun & { id: string }> {
  return runs.map((run) => {
    if (run.requestCpuCores !== null && run.requestMemoryBytes !== null) return run;
    const task = tasks.get(taskKeyString(run));
    if (!task) return run;
    const fallback = recommended(task);
    return {
      ...run,
      requestCpuCores: run.requestCpuCores ?? task.cpu.requestCores ?? fallback?.cpuCores ?? null,
      requestMemoryBytes: run.requestMemoryBytes ?? task.memory.requestBytes ?? fallback?.memoryBytes ?? null,
    };
  });
}

export function buildFleetDocument(input: FleetInput): FleetDocument {
  const tasks = new Map((input.analysis?.tasks ?? []).map((task) => [taskKeyString(task), task]));
  const runs = withKnownRequests(input.runs, tasks);
  const cost = costOverTime({
    runs,
    end: input.end,
    weeks: input.weeks,
    pricing: priceLookup(input.pricing),
    ...(input.compare === undefined ? {} : { compare: input.compare }),
  });
  const placementTasks: PlacementTask[] = [];
  for (const task of tasks.values()) {
    const request = recommended(task);
    if (request === null) continue;
    placementTasks.push({
      orchestrator: task.orchestrator,
      pipeline: task.pipeline,
      task: task.task,
      bottleneck: task.bottleneck,
      ...request,
    });
  }
  const placement = planPlacement({
    tasks: placementTasks,
    runs,
    hosts: input.hosts,
  });
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  const rangeOf = (range: WeekRange) => ({
    firstWeek: range.first + 1,
    lastWeek: range.last + 1,
    from: cost.weekStarts[range.first]!.toISOString(),
    to: new Date(cost.weekStarts[range.last]!.getTime() + WEEK_DAYS * 86_400_000).toISOString(),
  });
  const familyPrices = Object.fromEntries(
    Object.entries(instanceFamilies).map(([family, prices]) => [
      family,
      { instance: prices.priced, vcpuHourUsd: prices.vcpuHourUsd },
    ]),
  ) as Record<InstanceFamily, { instance: string; vcpuHourUsd: number }>;
  const document: FleetDocument = {
    generatedAt: input.generatedAt.toISOString(),
    windowEnd: input.end.toISOString(),
    weeks: input.weeks,
    pricing: pricesAt(input.pricing, input.end),
    priceHistory: input.pricing.history.map((change) => ({ ...change, from: change.from.toISOString() })),
    weekStarts: cost.weekStarts.map((week) => week.toISOString()),
    costOverTime: {
      tasks: cost.tasks.map((series) => ({
        orchestrator: series.key.orchestrator,
        pipeline: series.key.pipeline,
        task: "task" in series.key ? series.key.task : "",
        weeks: series.weeks.map((week) => ({ ...week, weekStart: week.weekStart.toISOString() })),
      })),
      pipelines: cost.pipelines.map((series) => ({
        orchestrator: series.key.orchestrator,
        pipeline: series.key.pipeline,
        weeks: series.weeks.map((week) => ({ ...week, weekStart: week.weekStart.toISOString() })),
      })),
      compare: cost.compare && { before: rangeOf(cost.compare.before), after: rangeOf(cost.compare.after) },
      growers: cost.growers.map((growth) => ({
        kind: growth.kind,
        orchestrator: growth.orchestrator,
        pipeline: growth.pipeline,
        task: growth.task,
        beforeWeekUsd: growth.beforeWeekUsd,
        afterWeekUsd: growth.afterWeekUsd,
        weeklyIncreaseUsd: growth.weeklyIncreaseUsd,
        change: growth.change,
        factors: growth.factors,
        cause:
          growth.cause === null
            ? null
            : {
                state: growth.cause.state,
                stateSecondsChange: growth.cause.stateSecondsChange,
                driver: growth.cause.driver,
                driverRatio: growth.cause.driverRatio,
              },
        leadingTask: growth.leadingTask,
        sentence: growth.sentence,
      })),
      unpricedRuns: cost.unpricedRuns,
    },
    placement: {
      analysisWindowEnd: input.analysis?.windowEnd ?? null,
      groups: placement.groups.map((group) => ({
        group: group.group,
        tasks: group.tasks,
        gibPerCore: group.gibPerCore,
        family: group.family,
        shape: {
          cpuCores: group.shape.cpuCores,
          memoryBytes: group.shape.memoryBytes,
          slots: group.shape.slots,
        },
        peakRuns: group.peakRuns,
        peakAt: iso(group.peakAt),
        hostsAtPeak: group.hostsAtPeak,
        maxRunsPerHost: group.maxRunsPerHost,
        workersNeeded: group.workersNeeded,
        tasksPerWorker: group.tasksPerWorker,
        placement: group.placement,
        ranCostPerHourUsd: group.ranCostPerHourUsd,
        neededCostPerHourUsd: group.neededCostPerHourUsd,
        monthlySavingsUsd: group.monthlySavingsUsd,
        sentence: group.sentence,
      })),
      peakAt: iso(placement.peakAt),
      peakRuns: placement.peakRuns,
      hostsAtPeak: placement.hostsAtPeak,
      workersNeededAtPeak: placement.workersNeededAtPeak,
      ranCostPerHourUsd: placement.ranCostPerHourUsd,
      neededCostPerHourUsd: placement.neededCostPerHourUsd,
      monthlySavingsUsd: placement.monthlySavingsUsd,
      familyPrices: { source: FAMILY_PRICES_SOURCE, families: familyPrices },
      unplacedRuns: placement.unplacedRuns,
      evidence: PLACEMENT_EVIDENCE,
    },
  };
  return document;
}
