/**
 * One refused row never takes its batch with it: identity conflicts get a defined meaning (the same root
 * merges, another process becomes the next try), values beyond a column are set aside alone, and a row
 * the database refuses during COPY is found and set aside without stalling the rows after it.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import { queryRows } from "../../db/client.js";
import { getExecution, listExecutionsOfTask, upsertExecution } from "../../db/queries/executions.js";
import { countSamples } from "../../db/queries/samples.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import { rejectedRecords, useTempDirs } from "../../test-support/spool-fixtures.js";
import { testExecution, testHost, testSample } from "../../test-support/writer-test-rows.js";
import { createWriter, type SampleWriter } from "./writer.js";

let database: TestDatabase;
const tempDir = useTempDirs("rightsize-identity-", "all");

beforeAll(async () => {
  database = await createPostgresTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function writer(): Promise<{ writer: SampleWriter; spoolDir: string }> {
  const spoolDir = tempDir();
  return {
    spoolDir,
    writer: await createWriter({
      databaseUrl: database.url,
      spoolDir,
      spoolMaxBytes: 10 * 1024 * 1024,
      logger: silentLogger,
      flushIntervalMs: 600_000,
    }),
  };
}

const setAside = (spoolDir: string) => rejectedRecords(spoolDir) as Array<Record<string, unknown[]>>;

const ticks = (executionId: string, start: Date, count: number) =>
  Array.from({ length: count }, (_, tick) => testSample(executionId, start, tick));

describe("identity conflicts", () => {
  it("another process claiming a stored identity (an unseen retry) becomes the next try; the batch's other executions are stored", async () => {
    const host = testHost();
    const runId = `manual__${Date.now()}`;
    const first = testExecution(host.id, { runId, rootPid: 100, rootStartTicks: 1_000 });
    await upsertExecution(database.handle.db, first);
    const { writer: w } = await writer();
    const retry = testExecution(host.id, { runId, rootPid: 200, rootStartTicks: 2_000 });
    const innocent = testExecution(host.id, { task: "innocent", runId });
    const start = new Date();
    w.host(host);
    w.execution(retry);
    w.execution(innocent);
    w.samples([...ticks(retry.id, start, 3), ...ticks(innocent.id, start, 4)]);
    await w.flush();
    expect(await countSamples(database.handle.db, innocent.id)).toBe(4);
    expect(await countSamples(database.handle.db, retry.id)).toBe(3);
    expect((await getExecution(database.handle.db, retry.id))?.tryNumber).toBe(2);
    // Its end, written later with the try it claimed, lands on the same row.
    w.execution({ ...retry, endedAt: new Date(), status: "succeeded", exitCode: 0 });
    await w.flush();
    expect(await getExecution(database.handle.db, retry.id)).toMatchObject({
      tryNumber: 2,
      status: "succeeded",
    });
    expect(await getExecution(database.handle.db, first.id)).toMatchObject({
      tryNumber: 1,
      status: "running",
    });
    expect(w.stats()).toMatchObject({ renumberedExecutions: 1, setAsideSamples: 0 });
    await w.close();
  });

  it("the same root process seen under a new id (collector restarted while the database was down) is merged", async () => {
    const host = testHost();
    const stored = testExecution(host.id, { rootPid: 300, rootStartTicks: 3_000 });
    await upsertExecution(database.handle.db, stored);
    const { writer: w } = await writer();
    const again = { ...stored, id: testExecution(host.id).id };
    const start = new Date();
    w.execution(again);
    w.samples(ticks(again.id, start, 5));
    await w.flush();
    expect(await countSamples(database.handle.db, stored.id)).toBe(5);
    expect(await getExecution(database.handle.db, again.id)).toBeUndefined();
    w.execution({ ...again, endedAt: new Date(), status: "succeeded", exitCode: 0 });
    await w.flush();
    expect((await getExecution(database.handle.db, stored.id))?.status).toBe("succeeded");
    await w.close();
  });

  it("run --run X twice without --try: two executions, tries 1 and 2", async () => {
    const host = testHost();
    const runId = `X-${Date.now()}`;
    const { writer: w } = await writer();
    const one = testExecution(host.id, { runId, task: "twice", rootPid: 10, rootStartTicks: 1 });
    const two = testExecution(host.id, { runId, task: "twice", rootPid: 11, rootStartTicks: 2 });
    w.execution(one);
    await w.flush();
    w.execution(two);
    await w.flush();
    const stored = await listExecutionsOfTask(database.handle.db, {
      orchestrator: one.orchestrator,
      pipeline: one.pipeline,
      task: "twice",
    });
    expect(stored.map((row) => row.tryNumber).sort()).toEqual([1, 2]);
    await w.close();
  });

  it("a try number beyond the column (RIGHTSIZE_TRY=99999999999) sets aside that execution alone", async () => {
    const host = testHost();
    const { writer: w, spoolDir } = await writer();
    const hostile = testExecution(host.id, { task: "hostile", tryNumber: 99_999_999_999 });
    const innocent = testExecution(host.id, { task: "innocent-2" });
    const start = new Date();
    w.execution(hostile);
    w.execution(innocent);
    w.samples([...ticks(hostile.id, start, 2), ...ticks(innocent.id, start, 3)]);
    await w.flush();
    expect(await countSamples(database.handle.db, innocent.id)).toBe(3);
    expect(await getExecution(database.handle.db, hostile.id)).toBeUndefined();
    expect(w.stats()).toMatchObject({ setAsideExecutions: 1, setAsideSamples: 2, spoolBytes: 0 });
    const [record] = setAside(spoolDir);
    expect(record?.executions).toHaveLength(1);
    expect(record?.samples).toHaveLength(2);
    await w.close();
  });
});

describe("data errors during COPY", () => {
  it("an in-batch duplicate tick is stored once, without a stall or a spooled batch", async () => {
    const host = testHost();
    const { writer: w } = await writer();
    const execution = testExecution(host.id);
    const start = new Date();
    const rows = ticks(execution.id, start, 3);
    w.execution(execution);
    w.samples([...rows, { ...rows[1]!, cpuCores: 9 }]);
    await w.flush();
    expect(w.stats()).toMatchObject({ databaseUp: true, spoolBytes: 0, setAsideSamples: 0 });
    expect(await countSamples(database.handle.db, execution.id)).toBe(3);
    await w.close();
  });

  it("a value beyond its column is set aside alone; the rest of the batch is stored", async () => {
    const host = testHost();
    const { writer: w, spoolDir } = await writer();
    const execution = testExecution(host.id);
    const start = new Date();
    const rows = ticks(execution.id, start, 4);
    rows[2] = { ...rows[2]!, processesAlive: 2 ** 40 };
    w.execution(execution);
    w.samples(rows);
    await w.flush();
    expect(await countSamples(database.handle.db, execution.id)).toBe(3);
    expect(w.stats()).toMatchObject({ setAsideSamples: 1, spoolBytes: 0, databaseUp: true });
    expect(setAside(spoolDir)[0]?.samples).toHaveLength(1);
    await w.close();
  });

  it("a row the database refuses during COPY (a constraint) is found by halving and set aside alone", async () => {
    await queryRows(
      database.handle.db,
      sql`alter table samples add constraint test_threads_bound check (threads is null or threads < 1000000)`,
    );
    try {
      const host = testHost();
      const { writer: w, spoolDir } = await writer();
      const execution = testExecution(host.id);
      const start = new Date();
      const rows = ticks(execution.id, start, 40);
      rows[17] = { ...rows[17]!, threads: 5_000_000 };
      w.execution(execution);
      w.samples(rows);
      await w.flush();
      expect(await countSamples(database.handle.db, execution.id)).toBe(39);
      expect(w.stats()).toMatchObject({ setAsideSamples: 1, spoolBytes: 0, databaseUp: true });
      const [record] = setAside(spoolDir);
      expect((record?.samples?.[0] as { threads: number }).threads).toBe(5_000_000);
      // The next batch goes straight in.
      w.samples(ticks(execution.id, new Date(start.getTime() + 60_000), 2));
      await w.flush();
      expect(await countSamples(database.handle.db, execution.id)).toBe(41);
      await w.close();
    } finally {
      await queryRows(database.handle.db, sql`alter table samples drop constraint test_threads_bound`);
    }
  });
});
