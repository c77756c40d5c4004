import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engines, type TestDatabase } from "../test-support/databases.js";
import { listDeclaredRequests, replaceDeclaredRequests } from "./queries/declared-requests.js";
import {
  getExecution,
  listExecutionsOfTask,
  listOpenExecutions,
  upsertExecution,
} from "./queries/executions.js";
import { getHost, upsertHost } from "./queries/hosts.js";
import { listProcesses, upsertProcesses } from "./queries/processes.js";
import {
  latestWindowEnd,
  listRecommendations,
  listTaskProfiles,
  upsertTaskResult,
} from "./queries/profiles.js";
import { insertReportRun, latestReportRun, updateReportRun } from "./queries/report-runs.js";
import { countSamples, insertSamples, listSamples } from "./queries/samples.js";

const key = { orchestrator: "airflow", pipeline: "etl_daily", task: "load_orders" };

describe.each(engines)("query modules on $name", ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("hosts: insert, then update keeps first_seen", async () => {
    const { db } = database.handle;
    await upsertHost(db, { id: "worker-1", hostname: "worker-1", cores: 4, memoryBytes: 16 * 1024 ** 3 });
    const first = await getHost(db, "worker-1");
    await upsertHost(db, { id: "worker-1", hostname: "worker-1", cores: 8, inventory: { os: "debian" } });
    const second = await getHost(db, "worker-1");
    expect(second).toMatchObject({ cores: 8, inventory: { os: "debian" } });
    expect(second?.firstSeen).toEqual(first?.firstSeen);
  });

  it("executions: upsert by id, open ones per host, listed per task", async () => {
    const { db } = database.handle;
    const id = randomUUID();
    const started = new Date("2026-11-20T02:00:00Z");
    await upsertExecution(db, {
      id,
      ...key,
      runId: "scheduled__2026-11-20",
      tryNumber: 1,
      hostId: "worker-1",
      attribution: "airflow-argv",
      startedAt: started,
      requestCpuCores: 2,
      cpuSource: "declared",
      requestMemoryBytes: 2 * 1024 ** 3,
      memorySource: "cgroup",
    });
    expect((await listOpenExecutions(db, "worker-1")).map((row) => row.id)).toEqual([id]);
    await upsertExecution(db, {
      id,
      ...key,
      runId: "scheduled__2026-11-20",
      tryNumber: 1,
      hostId: "worker-1",
      attribution: "airflow-argv",
      startedAt: started,
      endedAt: new Date("2026-11-20T02:05:00Z"),
      exitCode: 0,
      status: "succeeded",
      endpoints: [{ endpoint: "127.0.0.1:5432", waitSeconds: 12.5 }],
    });
    expect(await listOpenExecutions(db, "worker-1")).toEqual([]);
    expect(await getExecution(db, id)).toMatchObject({ status: "succeeded", exitCode: 0, mapIndex: -1 });
    expect((await listExecutionsOfTask(db, key)).map((row) => row.id)).toEqual([id]);
  });

  it("samples: inserted once even when the same ticks come again, partitions made on demand", async () => {
    const { db } = database.handle;
    const executionId = randomUUID();
    const base = Date.now() - 3 * 86_400_000; // three days back: a partition maintenance did not make
    const rows = Array.from({ length: 5 }, (_, i) => ({
      executionId,
      ts: new Date(base + i * 1000),
      intervalSeconds: 1,
      cpuCores: 0.5 + i / 10,
      rssBytes: 100_000_000 + i,
      onCpuSeconds: 0.5,
      idleSeconds: 0.5,
      netRxBytes: null,
    }));
    await insertSamples(db, rows);
    await insertSamples(db, rows.slice(2));
    expect(await countSamples(db, executionId)).toBe(5);
    const stored = await listSamples(db, executionId);
    expect(stored.map((row) => row.rssBytes)).toEqual(rows.map((row) => row.rssBytes));
    expect(stored[0]?.netRxBytes).toBeNull();
    expect(stored[4]?.cpuCores).toBeCloseTo(0.9, 5);
  });

  it("processes: a process seen again keeps its first sighting and the larger totals, and takes its newer name", async () => {
    const { db } = database.handle;
    const executionId = randomUUID();
    const seen = new Date("2026-11-20T02:00:01Z");
    const row = {
      executionId,
      pid: 4242,
      startTicks: 123_456,
      ppid: 4200,
      // Seen right after its fork: its parent's name.
      command: "bash",
      argv: "bash -c gzip -9 orders.csv",
      firstSeen: seen,
      lastSeen: seen,
      cpuSeconds: 1.5,
      peakRssBytes: 5_000_000,
    };
    await upsertProcesses(db, [row]);
    await upsertProcesses(db, [
      {
        ...row,
        ppid: 1,
        command: "gzip",
        argv: null,
        firstSeen: new Date("2026-11-20T02:00:09Z"),
        lastSeen: new Date("2026-11-20T02:00:09Z"),
        cpuSeconds: 3,
        peakRssBytes: 4_000_000,
        exited: true,
      },
    ]);
    const [stored] = await listProcesses(db, executionId);
    expect(stored).toMatchObject({
      ppid: 1,
      command: "gzip",
      argv: null,
      cpuSeconds: 3,
      peakRssBytes: 5_000_000,
      exited: true,
      firstSeen: seen,
    });
  });

  it("declared requests: a new scan of a repository replaces the old one", async () => {
    const { db } = database.handle;
    const finding = {
      repo: "/srv/dags",
      file: "dags/etl.py",
      line: 12,
      column: 20,
      ...key,
      resource: "memory",
      kind: "request",
      raw: '"2Gi"',
      unit: "Gi",
      value: 2 * 1024 ** 3,
      pattern: "pod_override",
    };
    await replaceDeclaredRequests(db, "/srv/dags", [
      finding,
      { ...finding, resource: "cpu", raw: '"500m"', unit: "m", value: 0.5 },
    ]);
    await replaceDeclaredRequests(db, "/srv/dags", [{ ...finding, raw: '"4Gi"', value: 4 * 1024 ** 3 }]);
    const rows = await listDeclaredRequests(db, { repo: "/srv/dags" });
    expect(rows.map((row) => [row.resource, row.raw, row.value])).toEqual([
      ["memory", '"4Gi"', 4 * 1024 ** 3],
    ]);
  });

  it("profiles and recommendations: the same window computed twice overwrites", async () => {
    const { db } = database.handle;
    const windowEnd = new Date("2026-11-21T00:00:00Z");
    const recommendation = {
      ...key,
      windowEnd,
      cpuCores: 1.2,
      memoryBytes: 1024 ** 3,
      confidence: "high",
      severity: "warning",
      monthlySavingsUsd: 12.5,
      reason: "p95 uses 1.0 of 2 cores",
    };
    const profile = {
      ...key,
      windowEnd,
      windowDays: 14,
      runs: 12,
      bottleneck: "cpu",
      document: { runs: 12 },
    };
    await upsertTaskResult(db, profile, recommendation);
    await upsertTaskResult(
      db,
      { ...profile, runs: 13, document: { runs: 13 } },
      { ...recommendation, cpuCores: 1.1 },
    );
    expect(await latestWindowEnd(db)).toEqual(windowEnd);
    const profiles = await listTaskProfiles(db, windowEnd);
    expect(profiles.map((row) => [row.runs, row.document])).toEqual([[13, { runs: 13 }]]);
    const recommendations = await listRecommendations(db, windowEnd);
    expect(recommendations.map((row) => row.cpuCores)).toEqual([1.1]);
  });

  it("report runs: recorded, then updated with the email outcome", async () => {
    const { db } = database.handle;
    const id = await insertReportRun(db, {
      windowEnd: new Date("2026-11-21T00:00:00Z"),
      htmlPath: "/tmp/r.html",
      tasks: 3,
    });
    await updateReportRun(db, id, {
      emailStatus: "failed",
      emailError: "connect ECONNREFUSED 127.0.0.1:2525",
    });
    expect(await latestReportRun(db)).toMatchObject({ id, tasks: 3, emailStatus: "failed" });
  });
});
