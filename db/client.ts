/**
 * The client factory: `postgres://…` opens Postgres through postgres.js; a folder path or `pglite://PATH`
 * opens an embedded PGlite database in that folder. Both give the same drizzle API ({@link Db}) and run
 * the same migrations.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { DatabaseUnavailableError, describeError } from "../common/errors.js";
import { isProcessAlive } from "../common/process-alive.js";
import * as schema from "./schema.js";

export type Schema = typeof schema;
/** The drizzle database (or a transaction) every query module takes as its first argument. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; folder: string };

export interface DatabaseHandle {
  db: Db;
  target: DatabaseTarget;
  /** Where, for messages: `postgres 127.0.0.1:5432/test` or `pglite ./.rightsize/db`. */
  label: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Seconds to wait for a Postgres connection before failing: commands fail within 10 s. @defaultValue 8 */
  connectTimeoutSeconds?: number;
  /** postgres.js pool size. @defaultValue 4 */
  maxConnections?: number;
}

/** Reads a `--db` / `DATABASE_URL` value. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: "postgres", url };
  if (url.startsWith("pglite://")) return { kind: "pglite", folder: resolve(url.slice("pglite://".length)) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new DatabaseUnavailableError(
      `unsupported database URL scheme in '${url.split("://")[0]}://…': use postgres://, pglite:// or a folder path`,
    );
  }
  return { kind: "pglite", folder: resolve(url) };
}

function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const target = parseDatabaseUrl(url);
  return target.kind === "postgres" ? openPostgres(target, options) : openPglite(target);
}

async function openPostgres(
  target: Extract<DatabaseTarget, { kind: "postgres" }>,
  options: OpenOptions,
): Promise<DatabaseHandle> {
  const where = describePostgres(target.url);
  const timeout = options.connectTimeoutSeconds ?? 8;
  const client = postgres(target.url, {
    max: options.maxConnections ?? 4,
    connect_timeout: timeout,
    onnotice: () => {},
  });
  try {
    // postgres.js retries nothing on its own at connect, but a black-holed address can hang past
    // connect_timeout in DNS or TLS; the race bounds the whole attempt.
    await Promise.race([
      client`select 1`,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeout} s`)), timeout * 1000).unref(),
      ),
    ]);
  } catch (error) {
    // Not awaited: ending a pool whose connect is still hanging would wait for that connect too.
    void client.end({ timeout: 0 }).catch(() => {});
    throw new DatabaseUnavailableError(`cannot connect to Postgres at ${where}: ${describeError(error)}`, {
      cause: error,
    });
  }
  return {
    db: drizzlePostgres(client, { schema }) as unknown as Db,
    target,
    label: `postgres ${where}`,
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * PGlite has no lock of its own and two processes on one folder corrupt it, so a lock file with the
 * owner's pid guards the folder; a lock whose process is gone is taken over.
 */
function lockFolder(folder: string): () => void {
  const lockFile = `${folder}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(lockFile, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessAlive(owner)) {
        throw new DatabaseUnavailableError(
          `embedded database ${folder} is in use by process ${owner} (lock ${lockFile}); stop it or use --db postgres://…`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new DatabaseUnavailableError(`cannot lock embedded database ${folder} (lock ${lockFile})`);
}

async function openPglite(target: Extract<DatabaseTarget, { kind: "pglite" }>): Promise<DatabaseHandle> {
  const { folder } = target;
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot create embedded database folder ${folder}: ${describeError(error)}`,
    );
  }
  const unlock = lockFolder(folder);
  let client: PGlite;
  try {
    client = await PGlite.create(folder);
    await client.query("select 1");
  } catch (error) {
    unlock();
    const fresh = !existsSync(`${folder}/PG_VERSION`);
    throw new DatabaseUnavailableError(
      `cannot open embedded database ${folder}: ${describeError(error)}${
        fresh ? "" : " (the folder may be corrupt: move it aside to start a new database)"
      }`,
      { cause: error },
    );
  }
  return {
    db: drizzlePglite(client, { schema }) as unknown as Db,
    target,
    label: `pglite ${folder}`,
    close: async () => {
      await client.close();
      unlock();
    },
  };
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<Row extends Record<string, unknown>>(db: Db, query: SQL): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as Row[] | { rows: Row[] };
  return Array.isArray(result) ? result : result.rows;
}
