/**
 * The night's read on both engines: a task's latest runs within the window, each run's numbers and cores
 * sketch decoded from their binary form exactly (nulls included), and runs without a summary.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskKeyString } from "../../common/task-key.js";
import { engines, type TestDatabase } from "../../test-support/databases.js";
import { queryRows } from "../client.js";
import { float8ArrayFromBinary } from "./float8-binary.js";
import { loadTaskHistories } from "./task-histories.js";

const key = { orchestrator: "airflow", pipeline: "etl_daily", task: "load_orders" };
const other = { orchestrator: "prefect", pipeline: "ingest/prod", task: "__flow__" };
const sketch = Array.from({ length: 101 }, (_, index) => index / 40 + 0.1);

describe.each(engines)("task histories on $name", ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
    const { db } = database.handle;
    // Four runs of one task a day apart (the oldest outside a 3-day window), one of another task.
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
                                   started_at, ended_at, exit_code, status, request_cpu_cores,
                                   request_memory_bytes)
      values ('00000000-0000-4000-8000-000000000001', ${key.orchestrator}, ${key.pipeline}, ${key.task}, 'r1', 1,
              'h', 'env', '2026-11-17T01:00:00.123Z', '2026-11-17T01:10:00Z', 0, 'succeeded', 2, 4294967296),
             ('00000000-0000-4000-8000-000000000002', ${key.orchestrator}, ${key.pipeline}, ${key.task}, 'r2', 1,
              'h', 'env', '2026-11-19T01:00:00.123Z', '2026-11-19T01:10:00.5Z', 0, 'succeeded', 2, 4294967296),
             ('00000000-0000-4000-8000-000000000003', ${key.orchestrator}, ${key.pipeline}, ${key.task}, 'r3', 2,
              'h', 'env', '2026-11-20T01:00:00Z', '2026-11-20T01:00:30Z', null, 'failed', null, null),
             ('00000000-0000-4000-8000-000000000004', ${key.orchestrator}, ${key.pipeline}, ${key.task}, 'r4', 1,
              'h', 'env', '2026-11-20T06:00:00Z', '2026-11-20T06:20:00Z', 0, 'succeeded', 1.5, 2147483648),
             ('00000000-0000-4000-8000-000000000005', ${other.orchestrator}, ${other.pipeline}, ${other.task}, 'f1', 1,
              'h', 'env', '2026-11-20T02:00:00Z', '2026-11-20T02:01:00Z', 0, 'succeeded', null, null)`);
    await db.execute(sql`
      insert into run_summaries (execution_id, ticks, sampled_seconds, cpu_p50, cpu_p95, cpu_max, cpu_seconds,
                                 cores_quantiles, peak_rss_bytes, on_cpu_seconds, cpu_wait_seconds,
                                 disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds,
                                 wall_on_cpu_seconds, wall_idle_seconds, oom_kills, host_load_avg)
      values ('00000000-0000-4000-8000-000000000002', 600, 600.5, 0.35, 1.2, 2.6, 210.25,
              ${`{${sketch.join(",")}}`}::float8[], 734003200, 200, 10, 5, 0.125, 0, 385,
              null, null, 1, null),
             ('00000000-0000-4000-8000-000000000004', 1200, 1200, 0.1, 0.2, 0.3, 120,
              null, 104857600, 120, 0, 0, 0, 0, 1080, 118.5, 1081.5, 0, 1.75)`);
  });
  afterAll(async () => {
    await database.drop();
  });

  it("reads each task's latest runs in the window, numbers and sketch exact", async () => {
    const histories = await loadTaskHistories(database.handle.db, [key, other], {
      start: new Date("2026-11-18T00:00:00Z"),
      end: new Date("2026-11-21T00:00:00Z"),
      maxRuns: 2,
    });
    expect([...histories.keys()].sort()).toEqual([taskKeyString(key), taskKeyString(other)].sort());
    const runs = [...histories.get(taskKeyString(key))!.runs].sort((a, b) => a.runId.localeCompare(b.runId));
    // r1 started before the window; of r2, r3, r4 the two latest.
    expect(runs.map((run) => run.runId)).toEqual(["r3", "r4"]);
    const [failed, latest] = runs;
    expect(failed).toMatchObject({
      tryNumber: 2,
      exitCode: null,
      status: "failed",
      requestCpuCores: null,
      requestMemoryBytes: null,
      ticks: 0,
      cpuP95: null,
      coresQuantiles: null,
      peakRssBytes: null,
      wall: null,
      oomKills: 0,
      durationSeconds: 30,
    });
    expect(latest).toMatchObject({
      executionId: "00000000-0000-4000-8000-000000000004",
      hostId: "h",
      hostCores: null,
      startedAt: new Date("2026-11-20T06:00:00Z"),
      endedAt: new Date("2026-11-20T06:20:00Z"),
      requestCpuCores: 1.5,
      requestMemoryBytes: 2147483648,
      ticks: 1200,
      cpuSeconds: 120,
      peakRssBytes: 104857600,
      diskReadBytes: null,
      idleSeconds: 1080,
      wall: {
        onCpuSeconds: 118.5,
        cpuWaitSeconds: 0,
        diskWaitSeconds: 0,
        netWaitSeconds: 0,
        childWaitSeconds: 0,
        idleSeconds: 1081.5,
      },
      hostLoadAvg: 1.75,
    });

    const wider = await loadTaskHistories(database.handle.db, [key], {
      start: new Date("2026-11-18T00:00:00Z"),
      end: new Date("2026-11-21T00:00:00Z"),
      maxRuns: 10,
    });
    const r2 = wider.get(taskKeyString(key))!.runs.find((run) => run.runId === "r2")!;
    expect(r2).toMatchObject({
      startedAt: new Date("2026-11-19T01:00:00.123Z"),
      durationSeconds: 600.377,
      ticks: 600,
      sampledSeconds: 600.5,
      cpuP50: 0.35,
      cpuSeconds: 210.25,
      netWaitSeconds: 0.125,
      oomKills: 1,
      wall: null,
    });
    expect(r2.coresQuantiles).toEqual(sketch);
  });

  it("decodes a float8[] in binary with its nulls, and an empty one", async () => {
    const [row] = await queryRows<{ a: Uint8Array | string; e: Uint8Array | string }>(
      database.handle.db,
      sql`select array_send(array[1.5, null, -2e-300, 1e300]::float8[]) as a,
                 array_send('{}'::float8[]) as e`,
    );
    expect(float8ArrayFromBinary(row!.a)).toEqual([1.5, null, -2e-300, 1e300]);
    expect(float8ArrayFromBinary(row!.e)).toEqual([]);
  });
});
