import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maintainDatabase, runNightInline } from "../../analyzer/nightly.js";
import { loadConfig } from "../../common/config.js";
import { createLogger } from "../../common/logger.js";
import { runCli } from "../../test-support/cli.js";
import { engines, type TestDatabase } from "../../test-support/databases.js";
import { queryRows } from "../client.js";
import { summarizeExecutions } from "./analysis.js";
import { loadRunCommands } from "./diagnoses.js";
import { upsertExecution } from "./executions.js";
import { upsertHost } from "./hosts.js";
import { listPartitions } from "./partitions.js";
import { type NewProcess, upsertProcesses } from "./processes.js";
import { insertSamples, type NewSample } from "./samples.js";
import { loadTaskHistory } from "./task-histories.js";

const DAY = 86_400_000;
const MiB = 1024 ** 2;
const now = Date.now();
const daysAgo = (days: number) => new Date(now - days * DAY);
const partitionOf = (date: Date) => `samples_p${date.toISOString().slice(0, 10).replace(/-/g, "")}`;

/** Defaults: samples 30 d, host samples 30 d, per-process rows 14 d, runs 400 d. */
const config = loadConfig({ env: {} });

type Db = TestDatabase["handle"]["db"];

/** A 60-second run of `task` started `age` days ago, with samples and the given processes. */
async function addRun(
  db: Db,
  task: string,
  age: number,
  processes: Array<{ command: string; cpuSeconds: number; rss: number }>,
  options: { samples?: boolean } = {},
): Promise<string> {
  const id = randomUUID();
  const startedAt = daysAgo(age);
  const endedAt = new Date(startedAt.getTime() + 60_000);
  await upsertExecution(db, {
    id,
    orchestrator: "airflow",
    pipeline: "etl",
    task,
    runId: `run-${age}`,
    hostId: "worker-1",
    attribution: "env",
    startedAt,
    endedAt,
    status: "succeeded",
    requestCpuCores: 1,
    requestMemoryBytes: 1024 * MiB,
  });
  if (options.samples !== false) {
    const rows: NewSample[] = Array.from({ length: 60 }, (_, index) => ({
      executionId: id,
      ts: new Date(startedAt.getTime() + (index + 1) * 1000),
      intervalSeconds: 1,
      cpuCores: 0.5,
      rssBytes: 200 * MiB,
      onCpuSeconds: 0.5,
      cpuWaitSeconds: 0,
      diskWaitSeconds: 0,
      netWaitSeconds: 0,
      childWaitSeconds: 0,
      idleSeconds: 0.5,
    }));
    await insertSamples(db, rows);
  }
  await addProcesses(db, id, startedAt, processes, 100);
  return id;
}

async function addProcesses(
  db: Db,
  executionId: string,
  startedAt: Date,
  processes: Array<{ command: string; cpuSeconds: number; rss: number }>,
  firstPid: number,
): Promise<void> {
  const rows: NewProcess[] = processes.map((process, index) => ({
    executionId,
    pid: firstPid + index,
    startTicks: 1000 + firstPid + index,
    ppid: 1,
    command: process.command,
    argv: process.command,
    firstSeen: new Date(startedAt.getTime() + index * 1000),
    lastSeen: new Date(startedAt.getTime() + (index + 5) * 1000),
    cpuSeconds: process.cpuSeconds,
    peakRssBytes: process.rss,
    readBytes: 4096,
    writeBytes: 8192,
    exited: true,
  }));
  await upsertProcesses(db, rows);
}

async function count(db: Db, table: string, where = "true"): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    db,
    sql.raw(`select count(*)::int as n from ${table} where ${where}`),
  );
  return Number(row?.n);
}

const gzip = (cpuSeconds: number) => ({ command: "gzip", cpuSeconds, rss: 3 * MiB });
const python = { command: "python", cpuSeconds: 20, rss: 300 * MiB };

describe.each(engines)("retention on $name", ({ create }) => {
  let database: TestDatabase;
  let db: Db;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    database = await create();
    db = database.handle.db;
    await upsertHost(db, { id: "worker-1", hostname: "worker-1", cores: 4 });
    // Past retention.processes, within retention.runs: its processes give way to its rollup.
    ids.old = await addRun(db, "compress", 60, [python, gzip(1), gzip(2), gzip(3)]);
    // Past retention.runs: everything about it goes.
    ids.ancient = await addRun(db, "compress", 500, [python, gzip(1)], { samples: false });
    // Within every retention: untouched.
    ids.recent = await addRun(db, "compress", 2, [python, gzip(1)]);
    // Past retention.processes with no samples, so never summarized: the retention still rolls it up.
    ids.unsampled = await addRun(db, "fetch", 60, [{ command: "curl", cpuSeconds: 0.5, rss: 8 * MiB }], {
      samples: false,
    });
    expect(await summarizeExecutions(db, [ids.old!, ids.recent!, ids.unsampled!])).toHaveLength(2);
    // A gzip stored after the run was summarized (a spool replayed late): the rollup written just before
    // the per-process rows go counts it.
    await addProcesses(db, ids.old!, daysAgo(60), [gzip(4)], 900);
    await db.execute(sql`insert into run_summaries (execution_id, ticks, sampled_seconds, on_cpu_seconds,
                           cpu_wait_seconds, disk_wait_seconds, net_wait_seconds, child_wait_seconds,
                           idle_seconds, oom_kills)
                         values (${ids.ancient}, 60, 60, 30, 0, 0, 0, 0, 30, 0)`);
    await db.execute(sql`insert into execution_commands (execution_id, command, processes, cpu_seconds,
                           peak_rss_bytes, first_seen, last_seen)
                         values (${ids.ancient}, 'gzip', 1, 1, 1, now(), now())`);
    for (const age of [40, 1])
      await db.execute(sql`insert into host_samples (host_id, ts, interval_seconds, cpu_busy_cores)
                           values ('worker-1', ${daysAgo(age).toISOString()}::timestamptz, 1, 2)`);
    for (const age of [500, 3]) {
      const windowEnd = daysAgo(age).toISOString();
      await db.execute(sql`insert into analyses (window_end, window_days, tasks)
                           values (${windowEnd}::timestamptz, 14, 1)`);
      await db.execute(sql`insert into task_profiles (orchestrator, pipeline, task, window_end, window_days,
                             runs, bottleneck, document)
                           values ('airflow', 'etl', 'compress', ${windowEnd}::timestamptz, 14, 1, 'cpu', '{}')`);
      await db.execute(sql`insert into recommendations (orchestrator, pipeline, task, window_end, cpu_cores,
                             memory_bytes, confidence, severity, reason)
                           values ('airflow', 'etl', 'compress', ${windowEnd}::timestamptz, 1, 1, 'low', 'ok', 'r')`);
      const [run] = await queryRows<{ id: number }>(
        db,
        sql`insert into report_runs (window_end, generated_at, tasks)
            values (${windowEnd}::timestamptz, ${windowEnd}::timestamptz, 1) returning id`,
      );
      await db.execute(sql`insert into report_deliveries (delivery_key, channel, status, updated_at, report_run_id)
                           values (${windowEnd}, 'email', 'sent', ${windowEnd}::timestamptz, ${run!.id})`);
    }
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("the summary rolls each run's processes up per command", async () => {
    const [rollup] = await queryRows<Record<string, unknown>>(
      db,
      sql`select processes, cpu_seconds, peak_rss_bytes::float8 as peak_rss_bytes,
                 read_bytes::float8 as read_bytes, write_bytes::float8 as write_bytes
          from execution_commands where execution_id = ${ids.old} and command = 'gzip'`,
    );
    expect(rollup).toEqual({
      processes: 3,
      cpu_seconds: 6,
      peak_rss_bytes: 3 * MiB,
      read_bytes: 3 * 4096,
      write_bytes: 3 * 8192,
    });
    expect(await count(db, "execution_commands", `execution_id = '${ids.unsampled}'`)).toBe(0);
  });

  it("drops what is past each retention and keeps the rest", async () => {
    expect(await listPartitions(db)).toContain(partitionOf(daysAgo(60)));
    const { retention } = await maintainDatabase(db, config, new Date(now));
    expect(retention).toMatchObject({
      // Every run past retention.processes, the ancient one too: the old run's 5, the unsampled run's 1
      // and the ancient run's 2, each rolled up first.
      processes: 8,
      hostSamples: 1,
      executions: 1,
      runSummaries: 1,
      // The ancient run's rollup, as written from its 2 commands just before.
      executionCommands: 2,
      analyses: 1,
      reportRuns: 1,
    });
    // Samples: the partition of 60 days ago is dropped (retention.days), the run's summary stays.
    expect(await listPartitions(db)).not.toContain(partitionOf(daysAgo(60)));
    expect(await count(db, "samples", `execution_id = '${ids.old}'`)).toBe(0);
    expect(await count(db, "samples", `execution_id = '${ids.recent}'`)).toBe(60);
    expect(await count(db, "run_summaries", `execution_id = '${ids.old}'`)).toBe(1);
    // Per-process rows: gone for the old runs, kept for the recent one.
    expect(await count(db, "execution_processes", `execution_id in ('${ids.old}', '${ids.unsampled}')`)).toBe(
      0,
    );
    expect(await count(db, "execution_processes", `execution_id = '${ids.recent}'`)).toBe(2);
    // The ancient run, with everything of it.
    for (const table of ["execution_processes", "execution_commands", "run_summaries"])
      expect(await count(db, table, `execution_id = '${ids.ancient}'`), table).toBe(0);
    expect(await count(db, "task_executions")).toBe(3);
    expect(await count(db, "host_samples")).toBe(1);
    for (const table of ["analyses", "task_profiles", "recommendations", "report_runs", "report_deliveries"])
      expect(await count(db, table), table).toBe(1);
    // A second pass finds nothing left to do.
    const again = await maintainDatabase(db, config, new Date(now));
    expect(Object.values(again.retention).every((n) => n === 0)).toBe(true);
  });

  it("an old run's per-command split reads from its rollup, late process included", async () => {
    // Pruned runs are marked; the recent one is not.
    expect(await count(db, "task_executions", "processes_pruned_at is not null")).toBe(2);
    expect(await count(db, "task_executions", `processes_pruned_at is null and id = '${ids.recent}'`)).toBe(
      1,
    );
    // A per-process row arriving after the pruning (a spool replayed that late) is not counted beside the
    // rollup that already holds the run's split.
    await addProcesses(db, ids.old!, daysAgo(60), [gzip(50)], 950);
    const commands = await loadRunCommands(db, [ids.old!, ids.unsampled!, ids.recent!]);
    expect(commands.get(ids.old!)).toEqual([
      { command: "gzip", count: 4, cpuSeconds: 10, peakRssBytes: 3 * MiB },
      { command: "python", count: 1, cpuSeconds: 20, peakRssBytes: 300 * MiB },
    ]);
    expect(commands.get(ids.unsampled!)).toEqual([
      { command: "curl", count: 1, cpuSeconds: 0.5, peakRssBytes: 8 * MiB },
    ]);
    // The recent run still reads its per-process rows.
    expect(commands.get(ids.recent!)).toEqual([
      { command: "gzip", count: 1, cpuSeconds: 1, peakRssBytes: 3 * MiB },
      { command: "python", count: 1, cpuSeconds: 20, peakRssBytes: 300 * MiB },
    ]);
    // A task's history over both: the old run's rollup and the recent run's processes added up.
    const history = await loadTaskHistory(
      db,
      { orchestrator: "airflow", pipeline: "etl", task: "compress" },
      { start: daysAgo(90), end: new Date(now), maxRuns: 100 },
    );
    expect(history.runs).toHaveLength(2);
    expect(history.processes).toEqual([
      { command: "python", count: 2, cpuSeconds: 40, peakRssBytes: 300 * MiB },
      { command: "gzip", count: 5, cpuSeconds: 11, peakRssBytes: 3 * MiB },
    ]);
  });

  it("the night's analysis of an old run shows its per-command split", async () => {
    const night = { windowEnd: daysAgo(50), windowDays: 14 };
    const result = await runNightInline({ db, config, logger: createLogger("silent", false), night });
    const task = result.document?.tasks.find((entry) => entry.task === "compress");
    expect(task?.runs).toBe(1);
    expect(task?.processes).toEqual([
      { command: "python", count: 1, cpuSeconds: 20, peakRssBytes: 300 * MiB },
      { command: "gzip", count: 4, cpuSeconds: 10, peakRssBytes: 3 * MiB },
    ]);
  });
});

describe("rightsize db maintain", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await engines[0].create();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("runs the pass, lists every retention in its help, and refuses runs kept shorter than their rows", async () => {
    const db = database.handle.db;
    await upsertHost(db, { id: "worker-1", hostname: "worker-1", cores: 4 });
    const id = await addRun(db, "compress", 30, [python, gzip(1)], { samples: false });
    const result = await runCli(["db", "maintain", "--db", database.url]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deleted: 2 process rows, 0 host samples, 0 runs/);
    expect(await count(db, "execution_commands", `execution_id = '${id}'`)).toBe(2);

    const help = await runCli(["db", "maintain", "--help"]);
    for (const setting of [
      "retention.days",
      "retention.hostSamples",
      "retention.processes",
      "retention.runs",
    ])
      expect(help.stdout).toContain(setting);

    const refused = await runCli(["db", "maintain", "--db", database.url], {
      env: { RIGHTSIZE_RETENTION_RUNS: "7d" },
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("retention.runs = 7d is shorter than retention.days = 30d");
  });
});
