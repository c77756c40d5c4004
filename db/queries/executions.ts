/** Task executions: one try of one task run on one host. */
import { and, desc, eq, gte, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { taskExecutions } from "../schema.js";

export type ExecutionRow = typeof taskExecutions.$inferSelect;
export type NewExecution = typeof taskExecutions.$inferInsert;

/**
 * Records an execution; writing the same id again (a replayed spool, a restarted collector) updates the
 * end, status and measures instead of failing. A "lost" mark (written by a collector that found the
 * execution left open) never overwrites an end its owner recorded, whichever lands first.
 */
export async function upsertExecution(db: Db, execution: NewExecution): Promise<void> {
  const { id: _id, ...update } = execution;
  await db
    .insert(taskExecutions)
    .values(execution)
    .onConflictDoUpdate({
      target: taskExecutions.id,
      set: update,
      ...(execution.status === "lost" ? { setWhere: isNull(taskExecutions.endedAt) } : {}),
    });
}

/** How {@link recordExecution} stored a row. */
export type RecordedAs =
  /** Under its own id and identity. */
  | { kind: "stored"; id: string }
  /** The identity was stored already for the same root process (pid and start): the stored id is used. */
  | { kind: "merged"; id: string }
  /** Its id was stored already under another identity (an earlier renumbering): that identity is kept. */
  | { kind: "kept"; id: string; tryNumber: number }
  /** Another process holds the identity: stored as the next free try of the same run. */
  | { kind: "renumbered"; id: string; tryNumber: number };

/** Largest value of an integer (int4) column. */
const INT4_MAX = 2_147_483_647;

function identityOf(row: NewExecution) {
  return and(
    eq(taskExecutions.orchestrator, row.orchestrator),
    eq(taskExecutions.pipeline, row.pipeline),
    eq(taskExecutions.task, row.task),
    eq(taskExecutions.runId, row.runId),
    eq(taskExecutions.mapIndex, row.mapIndex ?? -1),
    eq(taskExecutions.hostId, row.hostId),
  );
}

/**
 * Records an execution under the identity rule (docs/collector-storage.md "One identity, one execution"):
 * executions are unique on (orchestrator, pipeline, task, run, try, map index, host). When another row
 * holds that identity:
 * - the same root process (pid and start ticks) seen under a new id (a collector restarted while the
 *   database was down rediscovers a running task) is the same execution: the stored id wins and the
 *   caller maps its rows onto it;
 * - a different process (a retry whose try number was never seen, `run --run X` twice without `--try`)
 *   is a new try of that run: stored as the highest stored try + 1;
 * - a row whose own id is stored already keeps its stored identity (it was renumbered earlier).
 * A concurrent writer taking the identity in between makes the insert fail with 23505: tried again.
 */
export async function recordExecution(db: Db, execution: NewExecution): Promise<RecordedAs> {
  for (let attempt = 0; ; attempt++) {
    const found = await db
      .select({
        id: taskExecutions.id,
        tryNumber: taskExecutions.tryNumber,
        rootPid: taskExecutions.rootPid,
        rootStartTicks: taskExecutions.rootStartTicks,
        orchestrator: taskExecutions.orchestrator,
        pipeline: taskExecutions.pipeline,
        task: taskExecutions.task,
        runId: taskExecutions.runId,
        mapIndex: taskExecutions.mapIndex,
        hostId: taskExecutions.hostId,
      })
      .from(taskExecutions)
      .where(
        or(
          eq(taskExecutions.id, execution.id),
          and(identityOf(execution), eq(taskExecutions.tryNumber, execution.tryNumber ?? 1)),
        ),
      );
    const own = found.find((row) => row.id === execution.id);
    const other = found.find((row) => row.id !== execution.id);
    let row = execution;
    let outcome: RecordedAs = { kind: "stored", id: execution.id };
    if (other) {
      const sameProcess =
        other.rootPid !== null &&
        other.rootStartTicks !== null &&
        other.rootPid === execution.rootPid &&
        other.rootStartTicks === execution.rootStartTicks;
      if (sameProcess) {
        row = { ...execution, id: other.id };
        outcome = { kind: "merged", id: other.id };
      } else if (own) {
        const { id: _id, ...identity } = own;
        row = {
          ...execution,
          ...identity,
          rootPid: execution.rootPid,
          rootStartTicks: execution.rootStartTicks,
        };
        outcome = { kind: "kept", id: execution.id, tryNumber: own.tryNumber };
      } else {
        const [next] = await db
          .select({ tryNumber: sql<number>`coalesce(max(${taskExecutions.tryNumber}), 0)::int8 + 1` })
          .from(taskExecutions)
          .where(and(identityOf(execution), ne(taskExecutions.id, execution.id)));
        const tryNumber = Number(next?.tryNumber ?? 1);
        if (tryNumber > INT4_MAX)
          throw new ExecutionIdentityError(`no free try number left for run ${execution.runId}`);
        row = { ...execution, tryNumber };
        outcome = { kind: "renumbered", id: execution.id, tryNumber };
      }
    }
    try {
      await upsertExecution(db, row);
      return outcome;
    } catch (error) {
      if ((error as { code?: string }).code === "23505" && attempt < 3) continue;
      throw error;
    }
  }
}

/** An execution that cannot be given an identity (SQLSTATE-like code: data exception). */
export class ExecutionIdentityError extends Error {
  override name = "ExecutionIdentityError";
  code = "22003";
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

/** An ended execution's CPU self-check (collector/tracking/cpu-self-check.ts). */
export interface StoredCpuCheck {
  treeCpuSeconds: number;
  referenceCpuSeconds: number;
  referenceCpuSource: string;
}

/**
 * The CPU self-checks of executions that ended since `since`, newest first, at most `limit`; and how
 * many executions ended in that time, with a self-check or without.
 */
export async function listCpuChecks(
  db: Db,
  since: Date,
  limit: number,
): Promise<{ ended: number; checks: StoredCpuCheck[] }> {
  const endedSince = gte(taskExecutions.endedAt, since);
  const [counted] = await db
    .select({ ended: sql<number>`count(*)::int` })
    .from(taskExecutions)
    .where(endedSince);
  const rows = await db
    .select({
      treeCpuSeconds: taskExecutions.treeCpuSeconds,
      referenceCpuSeconds: taskExecutions.referenceCpuSeconds,
      referenceCpuSource: taskExecutions.referenceCpuSource,
    })
    .from(taskExecutions)
    .where(
      and(
        endedSince,
        isNotNull(taskExecutions.treeCpuSeconds),
        isNotNull(taskExecutions.referenceCpuSeconds),
        isNotNull(taskExecutions.referenceCpuSource),
      ),
    )
    .orderBy(desc(taskExecutions.endedAt))
    .limit(limit);
  return { ended: Number(counted?.ended ?? 0), checks: rows as StoredCpuCheck[] };
}
