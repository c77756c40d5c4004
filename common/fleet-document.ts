/**
 * The fleet document (`rightsize fleet --format json`), beside the analysis document
 * (common/analysis-document.ts): cost per task and pipeline week by week with the causes of its change,
 * and where each kind of task should run. docs/fleet.md describes every field. Money is USD, kept to a
 * millionth of a dollar; cores are CPU cores; bytes are bytes; instants are ISO-8601. Additions are always
 * optional keys, so older documents stay valid.
 */
import { z } from "zod";

const finite = z.number().finite();
const num = finite.nonnegative();
const instant = z.string().datetime({ offset: true });

const weekCostSchema = z.object({
  weekStart: instant,
  runs: z.number().int().nonnegative(),
  costUsd: num,
  usedCostUsd: num,
});

const factorsSchema = z.object({
  runsPerDay: num,
  duration: num,
  size: num,
  price: num,
});

export const durationStates = [
  "onCpuSeconds",
  "cpuWaitSeconds",
  "diskWaitSeconds",
  "netWaitSeconds",
  "childWaitSeconds",
  "idleSeconds",
] as const;
export const durationDrivers = ["cpuSeconds", "diskReadBytes", "diskWriteBytes", "netBytes"] as const;

const growthSchema = z.object({
  kind: z.enum(["task", "pipeline"]),
  orchestrator: z.string(),
  pipeline: z.string(),
  task: z.string().nullable(),
  /** Cost per week in the before and the after period. */
  beforeWeekUsd: num,
  afterWeekUsd: num,
  weeklyIncreaseUsd: finite,
  /** Cost per day, the after period ÷ the before period (`compare`); null when the task is new or gone. */
  change: num.nullable(),
  /** Runs per day × duration × size × price = change. */
  factors: factorsSchema.nullable(),
  cause: z
    .object({
      state: z.enum(durationStates).nullable(),
      stateSecondsChange: finite,
      driver: z.enum(durationDrivers).nullable(),
      driverRatio: num.nullable(),
    })
    .nullable(),
  leadingTask: z.string().nullable(),
  sentence: z.string(),
});

export const needGroupNames = [
  "cpu-bound",
  "memory-heavy",
  "disk-bound",
  "network-or-idle",
  "general",
] as const;
export const instanceFamilyNames = [
  "compute-optimized",
  "general-purpose",
  "memory-optimized",
  "storage-optimized",
] as const;

const placementGroupSchema = z.object({
  group: z.enum(needGroupNames),
  tasks: z.array(
    z.object({
      orchestrator: z.string(),
      pipeline: z.string(),
      task: z.string(),
      bottleneck: z.string(),
      cpuCores: num,
      memoryBytes: num,
    }),
  ),
  gibPerCore: num,
  family: z.enum(instanceFamilyNames),
  shape: z.object({ cpuCores: num, memoryBytes: num, slots: z.number().int().positive() }),
  peakRuns: z.number().int().nonnegative(),
  peakAt: instant.nullable(),
  hostsAtPeak: z.number().int().nonnegative(),
  maxRunsPerHost: z.number().int().nonnegative(),
  workersNeeded: z.number().int().nonnegative(),
  tasksPerWorker: z.number().int().nonnegative(),
  placement: z.object({ airflowCelery: z.string(), airflowKubernetes: z.string(), prefect: z.string() }),
  /** At the group's peak: its share of the hosts that ran it per hour (null: a host's size unknown, or no run). */
  ranCostPerHourUsd: num.nullable().optional(),
  /** The group's workers per hour, at its family's price. */
  neededCostPerHourUsd: num.optional(),
  /** (ran − needed) per hour × 24 × 30. */
  monthlySavingsUsd: finite.nullable().optional(),
  sentence: z.string(),
});

const weekRangeSchema = z.object({
  /** Weeks of the window, 1 = the oldest, inclusive. */
  firstWeek: z.number().int().positive(),
  lastWeek: z.number().int().positive(),
  from: instant,
  /** Exclusive. */
  to: instant,
});

export const fleetDocumentSchema = z.object({
  generatedAt: instant,
  windowEnd: instant,
  weeks: z.number().int().positive(),
  /** The prices in effect at the window's end. */
  pricing: z.object({ cpuHourUsd: num, memoryGibHourUsd: num }),
  /** `pricing.history`: each change with the day it took effect; every run is priced as it started. */
  priceHistory: z
    .array(z.object({ from: instant, cpuHourUsd: num.optional(), memoryGibHourUsd: num.optional() }))
    .optional(),
  weekStarts: z.array(instant),
  costOverTime: z.object({
    tasks: z.array(
      z.object({
        orchestrator: z.string(),
        pipeline: z.string(),
        task: z.string(),
        weeks: z.array(weekCostSchema),
      }),
    ),
    pipelines: z.array(
      z.object({ orchestrator: z.string(), pipeline: z.string(), weeks: z.array(weekCostSchema) }),
    ),
    /** The two periods every growth compares (null: under two weeks, no growers). */
    compare: z.object({ before: weekRangeSchema, after: weekRangeSchema }).nullable().optional(),
    growers: z.array(growthSchema),
    /** Runs without a known request (nor a recommendation): left out of every cost. */
    unpricedRuns: z.number().int().nonnegative(),
  }),
  placement: z.object({
    /** The analysis the classes and recommendations come from; null when there is none yet. */
    analysisWindowEnd: z.string().nullable(),
    groups: z.array(placementGroupSchema),
    peakAt: instant.nullable(),
    peakRuns: z.number().int().nonnegative(),
    hostsAtPeak: z.number().int().nonnegative(),
    workersNeededAtPeak: z.number().int().nonnegative(),
    ranCostPerHourUsd: num.nullable(),
    neededCostPerHourUsd: num,
    monthlySavingsUsd: finite.nullable(),
    /** Each family's on-demand price per vCPU-hour the workers and the hosts are priced at, and its source. */
    familyPrices: z
      .object({
        source: z.string(),
        families: z.record(z.enum(instanceFamilyNames), z.object({ instance: z.string(), vcpuHourUsd: num })),
      })
      .optional(),
    unplacedRuns: z.number().int().nonnegative(),
    /** What the evidence is and is not, in one sentence. */
    evidence: z.string(),
  }),
});

export type FleetDocument = z.infer<typeof fleetDocumentSchema>;
export type FleetGrowth = FleetDocument["costOverTime"]["growers"][number];
export type FleetPlacementGroup = FleetDocument["placement"]["groups"][number];
