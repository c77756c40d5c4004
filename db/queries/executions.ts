/** Task executions: one try of one task run on one host. */
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Db } from "../client.js";
import { taskExecutions } from "../schema.js";

export type ExecutionRow = typeof taskExecutions.$inferSelect;
export type NewExecution = typeof taskExecutions.$inferInsert;

/**
 * Records an execution; writing the same id again (a replayed spool, a restarted collector) updates the
 * end, status and measures instead of failing.
 */
export async function upsertExecution(db: Db, execution: NewExecution): Promise<void> {
  const { id: _id, ...update } = execution;
  await db
    .insert(taskExecutions)
    .values(execution)
    .onConflictDoUpdate({ target: taskExecutions.id, set: update });
}

export async function getExecution(db: Db, id: string): Promise<ExecutionRow | undefined> {
  const rows = await db.select().from(taskExecutions).where(eq(taskExecutions.id, id));
  return rows[0];
}

/** Executions left open on a host, by a collector that died before it could close them. */
export async function listOpenExecutions(db: Db, hostId: string): Promise<ExecutionRow[]> {
  return db
    .select()
    .from(taskExecutions)
    .where(and(eq(taskExecutions.hostId, hostId), isNull(taskExecutions.endedAt)));
}

export async function listExecutionsOfTask(
  db: Db,
  key: { orchestrator: string; pipeline: string; task: string },
): Promise<ExecutionRow[]> {
  return db
    .select()
    .from(taskExecutions)
    .where(
      and(
        eq(taskExecutions.orchestrator, key.orchestrator),
        eq(taskExecutions.pipeline, key.pipeline),
        eq(taskExecutions.task, key.task),
      ),
    )
    .orderBy(desc(taskExecutions.startedAt));
}
