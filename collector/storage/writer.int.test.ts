import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getTableColumns, sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import { openDatabase, queryRows } from "../../db/client.js";
import { getExecution } from "../../db/queries/executions.js";
import { loadHostSamples } from "../../db/queries/host-samples.js";
import { getHost } from "../../db/queries/hosts.js";
import { listProcesses } from "../../db/queries/processes.js";
import { countSamples, ingestSamples, listSamples, type NewSample } from "../../db/queries/samples.js";
import { samples } from "../../db/schema.js";
import { createPostgresTestDatabase, engines, type TestDatabase } from "../../test-support/databases.js";
import { startTcpProxy } from "../../test-support/tcp-proxy.js";
import { testExecution, testHost, testProcess, testSample } from "../../test-support/writer-test-rows.js";
import { createWriter } from "./writer.js";

const DAY_MS = 86_400_000;

function tempSpool(): string {
  return mkdtempSync(join(tmpdir(), "rightsize-spool-"));
}

describe.each(engines)("writer round trip on $name", ({ create }) => {
  let database: TestDatabase;
  let spoolDir: string | undefined;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(async () => {
    await database.drop();
  });
  afterEach(() => {
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  it("stores hosts, executions, samples across day partitions and processes; a repeated batch lands once", async () => {
    spoolDir = tempSpool();
    const writer = await createWriter({
      databaseUrl: database.url,
      database: database.handle,
      spoolDir,
      spoolMaxBytes: 10 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 60_000,
    });
    const host = testHost();
    const execution = testExecution(host.id);
    writer.host(host);
    writer.execution(execution);
    // Ticks on both sides of a UTC midnight two days ago: partitions that maintenance did not make.
    const midnight = Math.floor((Date.now() - 2 * DAY_MS) / DAY_MS) * DAY_MS;
    const start = new Date(midnight - 3_000);
    const rows = Array.from({ length: 6 }, (_, tick) => testSample(execution.id, start, tick));
    writer.samples(rows);
    writer.processes([testProcess(execution.id, 10, start, 1.5)]);
    const hostTick = (tick: number) => ({
      hostId: host.id,
      ts: new Date(start.getTime() + tick * 1000),
      intervalSeconds: 1,
      cpuBusyCores: 1.25 + tick,
      cpuIowaitCores: 0.5,
      diskBusyShare: 0.75,
      diskReadBytes: 4096 * tick,
      diskWriteBytes: null,
    });
    writer.hostSamples([hostTick(0), hostTick(1)]);
    await writer.flush();
    const { db } = database.handle;
    // A tick counts up to a minute after the span's end, the longest tick.
    const hostRows = await loadHostSamples(db, host.id, new Date(start.getTime() - 1), start);
    expect(
      hostRows.map((row) => [row.ts.getTime(), row.cpuBusyCores, row.diskReadBytes, row.diskWriteBytes]),
    ).toEqual([
      [start.getTime(), 1.25, 0, null],
      [start.getTime() + 1000, 2.25, 4096, null],
    ]);
    expect(await getHost(db, host.id)).toMatchObject({ hostname: host.hostname, cores: 2 });
    expect(await getExecution(db, execution.id)).toMatchObject({ status: "running", endedAt: null });
    const stored = await listSamples(db, execution.id);
    expect(stored.map((row) => row.ts.getTime())).toEqual(rows.map((row) => row.ts.getTime()));
    expect(stored[2]).toMatchObject({
      cpuCores: rows[2]!.cpuCores,
      rssBytes: rows[2]!.rssBytes,
      netRxBytes: null,
    });

    // The end of the execution, the same samples again (a replay) plus one new one, newer process totals.
    const ended = new Date(start.getTime() + 10_000);
    writer.execution({ ...execution, endedAt: ended, status: "succeeded", exitCode: 0 });
    writer.samples([...rows, testSample(execution.id, start, 6)]);
    writer.processes([{ ...testProcess(execution.id, 10, start, 3.25), lastSeen: ended, exited: true }]);
    // A replayed host tick stays as stored; one the database refuses (no interval) is set aside alone.
    writer.hostSamples([
      { ...hostTick(1), cpuBusyCores: 9 },
      hostTick(2),
      { ...hostTick(3), intervalSeconds: null as never },
    ]);
    await writer.close();
    const allHostRows = await loadHostSamples(db, host.id, new Date(start.getTime() - 1), ended);
    expect(allHostRows.map((row) => row.cpuBusyCores)).toEqual([1.25, 2.25, 3.25]);
    expect(await countSamples(db, execution.id)).toBe(7);
    expect(await getExecution(db, execution.id)).toMatchObject({
      status: "succeeded",
      exitCode: 0,
      endedAt: ended,
    });
    const processes = await listProcesses(db, execution.id);
    expect(processes).toHaveLength(1);
    expect(processes[0]).toMatchObject({ cpuSeconds: 3.25, exited: true, lastSeen: ended, firstSeen: start });
    expect(writer.stats()).toMatchObject({
      writtenSamples: 13,
      duplicateSamples: 6,
      spooledBatches: 0,
      droppedSamples: 0,
      databaseUp: true,
    });
    const partitions = await queryRows<{ n: number }>(
      db,
      sql`select count(distinct tableoid)::int as n from samples where execution_id = ${execution.id}`,
    );
    expect(partitions[0]?.n).toBe(2);
  });

  it("COPY keeps every column's value: big and negative integers, reals, nulls, millisecond times", async () => {
    const id = testExecution("h1").id;
    const base = testSample(id, new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), 0);
    const odd: NewSample = {
      ...base,
      cpuCores: 1.1,
      cpuSecondsTotal: 12_345.678_901_234,
      rssBytes: 2 ** 52 + 7,
      diskReadBytes: -3,
      diskWriteBytes: 0,
      netRxBytes: null,
      threads: -2_147_483_648,
      processesAlive: 2_147_483_647,
      psiCpuSome: Number.POSITIVE_INFINITY,
      hostLoad1: null,
    };
    const second = {
      ...testSample(id, new Date(Date.UTC(2025, 11, 31, 23, 59, 59, 1)), 0),
      rssBytes: -(2 ** 40),
    };
    const { db } = database.handle;
    await ingestSamples(db, [odd, second]);
    const stored = await listSamples(db, id);
    // real columns are float4: the drivers read back the shortest decimal of the float4, which for these
    // values (at most 7 significant digits) is the value written.
    const expected = [second, odd].map((row) => {
      const copy: Record<string, unknown> = { ...row };
      for (const [property] of Object.entries(getTableColumns(samples))) copy[property] ??= null;
      return copy;
    });
    expect(stored).toEqual(expected);
  });

  it("refuses rows without a valid time at the door and stores the rest", async () => {
    spoolDir = tempSpool();
    const writer = await createWriter({
      databaseUrl: database.url,
      database: database.handle,
      spoolDir,
      spoolMaxBytes: 1024 * 1024,
      logger: silentLogger,
    });
    const execution = testExecution("h1");
    writer.execution(execution);
    const good = testSample(execution.id, new Date(), 0);
    writer.samples([good, { ...good, ts: new Date(Number.NaN) }]);
    await writer.close();
    expect(await countSamples(database.handle.db, execution.id)).toBe(1);
    expect(writer.stats().invalidSamples).toBe(1);
  });
});

describe("writer against an unreachable Postgres", () => {
  let database: TestDatabase;
  const spools: string[] = [];
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
    for (const dir of spools) rmSync(dir, { recursive: true, force: true });
  });
  const spool = () => {
    const dir = tempSpool();
    spools.push(dir);
    return dir;
  };

  it("starts while the database is down, spools, and replays once it is back", async () => {
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(database.url).port || 5432));
    await proxy.cut();
    const spoolDir = spool();
    const writer = await createWriter({
      databaseUrl: proxy.url(database.url),
      spoolDir,
      spoolMaxBytes: 10 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 100,
    });
    const execution = testExecution("h1");
    writer.execution(execution);
    const start = new Date();
    for (let tick = 0; tick < 5; tick++) {
      writer.samples([testSample(execution.id, start, tick)]);
      await writer.flush();
    }
    expect(writer.stats()).toMatchObject({ databaseUp: false, spooledSamples: 5, writtenSamples: 0 });
    expect(writer.stats().spoolBytes).toBeGreaterThan(0);
    // Retries while down do not seal a segment each: one file holds the outage.
    expect(readdirSync(spoolDir).filter((name) => name.endsWith(".spool"))).toHaveLength(1);
    await proxy.restore();
    await writer.flush();
    await writer.close();
    await proxy.close();
    expect(await countSamples(database.handle.db, execution.id)).toBe(5);
    expect(await getExecution(database.handle.db, execution.id)).toMatchObject({ status: "running" });
    expect(writer.stats()).toMatchObject({ databaseUp: true, replayedBatches: 5, spoolBytes: 0 });
    expect(readdirSync(spoolDir).filter((name) => name.endsWith(".spool"))).toEqual([]);
  });

  it("keeps writing to a slow database while each step answers, and takes one that stops answering for lost", async () => {
    const { db } = database.handle;
    // Each execution row takes 0.3 s to store (a trigger), as round trips did on a host with a load of 30:
    // a batch of 8 takes 2.4 s, over the writer's 1-s allowance, but no step takes 1 s.
    const slowRows = async (seconds: number) => {
      await db.execute(
        sql.raw(`create or replace function slow_row() returns trigger language plpgsql as $$
                 begin perform pg_sleep(${seconds}); return new; end $$`),
      );
      await db.execute(sql`drop trigger if exists slow_executions on task_executions`);
      await db.execute(
        sql`create trigger slow_executions before insert or update on task_executions
            for each row execute function slow_row()`,
      );
    };
    await slowRows(0.3);
    const writer = await createWriter({
      databaseUrl: database.url,
      spoolDir: spool(),
      spoolMaxBytes: 10 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 60_000,
      stallTimeoutMs: 1_000,
    });
    try {
      const executions = Array.from({ length: 8 }, (_, index) =>
        testExecution("slow-host", { task: `slow_${index}`, rootPid: 5_000 + index }),
      );
      for (const execution of executions) writer.execution(execution);
      await writer.flush();
      expect(writer.stats()).toMatchObject({ databaseUp: true, spooledBatches: 0 });
      for (const execution of executions) expect(await getExecution(db, execution.id)).toBeDefined();

      // One step of 1.5 s: the database is taken for lost, the batch spooled, and replayed once it answers.
      await slowRows(1.5);
      const late = testExecution("slow-host", { task: "late", rootPid: 6_000 });
      writer.execution(late);
      await writer.flush();
      expect(writer.stats()).toMatchObject({ databaseUp: false, spooledBatches: 1 });
      await db.execute(sql`drop trigger slow_executions on task_executions`);
      await writer.close();
      expect(await getExecution(db, late.id)).toMatchObject({ task: "late" });
    } finally {
      await db.execute(sql`drop trigger if exists slow_executions on task_executions`);
      await db.execute(sql`drop function if exists slow_row()`);
    }
  });

  it("with a borrowed Postgres handle that loses its connection, goes on with its own and leaves the handle open", async () => {
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(database.url).port || 5432));
    const borrowed = await openDatabase(proxy.url(database.url));
    const writer = await createWriter({
      databaseUrl: proxy.url(database.url),
      database: borrowed,
      spoolDir: spool(),
      spoolMaxBytes: 10 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 100,
    });
    const execution = testExecution("h1");
    const start = new Date();
    writer.samples([testSample(execution.id, start, 0)]);
    await writer.flush();
    await proxy.cut();
    writer.samples([testSample(execution.id, start, 1)]);
    await writer.flush();
    expect(writer.stats()).toMatchObject({ databaseUp: false, spooledSamples: 1 });
    await proxy.restore();
    writer.samples([testSample(execution.id, start, 2)]);
    await writer.flush();
    await writer.close();
    expect(await countSamples(database.handle.db, execution.id)).toBe(3);
    // Still usable by its owner: postgres.js reconnects it on the next query.
    expect(await countSamples(borrowed.db, execution.id)).toBe(3);
    await borrowed.close();
    await proxy.close();
  });

  it("a full spool drops batches, counts them, and keeps what it holds", async () => {
    const spoolDir = spool();
    const unreachable = new URL(database.url);
    unreachable.port = "9"; // discard port: nothing listens there, connects are refused at once
    const writer = await createWriter({
      databaseUrl: unreachable.toString(),
      spoolDir,
      spoolMaxBytes: 16 * 1024,
      logger: silentLogger,
    });
    const execution = testExecution("h1");
    const start = new Date();
    const fed = 60;
    for (let tick = 0; tick < fed; tick++) {
      writer.samples([testSample(execution.id, start, tick)]);
      await writer.flush();
    }
    await writer.close();
    const stats = writer.stats();
    expect(stats.droppedSamples).toBeGreaterThan(0);
    expect(stats.droppedSamples + stats.spooledSamples).toBe(fed);
    expect(stats.spoolBytes).toBeLessThanOrEqual(16 * 1024);

    const next = await createWriter({
      databaseUrl: database.url,
      spoolDir,
      spoolMaxBytes: 16 * 1024,
      logger: silentLogger,
    });
    await next.flush();
    await next.close();
    expect(await countSamples(database.handle.db, execution.id)).toBe(stats.spooledSamples);
  });

  it("skips a torn tail left by a crash and replays everything before it", async () => {
    const spoolDir = spool();
    const unreachable = new URL(database.url);
    unreachable.port = "9";
    const writer = await createWriter({
      databaseUrl: unreachable.toString(),
      spoolDir,
      spoolMaxBytes: 1024 * 1024,
      logger: silentLogger,
    });
    const execution = testExecution("h1");
    const start = new Date();
    for (let tick = 0; tick < 10; tick++) {
      writer.samples([testSample(execution.id, start, tick)]);
      await writer.flush();
    }
    await writer.close();
    const segments = readdirSync(spoolDir).filter((name) => name.endsWith(".spool"));
    expect(segments.length).toBeGreaterThan(0);
    // A write cut short: the start of a record line, no newline.
    appendFileSync(join(spoolDir, segments.at(-1)!), '0badc0de\t{"hosts":[],"executions":[],"samp');

    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
    const next = await createWriter({
      databaseUrl: database.url,
      spoolDir,
      spoolMaxBytes: 1024 * 1024,
      logger,
    });
    await next.flush();
    await next.close();
    expect(await countSamples(database.handle.db, execution.id)).toBe(10);
    const warnings = lines.map((line) => JSON.parse(line) as { msg: string; corruptLines?: number });
    expect(warnings).toContainEqual(
      expect.objectContaining({ msg: "skipped torn or corrupt spool lines", corruptLines: 1 }),
    );
    expect(readdirSync(spoolDir).filter((name) => name.endsWith(".spool"))).toEqual([]);
  });
});
