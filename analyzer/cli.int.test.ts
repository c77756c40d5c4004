/**
 * The analyzer's commands as a user runs them (the built CLI, real processes): `analyze --json` on the
 * embedded database, `analyze --enqueue` through a real worker and Redis, `schedule` against the real
 * Redis, and the one-line exit-2 answers to bad flags.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analysisDocumentSchema } from "../common/analysis-document.js";
import { openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { cliPath, runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { redisUrl } from "../test-support/services.js";
import { connect, QUEUE_NAME } from "./jobs.js";
import { seedTasks } from "../test-support/analyzer-fixtures.js";

const windowEnd = "2026-11-20T02:00:00.000Z";
const folder = mkdtempSync(join(tmpdir(), "rightsize-analyze-cli-"));
const pgliteUrl = join(folder, "db");
const prefix = `rightsize-test-${randomBytes(4).toString("hex")}`;
const noRedis = {
  REDIS_URL: "",
  RIGHTSIZE_QUEUE_PREFIX: prefix,
  RIGHTSIZE_REPORTS_DIR: join(folder, "reports"),
};

beforeAll(async () => {
  const handle = await openDatabase(pgliteUrl);
  await migrateDatabase(handle);
  await seedTasks(handle.db, { tasks: 10, runsPerTask: 4, ticksPerRun: 20, windowEnd: new Date(windowEnd) });
  await handle.close();
});

afterAll(async () => {
  const connection = connect(redisUrl);
  const queue = new Queue(QUEUE_NAME, { connection, prefix });
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
  rmSync(folder, { recursive: true, force: true });
});

describe("rightsize analyze", () => {
  it("writes the analysis document, valid against the contract, from the embedded database", async () => {
    const file = join(folder, "analysis.json");
    const result = await runCli(["analyze", "--db", pgliteUrl, "--window-end", windowEnd, "--json", file], {
      env: noRedis,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/analyzed 10 tasks over 14 days ending 2026-11-20T02:00:00.000Z/);
    const document = analysisDocumentSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    expect(document.tasks).toHaveLength(10);
    expect(document.windowEnd).toBe(windowEnd);
    expect(document.pricing).toEqual({ cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 });
    expect(document.tasks.every((task) => task.runs === 4)).toBe(true);
  });

  it("a window that ends before every run analyzes nothing and says so", async () => {
    const result = await runCli(["analyze", "--db", pgliteUrl, "--window-end", "2026-10-01T00:00:00Z"], {
      env: noRedis,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /analyzed 0 tasks over 14 days .*\nNo task execution ended within the 14 days before 2026-10-01T00:00:00.000Z: 40 ended after the window's end/,
    );
  });

  it("bad flags exit 2 with one line naming the flag", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["analyze", "--window", "soon"], /--window.*expected a duration/],
      [["analyze", "--window-end", "yesterday"], /--window-end.*ISO-8601/],
      [["analyze", "--enqueue"], /--enqueue needs a Redis/],
      [["worker"], /worker needs a Redis/],
      [["schedule"], /schedule needs a Redis/],
      [["schedule", "--redis", redisUrl, "--cron", "at two"], /--cron.*cron pattern/],
      [["schedule", "--redis", redisUrl, "--tz", "Mars/Olympus"], /--tz.*IANA time zone/],
    ];
    // Concurrently: each is a whole CLI start-up, and they share nothing.
    const results = await Promise.all(
      cases.map(([args]) => runCli([...args, "--db", pgliteUrl], { env: noRedis })),
    );
    results.forEach((result, index) => {
      const [args, message] = cases[index]!;
      expect([args, result.code]).toEqual([args, 2]);
      expect(result.stderr.trim().split("\n")[0]).toMatch(message);
    });
  });
});

describe("rightsize schedule", () => {
  it("registers the nightly and maintenance schedulers and prints when they fire next", async () => {
    const result = await runCli(
      ["schedule", "--redis", redisUrl, "--cron", "0 3 * * *", "--tz", "Europe/Berlin"],
      {
        env: noRedis,
      },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    // 03:00 in Berlin is 01:00 or 02:00 UTC depending on summer time.
    expect(result.stdout).toMatch(
      /nightly analysis: '0 3 \* \* \*' \(Europe\/Berlin\), next \d{4}-\d\d-\d\dT0[12]:00:00.000Z/,
    );
    expect(result.stdout).toMatch(/partition maintenance: '17 \* \* \* \*' \(UTC\), next .*T\d\d:17:00.000Z/);
    expect(result.stdout).toMatch(/run summary catch-up: '47 \* \* \* \*' \(UTC\), next .*T\d\d:47:00.000Z/);
    const connection = connect(redisUrl);
    const queue = new Queue(QUEUE_NAME, { connection, prefix });
    try {
      const again = await runCli(["schedule", "--redis", redisUrl], { env: noRedis });
      expect(again.code).toBe(0);
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((scheduler) => [scheduler.key, scheduler.pattern, scheduler.tz]).sort()).toEqual([
        ["maintain-partitions", "17 * * * *", "UTC"],
        ["nightly", "0 2 * * *", "UTC"],
        ["summarize-runs", "47 * * * *", "UTC"],
      ]);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});

describe("rightsize analyze --enqueue", () => {
  let database: TestDatabase;
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
    await seedTasks(database.handle.db, {
      tasks: 10,
      runsPerTask: 4,
      ticksPerRun: 20,
      windowEnd: new Date(windowEnd),
    });
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill("SIGKILL");
    await database?.drop();
  });

  it("goes through the queue and a worker, and gives what inline gives", async () => {
    const env = { ...noRedis, REDIS_URL: redisUrl };
    worker = spawn(process.execPath, [cliPath, "worker", "--db", database.url], {
      env: { ...process.env, LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const queued = join(folder, "queued.json");
    const viaQueue = await runCli(
      [
        "analyze",
        "--db",
        database.url,
        "--enqueue",
        "--window-end",
        windowEnd,
        "--json",
        queued,
        "--timeout",
        "60s",
      ],
      { env },
    );
    expect(viaQueue.stderr).toBe("");
    expect(viaQueue.code).toBe(0);
    expect(viaQueue.stdout).toMatch(/analyzed 10 tasks through the queue/);
    const inlineFile = join(folder, "inline.json");
    const inline = await runCli(
      ["analyze", "--db", database.url, "--window-end", windowEnd, "--json", inlineFile],
      {
        env,
      },
    );
    expect(inline.code).toBe(0);
    const read = (file: string) => ({ ...JSON.parse(readFileSync(file, "utf8")), generatedAt: "(any)" });
    expect(read(queued)).toEqual(read(inlineFile));
    worker.kill("SIGTERM");
    await new Promise((done) => worker!.once("exit", done));
    expect(worker.exitCode).toBe(0);
  });
});

describe("a Redis restart without persistence", () => {
  let database: TestDatabase;
  let worker: ChildProcess | undefined;
  const ownPrefix = `rightsize-test-${randomBytes(4).toString("hex")}`;
  const env = { ...noRedis, REDIS_URL: redisUrl, RIGHTSIZE_QUEUE_PREFIX: ownPrefix };
  const connection = connect(redisUrl);
  const queue = new Queue(QUEUE_NAME, { connection, prefix: ownPrefix });
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill("SIGKILL");
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
    await database?.drop();
  });

  /** What FLUSHALL does to this test's keys, and only to them: other tests share the Redis. */
  async function forgetPrefix(): Promise<number> {
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await connection.scan(cursor, "MATCH", `${ownPrefix}:*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) deleted += await connection.del(...keys);
    } while (cursor !== "0");
    return deleted;
  }

  it("a worker registers the lost schedulers again and logs it; status shows the next nightly fire time", async () => {
    const unscheduled = await runCli(["status", "--db", database.url], { env });
    expect(unscheduled.stdout).toMatch(/nightly +not scheduled in Redis: run `rightsize schedule`/);
    const scheduled = await runCli(["schedule", "--cron", "30 3 * * *", "--tz", "Europe/Berlin"], { env });
    expect(scheduled.code).toBe(0);
    const before = await runCli(["status", "--db", database.url], { env });
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(
      /nightly +next \d{4}-\d\d-\d\dT0[12]:30:00.000Z \('30 3 \* \* \*' Europe\/Berlin\)/,
    );

    worker = spawn(
      process.execPath,
      [cliPath, "worker", "--db", database.url, "--scheduler-check", "500ms"],
      {
        env: { ...process.env, LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let log = "";
    worker.stderr!.on("data", (chunk) => {
      log += chunk;
    });
    await new Promise<void>((ready, failed) => {
      worker!.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("worker ready")) ready();
      });
      worker!.once("exit", (code) => failed(new Error(`worker exited ${code}: ${log}`)));
    });
    // The worker has seen the schedulers once its first check logged them.
    const watching = Date.now() + 30_000;
    while (!/watching job schedulers.*nightly/.test(log) && Date.now() < watching) {
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(log).toMatch(/watching job schedulers/);
    // The worker checks every 500 ms, so it may restore them at once: the log below proves it found
    // them missing.
    expect(await forgetPrefix()).toBeGreaterThan(0);

    const deadline = Date.now() + 30_000;
    let restored: Array<[string, string | undefined, string | undefined]> = [];
    while (Date.now() < deadline) {
      restored = (await queue.getJobSchedulers())
        .map((scheduler): [string, string | undefined, string | undefined] => [
          scheduler.key,
          scheduler.pattern,
          scheduler.tz,
        ])
        .sort();
      if (restored.length === 3) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    expect(restored).toEqual([
      ["maintain-partitions", "17 * * * *", "UTC"],
      ["nightly", "30 3 * * *", "Europe/Berlin"],
      ["summarize-runs", "47 * * * *", "UTC"],
    ]);
    expect(log).toMatch(/job scheduler missing from Redis .*registered again/);
    const after = await runCli(["status", "--db", database.url], { env });
    expect(after.stdout).toMatch(/nightly +next \d{4}-\d\d-\d\dT0[12]:30:00.000Z/);

    worker.kill("SIGTERM");
    await new Promise((done) => worker!.once("exit", done));
    expect(worker.exitCode).toBe(0);
  });
});
