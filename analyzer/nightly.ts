/**
 * The nightly analysis steps, each one thin (STYLE.md 5): load through db/, compute with the pure
 * analyzer functions, persist. The BullMQ processors (jobs.ts) and the inline runner both call these, so
 * the queue and `rightsize analyze` cannot disagree.
 */
import {
  type AnalysisDocument,
  analysisDocumentSchema,
  type TaskAnalysis,
  taskAnalysisSchema,
} from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import type { FleetDocument } from "../common/fleet-document.js";
import { fleetSectionsFor } from "./fleet-read.js";
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { pricesAt, pricingSettingsOf } from "../common/pricing.js";
import { type TaskKey, taskKeyString } from "../common/task-key.js";
import type { Db } from "../db/client.js";
import {
  type AnalysisWindow,
  countWindowExecutions,
  listTaskKeysInWindow,
  summarizeRuns,
} from "../db/queries/analysis.js";
import {
  countTaskProfiles,
  loadAnalysisDocument,
  recordAnalysis,
  storeTaskAnalyses,
} from "../db/queries/profiles.js";
import { maintainPartitions, type PartitionChange } from "../db/queries/partitions.js";
import { applyRetention, type RetentionResult } from "../db/queries/retention.js";
import { loadTaskHistories } from "../db/queries/task-histories.js";
import type { RecommendationSettings } from "./recommend.js";
import { declaredValuesOf, matchConfiguredRequest } from "./requests.js";
import { buildTaskAnalysis, type OptionalPart } from "./task-analysis.js";

/** The task's data cannot give an analysis (a contract violation, not a passing outage): don't retry. */
export class AnalysisDataError extends Error {
  override name = "AnalysisDataError";
}

/** What one night analyzes: the window ending at `end`, `days` long. */
export interface Night {
  windowEnd: Date;
  windowDays: number;
}

export function windowOf(night: Night, maxRuns: number): AnalysisWindow {
  return {
    start: new Date(night.windowEnd.getTime() - night.windowDays * 86_400_000),
    end: night.windowEnd,
    maxRuns,
  };
}

/** The recommendation settings, priced as at `at` (`pricing.history`, common/pricing.ts; default now). */
export function settingsOf(config: Config, at: Date = new Date()): RecommendationSettings {
  return {
    cpuBuffer: config.analysis.cpuBuffer,
    memoryBuffer: config.analysis.memoryBuffer,
    cpuRunPercentile: config.analysis.cpuRunPercentile,
    memoryPeakPercentile: config.analysis.memoryPeakPercentile,
    maxOverMemoryShare: config.analysis.maxOverMemoryShare,
    policy: config.analysis.policy,
    pricing: pricesAt(pricingSettingsOf(config), at),
  };
}

/**
 * The night's catch-up: summarizes every run of the window that ended without a summary (the collector's
 * writer summarizes each run when it ends; this covers a collector that died, or rows replayed from a
 * spool). The nightly job and the inline runner call it before analyzing tasks.
 */
export async function summarizeNight(db: Db, config: Config, night: Night): Promise<number> {
  const window = windowOf(night, config.analysis.maxRuns);
  return summarizeRuns(db, { endedFrom: window.start, endedBy: window.end });
}

/**
 * The hourly catch-up job: every run that ended within the retention period (older samples are gone)
 * and still has no summary.
 */
export async function catchUpSummaries(db: Db, config: Config, now = new Date()): Promise<number> {
  return summarizeRuns(db, {
    endedFrom: new Date(now.getTime() - config.retention.days * 86_400_000),
    endedBy: now,
  });
}

/** The task keys the night fans out to. */
export async function tasksOfNight(db: Db, config: Config, night: Night): Promise<TaskKey[]> {
  return listTaskKeysInWindow(db, windowOf(night, config.analysis.maxRuns));
}

/**
 * Tasks per batch: each batch is three reads and one write whatever its size, and holds its tasks'
 * summaries (20 runs, each a 101-point sketch of about 1 kB) in memory, so 250 tasks stay around 10 MB.
 * Batches of 100 took 30 MB off the night's peak RSS and 3 % longer (BENCHMARKS.md "analysis").
 */
export const MAX_TASKS_PER_BATCH = 250;

/** Splits the night's keys into `parts` batches or more, none above {@link MAX_TASKS_PER_BATCH}. */
export function batchesOf<T>(keys: T[], parts: number, minimum = 1): T[][] {
  const size = Math.min(MAX_TASKS_PER_BATCH, Math.max(minimum, Math.ceil(keys.length / Math.max(1, parts))));
  const batches: T[][] = [];
  for (let start = 0; start < keys.length; start += size) batches.push(keys.slice(start, start + size));
  return batches;
}

export interface BatchResult {
  analyses: TaskAnalysis[];
  /** Tasks whose data cannot give an analysis: left out, the rest of the batch is stored. */
  failed: Array<{ task: string; error: string }>;
}

/**
 * Analyzes a batch of tasks over the night's window and upserts their profiles and recommendations under
 * (task key, window end), in a few statements whatever the batch's size: three reads (runs with their
 * summaries, commands, declared requests) and one write. Computing the same night again overwrites with
 * the same values. The night's runs must be summarized first ({@link summarizeNight}).
 */
export async function analyzeTasks(
  db: Db,
  config: Config,
  night: Night,
  keys: TaskKey[],
  /** Parts left out (bench/analysis.bench.ts times the night without each). @defaultValue none */
  leaveOut: ReadonlySet<OptionalPart> = new Set(),
): Promise<BatchResult> {
  const window = windowOf(night, config.analysis.maxRuns);
  const histories = await loadTaskHistories(db, keys, window);
  const settings = settingsOf(config, night.windowEnd);
  const analyses: TaskAnalysis[] = [];
  const failed: BatchResult["failed"] = [];
  for (const key of keys) {
    const history = histories.get(taskKeyString(key));
    if (!history || history.runs.length === 0) continue;
    try {
      analyses.push(
        checkedAnalysis(
          key,
          buildTaskAnalysis(
            {
              key,
              runs: history.runs,
              processes: history.processes,
              declared: declaredValuesOf(history.declared),
              configured: matchConfiguredRequest(config.analysis.requests, key),
              windowEnd: night.windowEnd,
              windowDays: night.windowDays,
              maxRuns: config.analysis.maxRuns,
            },
            settings,
            leaveOut,
          ),
        ),
      );
    } catch (error) {
      failed.push({ task: taskKeyString(key), error: describeError(coerceError(error)) });
    }
  }
  await storeTaskAnalyses(db, analyses, night, settings.pricing);
  return { analyses, failed };
}

function checkedAnalysis(key: TaskKey, analysis: TaskAnalysis): TaskAnalysis {
  const checked = taskAnalysisSchema.safeParse(analysis);
  if (!checked.success) {
    throw new AnalysisDataError(
      `task ${taskKeyString(key)}: analysis does not fit the document contract: ${checked.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
        .join("; ")}`,
    );
  }
  if (hasNonFinite(analysis)) {
    throw new AnalysisDataError(`task ${taskKeyString(key)}: a measure is not a finite number`);
  }
  return analysis;
}

function hasNonFinite(value: unknown): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(hasNonFinite);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasNonFinite);
  return false;
}

/** Publishing, injected so the analyzer room does not import reports/ outside the publish step. */
export type Publisher = (options: {
  db: Db;
  document: AnalysisDocument;
  config: Config;
  logger: Logger;
  /** Names the night's delivery, so a retried publish sends neither its email nor its Slack message twice. */
  deliveryKey?: string;
  /** The report's fleet sections, when the weeks before the night hold runs (docs/fleet.md). */
  render?: { fleet?: FleetDocument };
}) => Promise<unknown>;

/** The report's fleet sections (docs/fleet.md); a failed read leaves them out rather than the report. */
async function nightFleet(db: Db, config: Config, logger: Logger, document: AnalysisDocument) {
  try {
    return await fleetSectionsFor(db, document, {
      weeks: config.fleet.weeks,
      pricing: pricingSettingsOf(config),
    });
  } catch (error) {
    logger.warn({ error: describeError(error) }, "fleet sections left out of the report");
    return undefined;
  }
}

/** Rebuilds the night's document from the stored profiles and hands it to the publisher. */
export async function publishNight(
  db: Db,
  config: Config,
  logger: Logger,
  night: Night,
  publish: Publisher,
): Promise<AnalysisDocument> {
  await recordNight(db, config, night);
  const document = (await loadAnalysisDocument(db, night.windowEnd)) ?? emptyDocument(night);
  const result = await publish({
    db,
    document,
    config,
    logger,
    deliveryKey: `night-${night.windowEnd.toISOString()}`,
    render: { fleet: await nightFleet(db, config, logger, document) },
  });
  logger.info(
    { windowEnd: night.windowEnd.toISOString(), tasks: document.tasks.length, result },
    "published",
  );
  return document;
}

/**
 * Records the night as analyzed, with its task count and, when it found none, why (counted from the
 * executions): an analysis of 0 tasks is still one that `report` renders.
 */
export async function recordNight(
  db: Db,
  config: Config,
  night: Night,
): Promise<{ tasks: number; emptyReason: string | null }> {
  const tasks = await countTaskProfiles(db, night.windowEnd);
  const emptyReason =
    tasks > 0
      ? null
      : emptyReasonOf(await countWindowExecutions(db, windowOf(night, config.analysis.maxRuns)), night);
  await recordAnalysis(db, { windowEnd: night.windowEnd, windowDays: night.windowDays, tasks, emptyReason });
  return { tasks, emptyReason };
}

/** Why a window holds no task, in one sentence a new user can act on. */
export function emptyReasonOf(
  counts: { total: number; running: number; endedAfter: number; before: number },
  night: Night,
): string {
  const end = night.windowEnd.toISOString();
  if (counts.total === 0) {
    return "No task execution is recorded yet: wrap a command with `rightsize run … -- CMD` or start `rightsize collect`, then analyze again.";
  }
  const parts: string[] = [];
  if (counts.running > 0) {
    parts.push(`${counts.running} execution${counts.running === 1 ? " is" : "s are"} still running`);
  }
  if (counts.endedAfter > 0) {
    parts.push(`${counts.endedAfter} ended after the window's end (${end})`);
  }
  if (counts.before > 0) {
    parts.push(`${counts.before} started before the ${night.windowDays}-day window`);
  }
  return `No task execution ended within the ${night.windowDays} days before ${end}${parts.length > 0 ? `: ${parts.join(", ")}` : ""}. Analyze again once runs have ended.`;
}

export function emptyDocument(night: Night): AnalysisDocument {
  return analysisDocumentSchema.parse({
    generatedAt: new Date().toISOString(),
    windowDays: night.windowDays,
    windowEnd: night.windowEnd.toISOString(),
    tasks: [],
  });
}

export interface InlineResult {
  /** The night's document; undefined when neither asked for (`document: false`) nor published. */
  document: AnalysisDocument | undefined;
  analyzed: number;
  failed: Array<{ task: string; error: string }>;
  /** Why the night holds no task, when it holds none. */
  emptyReason: string | null;
}

/**
 * Batches the inline night analyzes at once: the node process and Postgres share the host's cores, so
 * two keep both busy, one computing while the other reads or writes (bench/analysis.bench.ts).
 */
const INLINE_LANES = 2;

/**
 * The whole night in this process, without Redis: the same steps the queue runs, a batch of tasks at a
 * time in {@link INLINE_LANES} lanes. A task that fails is logged and left out, as a failed child job is in
 * the flow.
 */
export async function runNightInline(options: {
  db: Db;
  config: Config;
  logger: Logger;
  night: Night;
  publish?: Publisher;
  /** Batches analyzed at once. @defaultValue 2 */
  concurrency?: number;
  /** Rebuild the night's document from the stored profiles at the end. @defaultValue true */
  document?: boolean;
  /**
   * Parts of each task's analysis left out: only the analysis benchmark sets it, to time the night with
   * and without the backtest and the diagnoses in the same run. @defaultValue none
   */
  leaveOut?: ReadonlySet<OptionalPart>;
}): Promise<InlineResult> {
  const { db, config, logger, night } = options;
  const summarized = await summarizeNight(db, config, night);
  logger.info({ summarized }, "runs summarized");
  const keys = await tasksOfNight(db, config, night);
  const lanes = Math.max(1, options.concurrency ?? INLINE_LANES);
  // At least two batches per lane, so one lane computes while the other waits on the database.
  const batches = batchesOf(keys, 2 * lanes, 25);
  const failed: InlineResult["failed"] = [];
  let next = 0;
  let analyzed = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        try {
          const result = await analyzeTasks(db, config, night, batch, options.leaveOut);
          analyzed += result.analyses.length;
          for (const failure of result.failed) {
            logger.error(failure, "task analysis failed");
            failed.push(failure);
          }
        } catch (error) {
          const message = describeError(coerceError(error));
          for (const key of batch) {
            logger.error({ task: taskKeyString(key), error: message }, "task analysis failed");
            failed.push({ task: taskKeyString(key), error: message });
          }
        }
      }
    }),
  );
  if (options.publish) {
    const published = await publishNight(db, config, logger, night, options.publish);
    return { document: published, analyzed, failed, emptyReason: published.emptyReason ?? null };
  }
  const { emptyReason } = await recordNight(db, config, night);
  const document =
    options.document === false
      ? undefined
      : ((await loadAnalysisDocument(db, night.windowEnd)) ?? emptyDocument(night));
  return { document, analyzed, failed, emptyReason };
}

/** What one maintenance pass did: sample partitions made and dropped, and rows deleted per table. */
export interface MaintenanceResult {
  partitions: PartitionChange[];
  retention: RetentionResult;
}

/**
 * The maintenance pass (the hourly `maintain-partitions` job and `rightsize db maintain`): sample
 * partitions made ahead and dropped past retention.days, then every other table's retention
 * (db/queries/retention.ts) at the ages of the `retention.*` settings.
 */
export async function maintainDatabase(db: Db, config: Config, now = new Date()): Promise<MaintenanceResult> {
  const { days, partitionsAheadDays, processesDays, hostSamplesDays, runsDays } = config.retention;
  const partitions = await maintainPartitions(db, days, partitionsAheadDays);
  const retention = await applyRetention(db, { processesDays, hostSamplesDays, runsDays }, now);
  return { partitions, retention };
}

/**
 * Partition maintenance (and the rest of the retention) runs hourly at minute 17: creating tomorrow's
 * partition must never wait for a single nightly slot that a down worker could miss, and minute 17 stays
 * clear of the top-of-hour rush.
 */
export const MAINTENANCE_CRON = "17 * * * *";

/**
 * The catch-up of run summaries runs hourly at minute 47: a run whose collector died is summarized within
 * the hour, and minute 47 stays clear of both the top of the hour and partition maintenance.
 */
export const CATCH_UP_CRON = "47 * * * *";

/** Window ends fall on whole minutes, so the same night computed twice has the same name. */
export function floorToMinute(ms: number): Date {
  return new Date(Math.floor(ms / 60_000) * 60_000);
}
