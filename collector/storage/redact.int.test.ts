/**
 * Redaction end to end: every command line of the corpus (redact-corpus.json) becomes the argv of a real
 * process under `rightsize run`, and then everything the database holds — every row of every table, as
 * JSON text — is searched for every secret. The stored argv must also be the corpus's expected form.
 * Needs `npm run build` (runs dist/cli/main.js).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import type { CorpusEntry } from "./redact.test.js";

const corpus = JSON.parse(
  readFileSync(new URL("./redact-corpus.json", import.meta.url), "utf8"),
) as CorpusEntry[];

/** The interpreter itself, not a version-manager shim. */
const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
  encoding: "utf8",
}).trim();

/**
 * Each probe is `sh -c 'sleep 3; :' ARGV…`: /proc/PID/cmdline holds the corpus argv after the shell's
 * three words (the `; :` keeps dash from exec'ing sleep in its place), alive for several ticks.
 */
const PROBE = ["/bin/sh", "-c", "sleep 3; :"];

/** Starts every probe at once and waits for all of them (run as the wrapped command). */
const LAUNCHER = `
import json, subprocess, sys
corpus = json.load(open(sys.argv[1]))
probes = [subprocess.Popen(json.loads(sys.argv[2]) + entry["argv"]) for entry in corpus]
sys.exit(max(probe.wait() for probe in probes))
`;

let database: TestDatabase;
let folder: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(process.cwd(), ".rightsize-redact-test-"));
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

/** Rows of a raw query, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
async function query<Row>(statement: ReturnType<typeof sql>): Promise<Row[]> {
  const result = (await database.handle.db.execute(statement)) as unknown as Row[] | { rows: Row[] };
  return Array.isArray(result) ? result : result.rows;
}

/** Every row of every table outside the system schemas, as JSON text (partitions included). */
async function dumpDatabase(): Promise<string[]> {
  const tables = await query<{ schema: string; name: string }>(
    sql`select table_schema as schema, table_name as name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
  );
  const rows: string[] = [];
  for (const table of tables) {
    const result = await query<{ row: string }>(
      sql`select row_to_json(t)::text as row from ${sql.identifier(table.schema)}.${sql.identifier(table.name)} t`,
    );
    for (const { row } of result) rows.push(row);
  }
  return rows;
}

describe("redaction of stored command lines", () => {
  it("stores every corpus command line in its redacted form and no secret anywhere", async () => {
    const launcher = join(folder, "launcher.py");
    writeFileSync(launcher, LAUNCHER);
    const expected = (entry: CorpusEntry) => [...PROBE, ...entry.redacted].join(" ");
    // A probe the sampler first sees between the launcher's fork and its exec keeps the launcher's argv
    // (the sampler reads argv again only on a new command name, and dash and python differ, but a
    // sleeping probe may not be looked at again): such entries get another run, at most three in all.
    let remaining = corpus;
    let logs = "";
    for (let attempt = 1; attempt <= 3 && remaining.length > 0; attempt++) {
      const corpusPath = join(folder, `corpus-${attempt}.json`);
      writeFileSync(corpusPath, JSON.stringify(remaining));
      const result = await runCli(
        [
          "--db",
          database.url,
          "run",
          "--pipeline",
          "redaction-test",
          "--task",
          `corpus-${attempt}`,
          "--interval",
          "250ms",
          "--",
          python,
          launcher,
          corpusPath,
          JSON.stringify(PROBE),
        ],
        { env: { RIGHTSIZE_SPOOL_DIR: join(folder, "spool"), RIGHTSIZE_HOST_ID: "redact-test-host" } },
      );
      // Warnings may come (the CPU self-check on a loaded host), errors may not; and no secret in either
      // (checked below with the database's contents).
      expect(result.stderr).not.toMatch(/"level":(50|60)/);
      logs += result.stderr;
      expect(result.code).toBe(0);
      const stored = await query<{ argv: string }>(
        sql`select argv from execution_processes where argv like ${"/bin/sh -c sleep 3; : %"}`,
      );
      const storedArgv = new Set(stored.map((row) => row.argv));
      remaining = remaining.filter((entry) => !storedArgv.has(expected(entry)));
    }
    // Every command line was stored in exactly the corpus's redacted form.
    expect(remaining.map(expected)).toEqual([]);

    // And no secret is anywhere in the database, in any table or column, nor in the wrapper's logs.
    const everything = [...(await dumpDatabase()), logs].join("\n");
    expect(everything).toContain("sleep 3; : curl");
    const leaked = corpus.flatMap((entry) =>
      entry.secrets.filter((secret) => everything.includes(JSON.stringify(secret).slice(1, -1))),
    );
    expect(leaked).toEqual([]);
  });
});
