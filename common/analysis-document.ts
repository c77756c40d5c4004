/**
 * The analysis document (`rightsize analyze --json`, `--recommendations FILE`): the contract between the
 * analyzer that writes it and the reports, patches and CI check that read it. docs/architecture.md
 * "Analysis document" lists the required fields; fields marked "extension" are additions readers may
 * rely on too.
 *
 * Units: cores are CPU cores (1.0 = one core busy), bytes are bytes, percentiles are of per-second
 * samples unless named per run. `timeShares` are fractions of the task's wall-clock time, summing to about
 * 1 (on a CPU while any thread ran, waiting for a CPU while one was runnable, else blocked on disk, on a
 * socket, on a child, else idle: collector/tracking/thread-state.ts wallClockSplit); for runs recorded before the
 * collector split wall time they are fractions of thread-time. `threadTimeShares` (extension) are always
 * fractions of thread-time.
 */
import { z } from "zod";

/**
 * Bounds (a document is also user input, `--recommendations FILE`): every number is finite; measured
 * figures are never negative; cores and bytes a task asks for or is recommended stay within the largest
 * single machine on offer, so a typo or a corrupt file is refused with its path and field instead of
 * becoming `"NaNGi"` or `9.3e+290Gi` in a patch.
 */
/** Largest single machine: AWS EC2 u7in-32tb.224xlarge, 896 vCPUs and 32 TiB (EC2 High Memory instances); twice that. */
export const MAX_CORES = 2 * 896;
export const MAX_BYTES = 2 * 32 * 1024 ** 4;
/** A monthly saving beyond a billion dollars is a corrupt figure, not a saving (chosen bound). */
export const MAX_MONTHLY_USD = 1e9;

const finite = z.number().finite();
const num = finite.nonnegative();
const nullableNum = num.nullable();
const cores = num.max(MAX_CORES);
const bytes = num.max(MAX_BYTES);
const timeSharesSchema = z.object({
  cpu: num,
  cpuWait: num,
  diskWait: num,
  networkWait: num,
  idle: num,
  childWait: num,
});

export const bottleneckClasses = [
  "cpu",
  "cpu-contention",
  "cpu-throttled",
  "memory",
  "disk-io",
  "network-wait",
  "idle",
  "balanced",
  "unknown",
] as const;
export type BottleneckClass = (typeof bottleneckClasses)[number];

export const confidenceLevels = ["none", "low", "medium", "high"] as const;
export type Confidence = (typeof confidenceLevels)[number];

export const severityLevels = ["good", "ok", "warning", "critical"] as const;
export type Severity = (typeof severityLevels)[number];

/** Where a requested or limit value came from. */
export const requestSources = ["cgroup", "pod-spec", "declared", "config", "flag"] as const;
export type RequestSource = (typeof requestSources)[number];

export const orchestrators = ["airflow", "prefect", "generic"] as const;
export type Orchestrator = (typeof orchestrators)[number];

const requestSource = z.enum(requestSources).nullable();

/** extension: one run's diagnosis against the task's comparable runs (docs/analyzer.md "Diagnosis"). */
export const diagnosisVerdicts = ["not-enough-runs", "slower", "faster", "usual"] as const;
const runDiagnosisSchema = z.object({
  executionId: z.string(),
  runId: z.string(),
  tryNumber: z.number().int(),
  startedAt: z.string(),
  durationSeconds: num,
  verdict: z.enum(diagnosisVerdicts),
  comparableRuns: z.number().int().nonnegative(),
  /** The median run's duration; null with too few comparable runs. */
  baselineSeconds: nullableNum,
  deltaSeconds: finite,
  /**
   * What most of the difference is blamed on when the run was slower: work (more work at the usual pace),
   * cpuWait, diskWait (beyond the usual pace), networkWait, childWait, idle.
   */
  mainCause: z.string().nullable(),
  mainEndpoint: z.string().nullable(),
  /** The main cause as a phrase with its seconds: "+24m 00s blocked on disk", "+2.1 s more work at the usual pace". */
  mainCauseText: z.string().nullable(),
  /** The duration difference by state (and endpoint); they add up to deltaSeconds. */
  components: z.array(
    z.object({
      state: z.string(),
      endpoint: z.string().nullable().optional(),
      runSeconds: finite,
      baselineSeconds: finite,
      deltaSeconds: finite,
    }),
  ),
  sentences: z.array(z.string()),
});

const count = z.number().int().nonnegative();
/** One backtest replay (analyzer/backtest.ts Replay): the sizing replayed and what it would have done. */
const replaySchema = z.object({
  cpuCores: cores,
  memoryBytes: bytes,
  runs: count,
  overMemory: count,
  reclaimZone: count,
  cpuCapped: count,
  cappedSeconds: num,
  stretchedRuns: count,
  maxStretch: num,
  coreHoursSaved: finite,
  gibHoursSaved: finite,
  usdSaved: finite.nullable(),
});
/** One resource of `effectiveRequest`: cores or bytes, and where the collector read them. */
function effectiveResource(amount: z.ZodNumber) {
  return z.object({
    request: amount.nullable(),
    limit: amount.nullable(),
    source: z.enum(["cgroup", "pod-spec"]),
    runs: z.number().int().nonnegative(),
  });
}

export const taskAnalysisSchema = z.object({
  orchestrator: z.string(),
  pipeline: z.string(),
  task: z.string(),
  runs: z.number().int(),
  durationSeconds: z.object({ p50: num, p95: num, max: num }),
  cpu: z.object({
    requestCores: cores.nullable(),
    limitCores: cores.nullable(),
    requestSource,
    p50: num,
    p90: num,
    p95: num,
    p99: num,
    max: num,
    cpuSecondsPerRun: z.object({ p50: num, max: num }),
    /** extension: share of CFS periods throttled (0..1), null when unknown. */
    throttledShare: num.max(1).nullable().optional(),
  }),
  memory: z.object({
    requestBytes: bytes.nullable(),
    limitBytes: bytes.nullable(),
    requestSource,
    peakBytes: z.object({ p50: num, p95: num, max: num }),
    oomKills: z.number().int(),
  }),
  disk: z.object({ readBytesPerRun: z.object({ p50: num }), writeBytesPerRun: z.object({ p50: num }) }),
  network: z.object({
    rxBytesPerRun: z.object({ p50: nullableNum }),
    txBytesPerRun: z.object({ p50: nullableNum }),
  }),
  timeShares: timeSharesSchema,
  /** Extension: the same states as fractions of thread-time (every thread's seconds counted). */
  threadTimeShares: timeSharesSchema.optional(),
  bottleneck: z.enum(bottleneckClasses),
  evidence: z.array(z.string()),
  processes: z.array(
    z.object({ command: z.string(), count: z.number().int(), cpuSeconds: num, peakRssBytes: num }),
  ),
  recommendation: z.object({
    cpuCores: cores,
    memoryBytes: bytes,
    confidence: z.enum(confidenceLevels),
    severity: z.enum(severityLevels),
    /** null when no request is known: the saving cannot be computed. */
    monthlySavingsUsd: finite.min(-MAX_MONTHLY_USD).max(MAX_MONTHLY_USD).nullable(),
    reason: z.string(),
    /** extension: runs per day observed in the window, the frequency the monthly saving assumes. */
    runsPerDay: num.optional(),
    /** extension: mean cost of one run at its own request; null when no request is known. */
    costPerRunUsd: nullableNum.optional(),
    /** extension: mean cost of one run at the recommended request. */
    recommendedCostPerRunUsd: num.optional(),
  }),
  /** extension: remote endpoints the task's threads waited on, most waited first. */
  endpoints: z.array(z.object({ endpoint: z.string(), waitSeconds: num })).optional(),
  /** extension: the last runs against the window median, where they moved by more than 30 %. */
  regressions: z
    .array(
      z.object({
        metric: z.enum(["durationSeconds", "peakMemoryBytes", "cpuSeconds"]),
        recent: num,
        median: num,
        change: finite,
      }),
    )
    .optional(),
  /**
   * extension: the latest and the slowest run against the task's comparable runs (`worst` omitted when it
   * is the latest), and the factor the task's duration follows across runs.
   */
  diagnosis: z
    .object({
      latest: runDiagnosisSchema,
      worst: runDiagnosisSchema.optional(),
      variation: z.object({
        inconsistent: z.boolean(),
        p95OverP50: nullableNum,
        cv: nullableNum,
        factor: z.string().nullable(),
        r: finite.nullable(),
        runs: z.number().int().nonnegative(),
        sentence: z.string(),
      }),
    })
    .optional(),
  /**
   * extension: the recommendation replayed against the task's own runs (analyzer/backtest.ts): in sample
   * (sized from every run) and out of sample (sized from the older runs, replayed on the newest quarter).
   */
  backtest: z
    .object({
      policy: z.string(),
      /** The risk target: the largest share of out-of-sample runs allowed over the memory. */
      maxOverMemoryShare: num.max(1),
      inSample: replaySchema,
      outOfSample: replaySchema.extend({ trainingRuns: count }).nullable(),
      /** null without out-of-sample runs to judge by. */
      meetsTarget: z.boolean().nullable(),
    })
    .optional(),
  /**
   * extension: what the runs really had (their cgroup's or pod spec's request and limit, latest run that
   * recorded one, and how many did), beside the declared request above; null fields where nothing was set
   * (analyzer/effective-requests.ts).
   */
  effectiveRequest: z
    .object({
      cpu: effectiveResource(cores).nullable(),
      memory: effectiveResource(bytes).nullable(),
      /** Declared values (as the last scan stored them) the runs show never reached the task. */
      notApplied: z
        .array(
          z.object({
            resource: z.enum(["cpu", "memory"]),
            kind: z.enum(["request", "limit"]),
            declared: num,
            message: z.string(),
          }),
        )
        .optional(),
    })
    .optional(),
  /** extension: per-run figures for charts, oldest first. */
  recentRuns: z
    .array(
      z.object({
        runId: z.string(),
        tryNumber: z.number().int(),
        startedAt: z.string(),
        durationSeconds: num,
        cpuP95: num,
        cpuMax: num,
        peakMemoryBytes: num,
        exitCode: z.number().int().nullable(),
      }),
    )
    .optional(),
});

export const analysisDocumentSchema = z.object({
  generatedAt: z.string(),
  windowDays: z.number(),
  /** extension: end of the analysis window (ISO-8601). */
  windowEnd: z.string().optional(),
  /** extension: the prices savings were computed with. */
  pricing: z.object({ cpuHourUsd: num, memoryGibHourUsd: num }).optional(),
  /** extension: why `tasks` is empty (no run ended in the window, runs still going…), when it is. */
  emptyReason: z.string().optional(),
  tasks: z.array(taskAnalysisSchema),
});

export type TaskAnalysis = z.infer<typeof taskAnalysisSchema>;
export type AnalysisDocument = z.infer<typeof analysisDocumentSchema>;

/**
 * Whether a task's backtest shows OOM risk: a run would have exceeded the recommended memory, or out of
 * sample more of the newest runs than the risk target allows (analyzer/backtest.ts). Reports mark it;
 * `check`, `patch` and `pr` never propose a memory cut for it.
 */
export function backtestShowsOomRisk(task: Pick<TaskAnalysis, "backtest">): boolean {
  const backtest = task.backtest;
  return backtest !== undefined && (backtest.inSample.overMemory > 0 || backtest.meetsTarget === false);
}
