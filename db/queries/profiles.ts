/** Task profiles and recommendations: one row per task key per analysis window end. */
import { eq, sql } from "drizzle-orm";
import {
  type AnalysisDocument,
  analysisDocumentSchema,
  type TaskAnalysis,
} from "../../common/analysis-document.js";
import { type Db, queryRows } from "../client.js";
import { analyses, recommendations, taskProfiles } from "../schema.js";

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
  await storeTaskAnalyses(db, [analysis], window, pricing);
}

/**
 * Stores many tasks' entries for a window in one statement (profiles and recommendations, a
 * data-modifying CTE: atomic, one round trip, one commit), whatever their number: the night writes a
 * batch of tasks at a time instead of one round trip per task. Computing the same night again overwrites.
 */
export async function storeTaskAnalyses(
  db: Db,
  entries: TaskAnalysis[],
  window: { windowEnd: Date; windowDays: number },
  pricing?: AnalysisDocument["pricing"],
): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((analysis) => ({
    orchestrator: analysis.orchestrator,
    pipeline: analysis.pipeline,
    task: analysis.task,
    runs: analysis.runs,
    bottleneck: analysis.bottleneck,
    document: pricing ? { ...analysis, pricing: { ...pricing } } : analysis,
    cpu_cores: analysis.recommendation.cpuCores,
    memory_bytes: analysis.recommendation.memoryBytes,
    confidence: analysis.recommendation.confidence,
    severity: analysis.recommendation.severity,
    monthly_savings_usd: analysis.recommendation.monthlySavingsUsd,
    reason: analysis.recommendation.reason,
  }));
  const windowEnd = sql`${window.windowEnd.toISOString()}::timestamptz`;
  // jsonb, not json: the batch is parsed once and each entry's document taken as it is, where
  // json_to_recordset parsed every document a second time into jsonb (2-3 × the statement's time at 250
  // tasks, BENCHMARKS.md "analysis").
  await db.execute(sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as i(
        orchestrator text, pipeline text, task text, runs int, bottleneck text, document jsonb,
        cpu_cores float8, memory_bytes float8, confidence text, severity text, monthly_savings_usd float8,
        reason text)
    ),
    profile as (
      insert into task_profiles (orchestrator, pipeline, task, window_end, window_days, runs, bottleneck,
                                 document, computed_at)
      select orchestrator, pipeline, task, ${windowEnd}, ${window.windowDays}, runs, bottleneck, document, now()
      from input
      on conflict (orchestrator, pipeline, task, window_end) do update
        set window_days = excluded.window_days, runs = excluded.runs, bottleneck = excluded.bottleneck,
            document = excluded.document, computed_at = now()
      returning 1
    )
    insert into recommendations (orchestrator, pipeline, task, window_end, cpu_cores, memory_bytes, confidence,
                                 severity, monthly_savings_usd, reason, computed_at)
    select orchestrator, pipeline, task, ${windowEnd}, cpu_cores, round(memory_bytes)::int8, confidence, severity,
           monthly_savings_usd, reason, now()
    from input
    on conflict (orchestrator, pipeline, task, window_end) do update
      set cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes, confidence = excluded.confidence,
          severity = excluded.severity, monthly_savings_usd = excluded.monthly_savings_usd,
          reason = excluded.reason, computed_at = now()`);
}

export type AnalysisRow = typeof analyses.$inferSelect;

/**
 * Records that the window was analyzed, with how many tasks and, when none, why: an analysis of 0 tasks
 * is still an analysis, which `report` renders. The same window again overwrites.
 */
export async function recordAnalysis(
  db: Db,
  row: { windowEnd: Date; windowDays: number; tasks: number; emptyReason: string | null },
): Promise<void> {
  await db
    .insert(analyses)
    .values({ ...row, computedAt: new Date() })
    .onConflictDoUpdate({
      target: analyses.windowEnd,
      set: {
        windowDays: row.windowDays,
        tasks: row.tasks,
        emptyReason: row.emptyReason,
        computedAt: sql`now()`,
      },
    });
}

/** The most recent window end analyzed (recorded, or with profiles), or undefined before the first analysis. */
export async function latestWindowEnd(db: Db): Promise<Date | undefined> {
  const [row] = await queryRows<{ window_end: Date | string | null }>(
    db,
    sql`select greatest((select max(window_end) from analyses), (select max(window_end) from task_profiles))
          as window_end`,
  );
  return row?.window_end ? new Date(row.window_end) : undefined;
}

/** Tasks with a stored profile for the window end. */
export async function countTaskProfiles(db: Db, windowEnd: Date): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from task_profiles where window_end = ${windowEnd.toISOString()}::timestamptz`,
  );
  return Number(row?.n ?? 0);
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
  if (rows.length === 0) {
    const [recorded] = await db.select().from(analyses).where(eq(analyses.windowEnd, end));
    if (!recorded) return undefined;
    return analysisDocumentSchema.parse({
      generatedAt: recorded.computedAt.toISOString(),
      windowDays: recorded.windowDays,
      windowEnd: end.toISOString(),
      ...(recorded.emptyReason ? { emptyReason: recorded.emptyReason } : {}),
      tasks: [],
    });
  }
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
