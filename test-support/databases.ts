/**
 * A fresh, migrated database per test file (pg-boss test/hooks.ts style): a Postgres database with a
 * random name on the real server, or a PGlite folder in a temp dir. Failed tests keep their database for
 * inspection unless KEEP_TEST_DATABASES=0; passing suites drop theirs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DatabaseHandle, openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { createScratchDatabase, type ScratchDatabase } from "./scratch-database.js";
import { postgresAdminUrl } from "./services.js";

export interface TestDatabase {
  handle: DatabaseHandle;
  url: string;
  /** Closes the handle and removes the database. */
  drop(): Promise<void>;
}

/** Creates an empty Postgres database and returns its URL (not migrated). */
export function createEmptyPostgresDatabase(): Promise<ScratchDatabase> {
  return createScratchDatabase(postgresAdminUrl, "rightsize_test");
}

export async function createPostgresTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const empty = await createEmptyPostgresDatabase();
  const handle = await openDatabase(empty.url);
  if (options.migrate !== false) await migrateDatabase(handle);
  return {
    handle,
    url: empty.url,
    drop: async () => {
      await handle.close();
      await empty.drop();
    },
  };
}

export async function createPgliteTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const folder = mkdtempSync(join(tmpdir(), "rightsize-pglite-"));
  const url = join(folder, "db");
  const handle = await openDatabase(url);
  if (options.migrate !== false) await migrateDatabase(handle);
  return {
    handle,
    url,
    drop: async () => {
      await handle.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Both engines, for tests that must hold on each: `describe.each(engines)`. */
export const engines = [
  { name: "postgres", create: createPostgresTestDatabase },
  { name: "pglite", create: createPgliteTestDatabase },
] as const;
