/** Task profiles and recommendations: one row per task key per analysis window end. */
import { desc, eq, sql } from "drizzle-orm";
import {
  type AnalysisDocument,
  analysisDocumentSchema,
  type TaskAnalysis,
} from "../../common/analysis-document.js";
import type { Db } from "../client.js";
import { recommendations, taskProfiles } from "../schema.js";

export type TaskProfileRow = typeof taskProfiles.$inferSelect;
export type NewTaskProfile = typeof taskProfiles.$inferInsert;
export type RecommendationRow = typeof recommendations.$inferSelect;
export type NewRecommendation = typeof recommendations.$inferInsert;

/**
 * Stores a task's profile and recommendation for a window; the same night computed twice overwrites.
 * One statement (a data-modifying CTE): atomic like a transaction, but one round trip and one commit,
 * which is most of a nightly task's cost.
 */
export async function upsertTaskResult(
  db: Db,
  profile: NewTaskProfile,
  recommendation: NewRecommendation,
): Promise<void> {
  const computedAt = (value: Date | undefined) =>
    value === undefined ? sql`now()` : sql`${value.toISOString()}::timestamptz`;
  await db.execute(sql`
    with profile as (
      insert into task_profiles (orchestrator, pipeline, task, window_end, window_days, runs, bottleneck,
                                 document, computed_at)
      values (${profile.orchestrator}, ${profile.pipeline}, ${profile.task},
              ${profile.windowEnd.toISOString()}::timestamptz, ${profile.windowDays}, ${profile.runs},
              ${profile.bottleneck}, ${JSON.stringify(profile.document)}::jsonb, ${computedAt(profile.computedAt)})
      on conflict (orchestrator, pipeline, task, window_end) do update
        set window_days = excluded.window_days, runs = excluded.runs, bottleneck = excluded.bottleneck,
            document = excluded.document, computed_at = now()
      returning 1
    )
    insert into recommendations (orchestrator, pipeline, task, window_end, cpu_cores, memory_bytes, confidence,
                                 severity, monthly_savings_usd, reason, computed_at)
    values (${recommendation.orchestrator}, ${recommendation.pipeline}, ${recommendation.task},
            ${recommendation.windowEnd.toISOString()}::timestamptz, ${recommendation.cpuCores},
            ${recommendation.memoryBytes}, ${recommendation.confidence}, ${recommendation.severity},
            ${recommendation.monthlySavingsUsd ?? null}, ${recommendation.reason},
            ${computedAt(recommendation.computedAt)})
    on conflict (orchestrator, pipeline, task, window_end) do update
      set cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes, confidence = excluded.confidence,
          severity = excluded.severity, monthly_savings_usd = excluded.monthly_savings_usd,
          reason = excluded.reason, computed_at = now()`);
}

/**
 * Stores one task's entry of the analysis document for a window: the entry itself as the profile, its
 * recommendation in its own row. `pricing` rides along in the stored entry (stripped when the document is
 * rebuilt) so readers know what the savings assumed.
 */
export async function storeTaskAnalysis(
  db: Db,
  analysis: TaskAnalysis,
  window: { windowEnd: Date; windowDays: number },
  pricing?: AnalysisDocument["pricing"],
): Promise<void> {
  const key = { orchestrator: analysis.orchestrator, pipeline: analysis.pipeline, task: analysis.task };
  const { recommendation } = analysis;
  await upsertTaskResult(
    db,
    {
      ...key,
      ...window,
      runs: analysis.runs,
      bottleneck: analysis.bottleneck,
      document: (pricing ? { ...analysis, pricing: { ...pricing } } : analysis) as unknown as Record<
        string,
        unknown
      >,
    },
    {
      ...key,
      windowEnd: window.windowEnd,
      cpuCores: recommendation.cpuCores,
      memoryBytes: recommendation.memoryBytes,
      confidence: recommendation.confidence,
      severity: recommendation.severity,
      monthlySavingsUsd: recommendation.monthlySavingsUsd,
      reason: recommendation.reason,
    },
  );
}

/** The most recent window end that has profiles, or undefined before the first analysis. */
export async function latestWindowEnd(db: Db): Promise<Date | undefined> {
  const rows = await db
    .select({ windowEnd: taskProfiles.windowEnd })
    .from(taskProfiles)
    .orderBy(desc(taskProfiles.windowEnd))
    .limit(1);
  return rows[0]?.windowEnd;
}

export async function listTaskProfiles(db: Db, windowEnd: Date): Promise<TaskProfileRow[]> {
  return db
    .select()
    .from(taskProfiles)
    .where(eq(taskProfiles.windowEnd, windowEnd))
    .orderBy(taskProfiles.orchestrator, taskProfiles.pipeline, taskProfiles.task);
}

export async function listRecommendations(db: Db, windowEnd: Date): Promise<RecommendationRow[]> {
  return db
    .select()
    .from(recommendations)
    .where(eq(recommendations.windowEnd, windowEnd))
    .orderBy(recommendations.orchestrator, recommendations.pipeline, recommendations.task);
}

/**
 * The analysis document of the latest window (or of `windowEnd`), rebuilt from the stored task profiles;
 * undefined when that window has none. The reports, the check and `analyze --json` all read this one.
 */
export async function loadAnalysisDocument(db: Db, windowEnd?: Date): Promise<AnalysisDocument | undefined> {
  const end = windowEnd ?? (await latestWindowEnd(db));
  if (!end) return undefined;
  const rows = await listTaskProfiles(db, end);
  if (rows.length === 0) return undefined;
  const generatedAt = new Date(Math.max(...rows.map((row) => row.computedAt.getTime())));
  const pricing = rows.find((row) => row.document.pricing !== undefined)?.document.pricing;
  // Parsing puts the keys back in contract order (jsonb stores them sorted) and drops storage-only keys.
  return analysisDocumentSchema.parse({
    generatedAt: generatedAt.toISOString(),
    windowDays: rows[0]!.windowDays,
    windowEnd: end.toISOString(),
    ...(pricing === undefined ? {} : { pricing }),
    tasks: rows.map((row) => row.document),
  });
}
