/**
 * A fresh, migrated database per test file (pg-boss test/hooks.ts style): a Postgres database with a
 * random name on the real server, or a PGlite folder in a temp dir. Failed tests keep their database for
 * inspection unless KEEP_TEST_DATABASES=0; passing suites drop theirs.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { postgresAdminUrl } from "./services.js";

export interface TestDatabase {
  handle: DatabaseHandle;
  url: string;
  /** Closes the handle and removes the database. */
  drop(): Promise<void>;
}

/** Creates an empty Postgres database and returns its URL (not migrated). */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rightsize_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(postgresAdminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = postgres(postgresAdminUrl, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
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
