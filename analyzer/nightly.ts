/**
 * The nightly analysis steps, each one thin (STYLE.md 5): load through db/, compute with the pure
 * analyzer functions, persist. The BullMQ processors (jobs.ts) and the inline runner both call these, so
 * the queue and `rightsize analyze` cannot disagree.
 */
import {
  type AnalysisDocument,
  analysisDocumentSchema,
  type TaskAnalysis,
  type TaskKey,
  taskAnalysisSchema,
  taskKeyString,
} from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import {
  type AnalysisWindow,
  listTaskKeysInWindow,
  loadTaskHistory,
  summarizeRuns,
} from "../db/queries/analysis.js";
import { loadAnalysisDocument, storeTaskAnalysis } from "../db/queries/profiles.js";
import type { RecommendationSettings } from "./recommend.js";
import { declaredValuesOf, matchConfiguredRequest } from "./requests.js";
import { buildTaskAnalysis } from "./task-analysis.js";

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

export function settingsOf(config: Config): RecommendationSettings {
  return {
    cpuBuffer: config.analysis.cpuBuffer,
    memoryBuffer: config.analysis.memoryBuffer,
    cpuRunPercentile: config.analysis.cpuRunPercentile,
    memoryPeakPercentile: config.analysis.memoryPeakPercentile,
    pricing: { ...config.pricing },
  };
}

/**
 * Summarizes every run of the night that has no summary yet, in one pass over the window's samples;
 * the nightly job and the inline runner call it before analyzing tasks.
 */
export async function summarizeNight(db: Db, config: Config, night: Night): Promise<number> {
  return summarizeRuns(db, windowOf(night, config.analysis.maxRuns));
}

/** The task keys the night fans out to. */
export async function tasksOfNight(db: Db, config: Config, night: Night): Promise<TaskKey[]> {
  return listTaskKeysInWindow(db, windowOf(night, config.analysis.maxRuns));
}

/**
 * Analyzes one task over the night's window and upserts its profile and recommendation under
 * (task key, window end): computing the same night again overwrites with the same values. The night's
 * runs must be summarized first ({@link summarizeNight}): the nightly job does it before it fans out.
 */
export async function analyzeTask(
  db: Db,
  config: Config,
  night: Night,
  key: TaskKey,
): Promise<TaskAnalysis | undefined> {
  const window = windowOf(night, config.analysis.maxRuns);
  const { runs, processes, declared } = await loadTaskHistory(db, key, window);
  if (runs.length === 0) return undefined;
  const analysis = buildTaskAnalysis(
    {
      key,
      runs,
      processes,
      declared: declaredValuesOf(declared),
      configured: matchConfiguredRequest(config.analysis.requests, key),
      windowEnd: night.windowEnd,
      windowDays: night.windowDays,
      maxRuns: config.analysis.maxRuns,
    },
    settingsOf(config),
  );
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
  await storeTaskAnalysis(db, analysis, night, config.pricing);
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
}) => Promise<unknown>;

/** Rebuilds the night's document from the stored profiles and hands it to the publisher. */
export async function publishNight(
  db: Db,
  config: Config,
  logger: Logger,
  night: Night,
  publish: Publisher,
): Promise<AnalysisDocument> {
  const document = (await loadAnalysisDocument(db, night.windowEnd)) ?? emptyDocument(night);
  const result = await publish({ db, document, config, logger });
  logger.info(
    { windowEnd: night.windowEnd.toISOString(), tasks: document.tasks.length, result },
    "published",
  );
  return document;
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
}

/**
 * The whole night in this process, without Redis: the same steps the queue runs, `concurrency` tasks at
 * a time. A task that fails is logged and left out, as a failed child job is in the flow.
 */
export async function runNightInline(options: {
  db: Db;
  config: Config;
  logger: Logger;
  night: Night;
  publish?: Publisher;
  concurrency?: number;
  /** Rebuild the night's document from the stored profiles at the end. @defaultValue true */
  document?: boolean;
}): Promise<InlineResult> {
  const { db, config, logger, night } = options;
  const summarized = await summarizeNight(db, config, night);
  logger.info({ summarized }, "runs summarized");
  const keys = await tasksOfNight(db, config, night);
  const failed: InlineResult["failed"] = [];
  let next = 0;
  let analyzed = 0;
  const lanes = Array.from(
    { length: Math.max(1, options.concurrency ?? config.queue.concurrency) },
    async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          if (await analyzeTask(db, config, night, key)) analyzed++;
        } catch (error) {
          const message = describeError(coerceError(error));
          logger.error({ task: taskKeyString(key), error: message }, "task analysis failed");
          failed.push({ task: taskKeyString(key), error: message });
        }
      }
    },
  );
  await Promise.all(lanes);
  const document = options.publish
    ? await publishNight(db, config, logger, night, options.publish)
    : options.document === false
      ? undefined
      : ((await loadAnalysisDocument(db, night.windowEnd)) ?? emptyDocument(night));
  return { document, analyzed, failed };
}

/**
 * Partition maintenance runs hourly at minute 17: creating tomorrow's partition must never wait for a
 * single nightly slot that a down worker could miss, and minute 17 stays clear of the top-of-hour rush.
 */
export const MAINTENANCE_CRON = "17 * * * *";

/** Window ends fall on whole minutes, so the same night computed twice has the same name. */
export function floorToMinute(ms: number): Date {
  return new Date(Math.floor(ms / 60_000) * 60_000);
}
