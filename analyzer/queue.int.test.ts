/**
 * The nightly flow through the real Redis with real worker processes (`rightsize worker`, built dist/):
 * 50 tasks × 10 runs in the real Postgres; two workers give exactly the inline result; a worker killed
 * in the middle of a job is replaced and the night still completes with the same result; running the
 * night again leaves the row counts unchanged; SIGTERM drains and exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { queryRows } from "../db/client.js";
import { listPartitions } from "../db/queries/partitions.js";
import { loadAnalysisDocument } from "../db/queries/profiles.js";
import { cliPath } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { redisUrl } from "../test-support/services.js";
import { connect, enqueueNight, QUEUE_NAME } from "./jobs.js";
import { runNightInline } from "./nightly.js";
import { seedTasks } from "../test-support/analyzer-fixtures.js";

const windowEnd = new Date("2026-11-20T02:00:00Z");
const night = { windowEnd, windowDays: 14 };
const prefix = `rightsize-test-${randomBytes(4).toString("hex")}`;

let database: TestDatabase;
let inline: AnalysisDocument;
let reportsDir: string;
const connection = connect(redisUrl);
const queue = new Queue(QUEUE_NAME, { connection, prefix });
const workers: ChildProcess[] = [];

function startWorker(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [cliPath, "worker", "--db", database.url, "--redis", redisUrl, "--lock-duration", "2s"],
    {
      env: {
        ...process.env,
        LOG_LEVEL: "warn",
        RIGHTSIZE_QUEUE_PREFIX: prefix,
        RIGHTSIZE_REPORTS_DIR: reportsDir,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  workers.push(child);
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("worker ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code} before it was ready: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function waitForCompletion(jobId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await queue.getJobState(jobId);
    if (state === "completed") return;
    if (state === "failed") throw new Error(`${jobId} failed: ${(await queue.getJob(jobId))?.failedReason}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${jobId} did not complete within ${timeoutMs} ms`);
}

async function counts() {
  const [row] = await queryRows<{ profiles: number; recommendations: number }>(
    database.handle.db,
    sql`select (select count(*) from task_profiles)::int as profiles,
               (select count(*) from recommendations)::int as recommendations`,
  );
  return row;
}

async function forgetResults(): Promise<void> {
  await database.handle.db.execute(sql`delete from task_profiles`);
  await database.handle.db.execute(sql`delete from recommendations`);
  // Summaries too: the flow must make its own, not reuse the inline night's.
  await database.handle.db.execute(sql`delete from run_summaries`);
}

/** The document minus the moment it was computed, which differs between any two runs by design. */
function comparable(document: AnalysisDocument | undefined) {
  expect(document).toBeDefined();
  return { ...document!, generatedAt: "(any)" };
}

beforeAll(async () => {
  reportsDir = mkdtempSync(join(tmpdir(), "rightsize-reports-"));
  database = await createPostgresTestDatabase();
  await seedTasks(database.handle.db, { tasks: 50, runsPerTask: 10, ticksPerRun: 30, windowEnd });
  const config = loadConfig({ env: {} });
  const result = await runNightInline({ db: database.handle.db, config, logger: silentLogger, night });
  expect(result.failed).toEqual([]);
  inline = result.document!;
  expect(inline.tasks).toHaveLength(50);
});

afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
  await database?.drop();
  rmSync(reportsDir, { recursive: true, force: true });
});

describe("nightly flow on BullMQ", () => {
  it("two worker processes give exactly the inline result, and SIGTERM drains them", async () => {
    await forgetResults();
    const pair = await Promise.all([startWorker(), startWorker()]);
    const { publishJobId } = await enqueueNight(queue, night);
    await waitForCompletion(publishJobId);
    expect(await counts()).toEqual({ profiles: 50, recommendations: 50 });
    expect(comparable(await loadAnalysisDocument(database.handle.db, windowEnd))).toEqual(comparable(inline));
    // Both processes took part: the children record which worker ran them.
    const children = await queue.getJobs(["completed"], 0, 200);
    const names = new Set(
      children.filter((job) => job.name === "analyze-tasks").map((job) => job.processedBy),
    );
    expect(names.size).toBe(2);
    // The publish parent ran the reports room's publisher.
    expect(readdirSync(reportsDir)).toEqual(
      expect.arrayContaining(["rightsize-2026-11-20.html", "rightsize-2026-11-20.md"]),
    );
    for (const child of pair) child.kill("SIGTERM");
    expect(await Promise.all(pair.map(exited))).toEqual([0, 0]);
  });

  it("a worker killed mid-job is replaced and the night completes with the same result", async () => {
    await forgetResults();
    // Hold the profiles table so the first worker's first task blocks inside its write: killed there, it
    // is certainly in the middle of the flow.
    const blocker = postgres(database.url, { max: 1, onnotice: () => {} });
    const reserved = await blocker.reserve();
    await reserved`begin`;
    await reserved`lock table task_profiles in exclusive mode`;
    const first = await startWorker({ RIGHTSIZE_CONCURRENCY: "1" });
    const { publishJobId } = await enqueueNight(queue, night);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [waiting] = await reserved<{ n: number }[]>`
        select count(*)::int as n from pg_locks where not granted and relation = 'task_profiles'::regclass`;
      if ((waiting?.n ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error("the worker never reached the profiles table");
      await new Promise((done) => setTimeout(done, 50));
    }
    first.kill("SIGKILL");
    await exited(first);
    await reserved`rollback`;
    reserved.release();
    await blocker.end();
    expect((await counts())?.profiles).toBe(0);
    expect(await queue.getJobState(publishJobId)).not.toBe("completed");
    const second = await startWorker();
    await waitForCompletion(publishJobId);
    expect(await counts()).toEqual({ profiles: 50, recommendations: 50 });
    expect(comparable(await loadAnalysisDocument(database.handle.db, windowEnd))).toEqual(comparable(inline));
    second.kill("SIGTERM");
    expect(await exited(second)).toBe(0);
  });

  it("running the same night again leaves the row counts unchanged; partition maintenance runs as a job", async () => {
    const before = await counts();
    const worker = await startWorker();
    const { publishJobId } = await enqueueNight(queue, night);
    await waitForCompletion(publishJobId);
    expect(await counts()).toEqual(before);
    expect(comparable(await loadAnalysisDocument(database.handle.db, windowEnd))).toEqual(comparable(inline));

    // Partition maintenance is a job too: a missing partition ahead is made again.
    const ahead = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");
    await database.handle.db.execute(sql.raw(`drop table samples_p${ahead}`));
    expect(await listPartitions(database.handle.db)).not.toContain(`samples_p${ahead}`);
    const maintenance = await queue.add("maintain-partitions", {}, { jobId: `maintenance-${prefix}` });
    await waitForCompletion(maintenance.id!);
    expect(await listPartitions(database.handle.db)).toContain(`samples_p${ahead}`);

    worker.kill("SIGTERM");
    expect(await exited(worker)).toBe(0);
  });
});
