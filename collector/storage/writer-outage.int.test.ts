/**
 * The database goes away under a collecting writer (a TCP proxy in front of the real Postgres is cut),
 * and a writer process is killed mid-outage: afterwards every tick's sample is stored exactly once.
 * Needs `npm run build` (the killed writer is a separate Node process running dist/).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import { queryRows } from "../../db/client.js";
import { getExecution } from "../../db/queries/executions.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import { startTcpProxy, type TcpProxy } from "../../test-support/tcp-proxy.js";
import { testExecution, testSample } from "../../test-support/writer-test-rows.js";
import { createWriter } from "./writer.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ticks stored for an execution: how many rows, how many distinct ticks, first and last tick index. */
async function storedTicks(database: TestDatabase, executionId: string, start: Date) {
  const rows = await queryRows<{ n: number; distinct_ts: number; first: number | null; last: number | null }>(
    database.handle.db,
    sql`select count(*)::int as n, count(distinct ts)::int as distinct_ts,
               min(extract(epoch from ts) - ${start.getTime() / 1000})::int as first,
               max(extract(epoch from ts) - ${start.getTime() / 1000})::int as last
        from samples where execution_id = ${executionId}`,
  );
  return rows[0]!;
}

describe("writer through a database outage", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  const spools: string[] = [];
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
    proxy = await startTcpProxy("127.0.0.1", Number(new URL(database.url).port || 5432));
  });
  afterAll(async () => {
    await proxy.close();
    await database.drop();
    for (const dir of spools) rmSync(dir, { recursive: true, force: true });
  });
  const spool = () => {
    const dir = mkdtempSync(join(tmpdir(), "rightsize-spool-outage-"));
    spools.push(dir);
    return dir;
  };

  it("one sample a second for 60 s with Postgres cut for 20 s: every tick stored exactly once", async () => {
    await proxy.restore();
    const writer = await createWriter({
      databaseUrl: proxy.url(database.url),
      spoolDir: spool(),
      spoolMaxBytes: 64 * 1024 * 1024,
      logger: silentLogger,
    });
    const execution = testExecution("outage-host");
    writer.execution(execution);
    const start = new Date(Math.floor(Date.now() / 1000) * 1000);
    const ticks = 60;
    let spooledDuringCut = 0;
    for (let tick = 0; tick < ticks; tick++) {
      if (tick === 20) await proxy.cut();
      if (tick === 40) {
        spooledDuringCut = writer.stats().spooledSamples;
        await proxy.restore();
      }
      writer.samples([testSample(execution.id, start, tick)]);
      await sleep(1000);
    }
    writer.execution({ ...execution, status: "succeeded", endedAt: new Date(), exitCode: 0 });
    await writer.close();

    const stored = await storedTicks(database, execution.id, start);
    expect(stored).toEqual({ n: ticks, distinct_ts: ticks, first: 0, last: ticks - 1 });
    const stats = writer.stats();
    // The cut really sent rows to the spool (about 20, give or take a flush), and they were replayed.
    expect(spooledDuringCut).toBeGreaterThanOrEqual(15);
    expect(stats.replayedBatches).toBeGreaterThan(0);
    expect(stats).toMatchObject({ droppedSamples: 0, spoolBytes: 0, databaseUp: true });
    expect(await getExecution(database.handle.db, execution.id)).toMatchObject({ status: "succeeded" });
  });

  it("connections cut again and again under heavy writes: no crash, every row stored once", async () => {
    // Cuts land inside COPY streams and between statements: postgres.js must neither crash the process
    // nor leave a write hanging for good (see db/copy.ts).
    await proxy.restore();
    const writer = await createWriter({
      databaseUrl: proxy.url(database.url),
      spoolDir: spool(),
      spoolMaxBytes: 256 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 100,
    });
    const execution = testExecution("flaky-host");
    const start = new Date(Math.floor(Date.now() / 1000) * 1000);
    let fed = 0;
    const feeder = setInterval(() => {
      writer.samples(Array.from({ length: 200 }, (_, index) => testSample(execution.id, start, fed + index)));
      fed += 200;
    }, 20);
    let cuts = 0;
    const cutter = setInterval(() => {
      cuts++;
      void proxy.cut().then(() => setTimeout(() => void proxy.restore(), 30));
    }, 173);
    await sleep(6_000);
    clearInterval(feeder);
    clearInterval(cutter);
    await sleep(100);
    await proxy.restore();
    // Replay is bounded per flush (new rows must not wait behind a long backlog): flush until drained.
    for (
      let round = 0;
      round < 20 && (writer.stats().spoolBytes > 0 || writer.stats().bufferedSamples > 0);
      round++
    ) {
      await writer.flush();
    }
    await writer.close();
    const stored = await storedTicks(database, execution.id, start);
    expect(cuts).toBeGreaterThan(20);
    expect(stored).toEqual({ n: fed, distinct_ts: fed, first: 0, last: fed - 1 });
    expect(writer.stats()).toMatchObject({ droppedSamples: 0, spoolBytes: 0 });
  });

  it("a writer process killed mid-outage leaves its spool; the next writer replays it once", async () => {
    const dist = fileURLToPath(new URL("../../dist/", import.meta.url));
    expect(existsSync(join(dist, "collector/storage/writer.js")), "run `npm run build` first").toBe(true);
    await proxy.restore();
    const spoolDir = spool();
    const execution = testExecution("restart-host");
    const start = new Date(Math.floor(Date.now() / 1000) * 1000);
    const script = `
      import { createWriter } from ${JSON.stringify(join(dist, "collector/storage/writer.js"))};
      import { testSample } from ${JSON.stringify(join(dist, "test-support/writer-test-rows.js"))};
      import { silentLogger } from ${JSON.stringify(join(dist, "common/logger.js"))};
      const execution = JSON.parse(process.env.EXECUTION);
      execution.startedAt = new Date(execution.startedAt);
      const writer = await createWriter({ databaseUrl: process.env.DB, spoolDir: process.env.SPOOL,
        spoolMaxBytes: 64 * 1024 * 1024, logger: silentLogger, flushIntervalMs: 100 });
      writer.execution(execution);
      const start = new Date(Number(process.env.START));
      let tick = 0;
      setInterval(async () => {
        const mine = tick++;
        writer.samples([testSample(execution.id, start, mine)]);
        await writer.flush();
        process.stdout.write(\`flushed \${mine + 1} up=\${writer.stats().databaseUp}\\n\`);
      }, 50);
    `;
    const child: ChildProcess = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        ...process.env,
        DB: proxy.url(database.url),
        SPOOL: spoolDir,
        START: String(start.getTime()),
        EXECUTION: JSON.stringify(execution),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let flushed = 0;
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const all = [...output.matchAll(/flushed (\d+)/g)];
      flushed = Number(all.at(-1)?.[1] ?? 0);
    });
    const waitFor = async (condition: () => boolean, what: string) => {
      for (let waited = 0; !condition(); waited += 50) {
        if (waited > 30_000)
          throw new Error(`timed out waiting for ${what}; child said: ${output.slice(-500)}`);
        await sleep(50);
      }
    };
    await waitFor(() => flushed >= 10, "the first 10 ticks through the database");
    expect(output).toContain("up=true");
    await proxy.cut();
    const atCut = flushed;
    await waitFor(() => flushed >= atCut + 30, "30 ticks into the spool");
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const acknowledged = flushed;
    const before = await storedTicks(database, execution.id, start);
    expect(before.n).toBeLessThan(acknowledged);

    await proxy.restore();
    const next = await createWriter({
      databaseUrl: proxy.url(database.url),
      spoolDir,
      spoolMaxBytes: 64 * 1024 * 1024,
      logger: silentLogger,
    });
    await next.flush();
    await next.close();
    const after = await storedTicks(database, execution.id, start);
    // Every tick the dead process had flushed (to the database or the spool) is stored, once, no gaps.
    expect(after.n).toBeGreaterThanOrEqual(acknowledged);
    expect(after).toEqual({ n: after.n, distinct_ts: after.n, first: 0, last: after.n - 1 });
    expect(next.stats().replayedBatches).toBeGreaterThan(0);
    expect(next.stats().spoolBytes).toBe(0);
  });
});
