import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engines, type TestDatabase } from "../../test-support/databases.js";
import { summarizeRuns } from "./analysis.js";
import { upsertExecution } from "./executions.js";
import { insertSamples, type NewSample } from "./samples.js";
import { loadTimelines } from "./timelines.js";

const GiB = 1024 ** 3;
const windowEnd = new Date("2026-11-21T02:00:00Z");
const window = { start: new Date(windowEnd.getTime() - 14 * 86_400_000), end: windowEnd };

interface RunShape {
  task: string;
  runId: string;
  startedAt: Date;
  seconds: number;
  rss: number;
  /** Samples without the wall-clock columns (written before the collector filled them). */
  threadTimeOnly?: boolean;
  /** A one-second CPU peak at this second. */
  peakAt?: number;
}

async function addRun(db: TestDatabase["handle"]["db"], shape: RunShape): Promise<string> {
  const id = randomUUID();
  await upsertExecution(db, {
    id,
    orchestrator: "airflow",
    pipeline: "etl",
    task: shape.task,
    runId: shape.runId,
    hostId: "worker-1",
    attribution: "env",
    startedAt: shape.startedAt,
    endedAt: new Date(shape.startedAt.getTime() + shape.seconds * 1000),
    status: "succeeded",
    requestCpuCores: 2,
    requestMemoryBytes: 4 * GiB,
    endpoints: [
      { endpoint: "db.internal:5432", waitSeconds: 3 },
      { endpoint: "s3.amazonaws.com:443", waitSeconds: 9 },
    ],
  });
  const rows: NewSample[] = [];
  for (let second = 1; second <= shape.seconds; second++) {
    const cores = second === shape.peakAt ? 1.9 : 0.5;
    rows.push({
      executionId: id,
      ts: new Date(shape.startedAt.getTime() + second * 1000),
      intervalSeconds: 1,
      cpuCores: cores,
      rssBytes: second === shape.seconds ? shape.rss : Math.round(shape.rss / 2),
      // Thread-time: two threads, one on a CPU, one on the network, for every tick.
      onCpuSeconds: 1,
      netWaitSeconds: 1,
      cpuWaitSeconds: 0,
      diskWaitSeconds: 0,
      childWaitSeconds: 0,
      idleSeconds: 0,
      ...(shape.threadTimeOnly
        ? {}
        : {
            wallOnCpuSeconds: 0.75,
            wallCpuWaitSeconds: 0,
            wallDiskWaitSeconds: 0,
            wallNetWaitSeconds: 0.25,
            wallChildWaitSeconds: 0,
            wallIdleSeconds: 0,
          }),
    });
  }
  await insertSamples(db, rows);
  return id;
}

describe.each(engines)("run timelines on $name", ({ create }) => {
  let database: TestDatabase;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    database = await create();
    const { db } = database.handle;
    const day = (n: number) => new Date(Date.UTC(2026, 10, n, 2));
    ids.oldBig = await addRun(db, {
      task: "load",
      runId: "r1",
      startedAt: day(15),
      seconds: 600,
      rss: 3 * GiB,
      peakAt: 317,
    });
    ids.middle = await addRun(db, { task: "load", runId: "r2", startedAt: day(16), seconds: 90, rss: GiB });
    ids.latest = await addRun(db, {
      task: "load",
      runId: "r3",
      startedAt: day(20),
      seconds: 20,
      rss: GiB,
      threadTimeOnly: true,
    });
    ids.only = await addRun(db, { task: "report", runId: "r1", startedAt: day(19), seconds: 100, rss: GiB });
    // Outside the window: never chosen.
    await addRun(db, { task: "load", runId: "r0", startedAt: day(1), seconds: 60, rss: 9 * GiB });
    await summarizeRuns(db, { endedFrom: window.start, endedBy: window.end });
  });
  afterAll(async () => {
    await database.drop();
  });

  it("chooses each task's latest and worst execution in one read, bucketed, peaks kept", async () => {
    const byTask = await loadTimelines(database.handle.db, window, 40);
    expect([...byTask.keys()].sort()).toEqual(["airflow/etl/load", "airflow/etl/report"]);

    const [latest, worst] = byTask.get("airflow/etl/load")!;
    expect(latest).toMatchObject({ executionId: ids.latest, latest: true, worst: false, runId: "r3" });
    expect(worst).toMatchObject({ executionId: ids.oldBig, latest: false, worst: true, runId: "r1" });

    // 600 one-second ticks into 40 buckets of 15 s: every tick counted once, the one-second peak kept.
    expect(worst!.bucketCount).toBe(40);
    expect(worst!.buckets).toHaveLength(40);
    expect(worst!.buckets.reduce((sum, bucket) => sum + bucket.ticks, 0)).toBe(600);
    expect(Math.max(...worst!.buckets.map((bucket) => bucket.cpuMax ?? 0))).toBeCloseTo(1.9, 5);
    expect(worst!.buckets.filter((bucket) => (bucket.cpuMax ?? 0) > 1)).toHaveLength(1);
    expect(Math.max(...worst!.buckets.map((bucket) => bucket.rssMax ?? 0))).toBe(3 * GiB);
    // Wall-clock columns: three quarters on a CPU, a quarter on the network.
    const states = worst!.buckets[0]!.states;
    expect(states.cpu / (states.cpu + states.networkWait)).toBeCloseTo(0.75, 5);
    expect(worst!.threadTimeTicks).toBe(0);
    expect(worst!.topEndpoint).toBe("s3.amazonaws.com:443");
    expect(worst!.requestCores).toBe(2);

    // A 20-second run gets a bucket per second; without wall-clock columns the thread-time split is
    // normalised per tick: half on a CPU, half on the network.
    expect(latest!.bucketCount).toBe(20);
    expect(latest!.threadTimeTicks).toBe(20);
    const fallback = latest!.buckets[5]!.states;
    expect(fallback.cpu).toBeCloseTo(0.5, 5);
    expect(fallback.networkWait).toBeCloseTo(0.5, 5);

    // One run only: it is both the latest and the worst, and comes once.
    const only = byTask.get("airflow/etl/report")!;
    expect(only).toHaveLength(1);
    expect(only[0]).toMatchObject({ executionId: ids.only, latest: true, worst: true });
  });
});
