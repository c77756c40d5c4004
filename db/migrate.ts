/**
 * Applies the committed migrations (idempotent: the journal table `drizzle.__drizzle_migrations` records
 * what ran; pending ones run in one transaction), then makes the sample partitions for the days ahead.
 */
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { type DatabaseHandle, queryRows } from "./client.js";
import { migrationsFolder } from "./migrations-folder.js";
import { maintainPartitions, type PartitionChange } from "./queries/partitions.js";

/** Any number for pg_advisory_lock, fixed so that every rightsize process agrees on it. */
const MIGRATION_LOCK_ID = 7_262_011;

export interface MigrateResult {
  partitions: PartitionChange[];
}

export async function migrateDatabase(
  handle: DatabaseHandle,
  retention: { days: number; partitionsAheadDays: number } = { days: 30, partitionsAheadDays: 7 },
): Promise<MigrateResult> {
  if (handle.target.kind === "postgres") {
    // Collectors and workers start together and all migrate: one session holds the lock while the
    // others wait, then find nothing left to do. Ending the session releases it.
    const single = postgres(handle.target.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migratePostgres(drizzlePostgres(single), { migrationsFolder });
    } finally {
      await single.end({ timeout: 5 });
    }
  } else if (handle.embedded?.role === "client") {
    // The owner migrated before it let any client in (db/embedded.ts), and the writer makes each day's
    // partition as rows arrive: a client has nothing to do, and a `run` stays light.
    return { partitions: [] };
  } else {
    const client = (handle.db as unknown as { $client: PGlite }).$client;
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(drizzle(client), { migrationsFolder });
  }
  const partitions = await maintainPartitions(handle.db, retention.days, retention.partitionsAheadDays);
  return { partitions };
}

/** Whether the schema exists yet (a command other than `db migrate` may migrate first). */
export async function hasSchema(handle: DatabaseHandle): Promise<boolean> {
  const rows = await queryRows<{ t: string | null }>(
    handle.db,
    sql`select to_regclass('public.task_executions') as t`,
  );
  return rows[0]?.t != null;
}
