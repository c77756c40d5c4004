/** Resource requests declared in DAG and flow sources, as found by `rightsize scan`. */
import { and, eq } from "drizzle-orm";
import type { Db } from "../client.js";
import { declaredRequests } from "../schema.js";

export type DeclaredRequestRow = typeof declaredRequests.$inferSelect;
export type NewDeclaredRequest = typeof declaredRequests.$inferInsert;

/** Replaces everything known about one repository with a new scan, atomically. */
export async function replaceDeclaredRequests(
  db: Db,
  repo: string,
  rows: NewDeclaredRequest[],
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(declaredRequests).where(eq(declaredRequests.repo, repo));
    if (rows.length > 0) await tx.insert(declaredRequests).values(rows);
  });
}

export async function listDeclaredRequests(
  db: Db,
  filter: { repo?: string; orchestrator?: string; pipeline?: string; task?: string } = {},
): Promise<DeclaredRequestRow[]> {
  const conditions = [
    filter.repo === undefined ? undefined : eq(declaredRequests.repo, filter.repo),
    filter.orchestrator === undefined ? undefined : eq(declaredRequests.orchestrator, filter.orchestrator),
    filter.pipeline === undefined ? undefined : eq(declaredRequests.pipeline, filter.pipeline),
    filter.task === undefined ? undefined : eq(declaredRequests.task, filter.task),
  ];
  return db
    .select()
    .from(declaredRequests)
    .where(and(...conditions));
}
