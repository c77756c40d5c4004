/**
 * End to end: a real `rightsize run` of a 30 s command writes through a TCP proxy that is cut for 10 s
 * in the middle. Afterwards the execution's samples form an unbroken chain: each sample's ts is its
 * predecessor's plus its own interval, so no tick is missing, and the key (execution, ts) makes
 * duplicates impossible. Needs `npm run build`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../db/client.js";
import { runCli } from "../../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import { startTcpProxy, type TcpProxy } from "../../test-support/tcp-proxy.js";

describe("rightsize run through a database outage", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let spoolDir: string;
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
    proxy = await startTcpProxy("127.0.0.1", Number(new URL(database.url).port || 5432));
    spoolDir = mkdtempSync(join(tmpdir(), "rightsize-spool-run-"));
  });
  afterAll(async () => {
    await proxy.close();
    await database.drop();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it("every tick of a 30 s run with Postgres cut for 10 s is stored once, none missing", async () => {
    const timers = [
      setTimeout(() => void proxy.cut(), 8_000),
      setTimeout(() => void proxy.restore(), 18_000),
    ];
    const result = await runCli(
      [
        "run",
        "--db",
        proxy.url(database.url),
        "--pipeline",
        "outage_dag",
        "--task",
        "sleeper",
        "--run",
        "r1",
        "--",
        "sleep",
        "30",
      ],
      { env: { RIGHTSIZE_SPOOL_DIR: spoolDir, LOG_LEVEL: "warn" }, timeoutMs: 90_000 },
    );
    for (const timer of timers) clearTimeout(timer);
    await proxy.restore();
    expect(result.code, result.stderr).toBe(0);
    // The outage really happened while the run wrote.
    expect(result.stderr).toContain("spooling");

    const executions = await queryRows<{ id: string; status: string; exit_code: number | null }>(
      database.handle.db,
      sql`select id, status, exit_code from task_executions where pipeline = 'outage_dag' and task = 'sleeper'`,
    );
    expect(executions).toHaveLength(1);
    expect(executions[0]).toMatchObject({ status: "succeeded", exit_code: 0 });
    const rows = await queryRows<{ ms: number; interval: number }>(
      database.handle.db,
      sql`select (extract(epoch from ts) * 1000)::float8 as ms, interval_seconds::float8 as interval
          from samples where execution_id = ${executions[0]!.id} order by ts`,
    );
    // About one a second for 30 s (the first tick only sets the baseline; the machine may be loaded).
    expect(rows.length).toBeGreaterThanOrEqual(20);
    const broken = rows
      .slice(1)
      .map((row, index) => ({
        at: index + 1,
        gap: (row.ms - rows[index]!.ms) / 1000,
        interval: row.interval,
      }))
      .filter(({ gap, interval }) => Math.abs(gap - interval) > 0.05);
    expect(broken).toEqual([]);
  });
});
