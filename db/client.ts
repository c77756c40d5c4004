/**
 * The client factory: `postgres://…` opens Postgres through postgres.js; a folder path or `pglite://PATH`
 * opens an embedded PGlite database in that folder, as its owner or through the process that owns it
 * (db/embedded.ts). All give the same drizzle API ({@link Db}) and run the same migrations.
 */
import { resolve } from "node:path";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { DatabaseUnavailableError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
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
  /**
   * For an embedded database: whether this process owns the folder (PGlite runs here and serves the
   * others) or is a client of the process that does (postgres.js over its Unix socket).
   */
  embedded?: { role: "owner" | "client"; ownerPid: number };
  /** Closes the client; an owner first lets its clients finish (db/embedded.ts). */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Seconds to wait for a Postgres connection before failing: commands fail within 10 s. @defaultValue 8 */
  connectTimeoutSeconds?: number;
  /** postgres.js pool size. @defaultValue 4 */
  maxConnections?: number;
  /** Where an embedded database's owner logs its socket server's troubles. @defaultValue silent */
  logger?: Logger;
  /** An embedded database only through its live owner, never as the owner (db/embedded.ts). @defaultValue false */
  clientOnly?: boolean;
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
  if (target.kind === "postgres") return openPostgres(target, options);
  // db/embedded.ts loads PGlite itself only when this process becomes the owner.
  const { openEmbedded } = await import("./embedded.js");
  return openEmbedded(target, options);
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
    // postgres.js looks up array types on every new connection from a promise nobody awaits
    // (src/connection.js, ReadyForQuery → fetchArrayTypes): a connection lost during that lookup is an
    // unhandled rejection, which ends a Node process. The one array column (run_summaries.cores_quantiles)
    // is parsed from its text form by drizzle and db/queries/analysis.ts, as it is through the embedded owner.
    fetch_types: false,
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

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<Row extends Record<string, unknown>>(db: Db, query: SQL): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as Row[] | { rows: Row[] };
  return Array.isArray(result) ? result : result.rows;
}
