/**
 * The inline night on both engines: seeded executions through the real SQL give the classes and
 * recommendations each seeded behaviour was built for, the document passes the contract, and computing
 * the same night twice changes no row.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnalysisDocument, analysisDocumentSchema } from "../common/analysis-document.js";
import { loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { MiB } from "../common/units.js";
import { queryRows } from "../db/client.js";
import { loadAnalysisDocument } from "../db/queries/profiles.js";
import { engines, type TestDatabase } from "../test-support/databases.js";
import { runNightInline } from "./nightly.js";
import { seededTaskKey, seedTasks } from "../test-support/analyzer-fixtures.js";

const windowEnd = new Date("2026-11-20T02:00:00Z");
const expectedClass: Record<string, string> = {
  cpu: "cpu",
  "network-wait": "network-wait",
  "disk-io": "disk-io",
  idle: "idle",
  "cpu-contention": "cpu-contention",
  "cpu-throttled": "cpu-throttled",
  memory: "memory",
  "single-threaded": "cpu",
  balanced: "balanced",
  "no-request": "cpu",
};

async function rowCounts(database: TestDatabase) {
  const [row] = await queryRows<{ profiles: number; recommendations: number; summaries: number }>(
    database.handle.db,
    sql`select (select count(*) from task_profiles)::int as profiles,
               (select count(*) from recommendations)::int as recommendations,
               (select count(*) from run_summaries)::int as summaries`,
  );
  return row;
}

describe.each(engines)("inline night on $name", ({ create }) => {
  let database: TestDatabase;
  let document: AnalysisDocument;
  const config = loadConfig({ env: {} });

  beforeAll(async () => {
    database = await create();
    await seedTasks(database.handle.db, { tasks: 10, runsPerTask: 8, ticksPerRun: 40, windowEnd });
    const result = await runNightInline({
      db: database.handle.db,
      config,
      logger: silentLogger,
      night: { windowEnd, windowDays: 14 },
    });
    expect(result.failed).toEqual([]);
    document = result.document!;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("classifies every seeded behaviour as built and fits the contract", () => {
    expect(analysisDocumentSchema.safeParse(document).success).toBe(true);
    expect(document.tasks).toHaveLength(10);
    for (let index = 0; index < 10; index++) {
      const key = seededTaskKey(index);
      const task = document.tasks.find((entry) => entry.task === key.task)!;
      expect(task, key.task).toBeDefined();
      expect([key.kind, task.bottleneck]).toEqual([key.kind, expectedClass[key.kind]]);
      expect(task.runs).toBe(8);
      expect(task.evidence.length).toBeGreaterThan(0);
    }
  });

  it("computes per-run and per-task figures in SQL", () => {
    const single = document.tasks.find((entry) => entry.task === seededTaskKey(7).task)!;
    // Seeded cores are 0.9 + (run*7 + tick*13 mod 10)/100: between 0.90 and 0.99.
    expect(single.cpu.max).toBeCloseTo(0.99, 5);
    expect(single.cpu.p50).toBeGreaterThanOrEqual(0.9);
    expect(single.durationSeconds.p50).toBe(40);
    expect(single.cpu.requestCores).toBe(4);
    expect(single.cpu.requestSource).toBe("flag");
    expect(single.recommendation.cpuCores).toBe(1);
    expect(single.recommendation.severity).toBe("critical");
    expect(single.recommendation.confidence).toBe("high");
    expect(single.recommendation.monthlySavingsUsd).toBeGreaterThan(0);
    const memory = document.tasks.find((entry) => entry.task === seededTaskKey(6).task)!;
    expect(memory.memory.oomKills).toBe(1);
    // VPA rule after an OOM kill at a 512 MiB limit: max(512 + 100, 512 × 1.2) MiB, up to 64 MiB steps.
    expect(memory.recommendation.memoryBytes).toBe(640 * MiB);
    const noRequest = document.tasks.find((entry) => entry.task === seededTaskKey(9).task)!;
    expect(noRequest.cpu.requestCores).toBeNull();
    expect(noRequest.recommendation.monthlySavingsUsd).toBeNull();
    expect(noRequest.recommendation.reason).toMatch(/unknown/);
    const network = document.tasks.find((entry) => entry.task === seededTaskKey(1).task)!;
    expect(network.evidence[0]).toMatch(/127\.0\.0\.1:5432/);
    const throttled = document.tasks.find((entry) => entry.task === seededTaskKey(5).task)!;
    expect(throttled.cpu.throttledShare).toBeCloseTo(0.3, 5);
    expect(throttled.recommendation.cpuCores).toBe(1.25);
  });

  it("computes the same night twice without adding or changing rows", async () => {
    const before = await rowCounts(database);
    // One summary per execution, made once.
    expect(before).toEqual({ profiles: 10, recommendations: 10, summaries: 80 });
    await runNightInline({
      db: database.handle.db,
      config,
      logger: silentLogger,
      night: { windowEnd, windowDays: 14 },
    });
    expect(await rowCounts(database)).toEqual(before);
    const again = await loadAnalysisDocument(database.handle.db, windowEnd);
    expect({ ...again, generatedAt: "" }).toEqual({ ...document, generatedAt: "" });
  });
});
