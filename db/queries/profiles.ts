/** Task profiles and recommendations: one row per task key per analysis window end. */
import { desc, eq, sql } from "drizzle-orm";
import { type AnalysisDocument, analysisDocumentSchema } from "../../common/analysis-document.js";
import type { Db } from "../client.js";
import { recommendations, taskProfiles } from "../schema.js";

export type TaskProfileRow = typeof taskProfiles.$inferSelect;
export type NewTaskProfile = typeof taskProfiles.$inferInsert;
export type RecommendationRow = typeof recommendations.$inferSelect;
export type NewRecommendation = typeof recommendations.$inferInsert;

/** Stores a task's profile and recommendation for a window; the same night computed twice overwrites. */
export async function upsertTaskResult(
  db: Db,
  profile: NewTaskProfile,
  recommendation: NewRecommendation,
): Promise<void> {
  await db.transaction(async (tx) => {
    const { orchestrator: _o, pipeline: _p, task: _t, windowEnd: _w, ...profileUpdate } = profile;
    await tx
      .insert(taskProfiles)
      .values(profile)
      .onConflictDoUpdate({
        target: [taskProfiles.orchestrator, taskProfiles.pipeline, taskProfiles.task, taskProfiles.windowEnd],
        set: { ...profileUpdate, computedAt: sql`now()` },
      });
    const {
      orchestrator: _ro,
      pipeline: _rp,
      task: _rt,
      windowEnd: _rw,
      ...recommendationUpdate
    } = recommendation;
    await tx
      .insert(recommendations)
      .values(recommendation)
      .onConflictDoUpdate({
        target: [
          recommendations.orchestrator,
          recommendations.pipeline,
          recommendations.task,
          recommendations.windowEnd,
        ],
        set: { ...recommendationUpdate, computedAt: sql`now()` },
      });
  });
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
