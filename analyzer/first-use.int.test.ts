/**
 * A new user's first minutes, as processes against the real Postgres: `rightsize run … -- CMD`, then
 * `analyze` without a window end, then `report`: the run is in the analysis and the report. On the same
 * real collected data, the summary the collector's writer made when the run ended equals the one the SQL
 * catch-up makes from the samples. Needs `npm run build` (runs dist/cli/main.js).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analysisDocumentSchema } from "../common/analysis-document.js";
import { loadConfig } from "../common/config.js";
import { queryRows } from "../db/client.js";
import { summarizeRuns } from "../db/queries/analysis.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { catchUpSummaries } from "./nightly.js";

let database: TestDatabase;
let folder: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(process.cwd(), ".rightsize-first-use-test-"));
  env = {
    REDIS_URL: "",
    RIGHTSIZE_SPOOL_DIR: join(folder, "spool"),
    RIGHTSIZE_REPORTS_DIR: join(folder, "reports"),
    RIGHTSIZE_HOST_ID: "first-use-host",
  };
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

/** run_summaries rows without the moment each was computed, in execution order. */
async function summaries(): Promise<Array<Record<string, unknown>>> {
  const rows = await queryRows<Record<string, unknown>>(
    database.handle.db,
    sql`select * from run_summaries order by execution_id`,
  );
  return rows.map(({ computed_at: _computedAt, ...rest }) => rest);
}

describe("first use", () => {
  it("an empty database: analyze records an empty analysis and report says why it is empty", async () => {
    const analyzed = await runCli(["--db", database.url, "analyze"], { env });
    expect(analyzed.stderr).toBe("");
    expect(analyzed.code).toBe(0);
    expect(analyzed.stdout).toMatch(/analyzed 0 tasks over 14 days .*\nNo task execution is recorded yet/);
    const report = await runCli(["--db", database.url, "report", "--format", "md", "--out", "-"], { env });
    expect(report.stderr).toBe("");
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/0 tasks in 0 pipelines/);
    expect(report.stdout).toMatch(/No task execution is recorded yet: wrap a command with .*rightsize run/);
  });

  it("run -- sleep 1, then analyze and report without flags: the run is in both", async () => {
    const ran = await runCli(
      [
        "--db",
        database.url,
        "run",
        "--pipeline",
        "first_use",
        "--task",
        "nap",
        "--request-cpu",
        "2",
        "--interval",
        "250ms",
        "--",
        "sleep",
        "1",
      ],
      { env },
    );
    expect(ran.code).toBe(0);
    // Straight after the run, as a user would: the default window ends now, not at the last whole minute.
    const analyzed = await runCli(["--db", database.url, "analyze", "--json", join(folder, "a.json")], {
      env,
    });
    expect(analyzed.stderr).toBe("");
    expect(analyzed.code).toBe(0);
    expect(analyzed.stdout).toMatch(/analyzed 1 task over 14 days/);
    const document = analysisDocumentSchema.parse(JSON.parse(readFileSync(join(folder, "a.json"), "utf8")));
    expect(document.tasks.map((task) => `${task.pipeline}/${task.task}`)).toEqual(["first_use/nap"]);
    expect(document.tasks[0]!.recommendation.runsPerDay).toBe(1);
    expect(document.tasks[0]!.recommendation.monthlySavingsUsd).toBeGreaterThan(0);

    const report = await runCli(["--db", database.url, "report", "--format", "md", "--out", "-"], { env });
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/\| first\\?_use \| nap \|/);
    expect(report.stdout).toMatch(/Savings assume \$0\.031611 per vCPU-hour/);
  });

  it("the summary written when the run ended equals the SQL catch-up's over the same samples", async () => {
    // Real work with a shape: a busy shell loop, then a nap, sampled every 200 ms.
    const ran = await runCli(
      [
        "--db",
        database.url,
        "run",
        "--pipeline",
        "first_use",
        "--task",
        "busy",
        "--interval",
        "200ms",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 600000 ]; do i=$((i+1)); done; sleep 0.5",
      ],
      { env },
    );
    expect(ran.code).toBe(0);
    const [counts] = await queryRows<{ executions: number; samples: number }>(
      database.handle.db,
      sql`select (select count(*) from task_executions where task = 'busy')::int as executions,
                 (select count(*) from samples s join task_executions e on e.id = s.execution_id
                  where e.task = 'busy')::int as samples`,
    );
    expect(counts).toEqual({ executions: 1, samples: expect.any(Number) });
    expect(counts!.samples).toBeGreaterThanOrEqual(3);
    // Every ended run already has its summary from the writer: the catch-up finds nothing to do.
    const atTheEdge = await summaries();
    expect(atTheEdge).toHaveLength(2);
    expect(await catchUpSummaries(database.handle.db, loadConfig({ env: {} }))).toBe(0);
    // Forget them and let the SQL catch-up make them from the samples: the same rows.
    await database.handle.db.execute(sql`delete from run_summaries`);
    const now = new Date();
    expect(
      await summarizeRuns(database.handle.db, {
        endedFrom: new Date(now.getTime() - 86_400_000),
        endedBy: now,
      }),
    ).toBe(2);
    expect(await summaries()).toEqual(atTheEdge);
  });
});
