/**
 * The fleet view on a real database: eight weeks of generated runs whose growth has a known cause (from
 * the fifth week on, load_facts reads twice the data and runs twice as long, while extract stays the
 * same), read by the fleet query on both engines and explained; then `rightsize fleet` as a process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { fleetDocumentSchema } from "../common/fleet-document.js";
import { GiB } from "../common/units.js";
import type { Db } from "../db/client.js";
import { loadFleetRuns, loadHostSizes } from "../db/queries/fleet.js";
import { storeTaskAnalysis } from "../db/queries/profiles.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, engines, type TestDatabase } from "../test-support/databases.js";
import { buildTask } from "../test-support/report-fixtures.js";
import { buildFleetDocument } from "./fleet.js";

const end = new Date("2026-12-07T00:00:00Z");
const pricing = { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237, history: [] };

/**
 * One run a day for 56 days of each task, both at 01:00 on their own host: load_facts 600 s reading
 * 10 GiB, 1,200 s reading 20 GiB from day 28 on (the extra time on disk); extract 300 s throughout. A
 * hostile pipeline name rides along to show it is escaped.
 */
async function seedWeeks(db: Db): Promise<void> {
  await db.execute(sql`
    insert into hosts (id, hostname, cores, memory_bytes)
    values ('w1', 'w1', 8, ${32 * GiB}), ('w2', 'w2', 8, ${32 * GiB})`);
  await db.execute(sql`
    insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
                                 started_at, ended_at, exit_code, status, request_cpu_cores, request_memory_bytes)
    select gen_random_uuid(), 'airflow', t.pipeline, t.task, 'scheduled__' || d, 1, t.host, 'env',
           ${end.toISOString()}::timestamptz - make_interval(days => 56 - d) + interval '1 hour',
           ${end.toISOString()}::timestamptz - make_interval(days => 56 - d) + interval '1 hour'
             + make_interval(secs => case when t.task = 'load_facts' and d >= 28 then 1200
                                          when t.task = 'load_facts' then 600 else 300 end),
           0, 'succeeded', 2, ${4 * GiB}
    from generate_series(0, 55) d
    cross join (values ('etl_daily', 'load_facts', 'w1'), ('etl_daily', 'extract', 'w2'),
                       ('x|<script>', 'steady', 'w2')) t(pipeline, task, host)`);
  await db.execute(sql`
    insert into run_summaries (execution_id, ticks, sampled_seconds, cpu_seconds, peak_rss_bytes,
                               disk_read_bytes, disk_write_bytes, on_cpu_seconds, cpu_wait_seconds,
                               disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds,
                               wall_on_cpu_seconds, wall_cpu_wait_seconds, wall_disk_wait_seconds,
                               wall_net_wait_seconds, wall_child_wait_seconds, wall_idle_seconds, oom_kills)
    select e.id, e.seconds, e.seconds, 280, ${GiB},
           case when e.task = 'load_facts' then e.seconds / 600 * ${10 * GiB} else ${GiB} end, ${GiB},
           280, 0, greatest(e.seconds - 300, 0), 0, 0, 20,
           280, 0, greatest(e.seconds - 300, 0), 0, 0, 20, 0
    from (select id, task, extract(epoch from ended_at - started_at)::float8 as seconds
          from task_executions) e`);
}

function analysis(): AnalysisDocument {
  const task = (name: string, bottleneck: "disk-io" | "cpu", cores: number, pipeline = "etl_daily") =>
    buildTask({
      pipeline,
      task: name,
      usedCores: cores * 0.8,
      peakBytes: GiB,
      recommendedCores: cores,
      // 2 GiB per recommended core: compute-optimized when CPU-bound.
      recommendedBytes: cores * 2 * GiB,
      bottleneck,
    });
  return {
    generatedAt: end.toISOString(),
    windowDays: 14,
    windowEnd: end.toISOString(),
    tasks: [
      task("load_facts", "disk-io", 1),
      task("extract", "cpu", 0.5),
      task("steady", "cpu", 0.5, "x|<script>"),
    ],
  };
}

describe.each(engines)("the fleet view on $name", ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
    await seedWeeks(database.handle.db);
  });
  afterAll(async () => {
    await database.drop();
  });

  it("reads the weeks' runs and says load_facts runs 2× longer because it reads 2× more data", async () => {
    const { db } = database.handle;
    const start = new Date(end.getTime() - 56 * 86_400_000);
    const runs = await loadFleetRuns(db, { start, end });
    expect(runs).toHaveLength(3 * 56);
    const late = runs.find(
      (run) => run.task === "load_facts" && run.startedAt > new Date("2026-12-06T00:00:00Z"),
    )!;
    expect(late).toMatchObject({
      heldSeconds: 1200,
      diskReadBytes: 20 * GiB,
      requestCpuCores: 2,
      netBytes: null,
    });
    expect(late.wall).toMatchObject({ diskWaitSeconds: 900, onCpuSeconds: 280 });
    // A run outside the window is not read.
    expect(await loadFleetRuns(db, { start: end, end: new Date(end.getTime() + 86_400_000) })).toEqual([]);

    const document = buildFleetDocument({
      runs,
      hosts: await loadHostSizes(db),
      analysis: analysis(),
      end,
      weeks: 8,
      pricing,
      generatedAt: end,
    });
    expect(fleetDocumentSchema.safeParse(document).success).toBe(true);
    const [first, second] = document.costOverTime.growers;
    expect(first).toMatchObject({ kind: "pipeline", pipeline: "etl_daily", leadingTask: "load_facts" });
    expect(first!.sentence).toMatch(
      /^etl_daily costs 1\.7× what it did 4 weeks ago \(\$[\d.]+ → \$[\d.]+ a week\): load_facts runs 2× longer because it reads 2× more data$/,
    );
    expect(second).toMatchObject({
      kind: "task",
      task: "load_facts",
      cause: { state: "diskWaitSeconds", driver: "diskReadBytes", driverRatio: 2 },
    });
    expect(second!.factors!.duration).toBeCloseTo(2, 9);
    expect(second!.factors!.runsPerDay).toBeCloseTo(1, 9);
    // Extract and the hostile pipeline did not move.
    expect(document.costOverTime.growers.filter((growth) => growth.weeklyIncreaseUsd !== 0)).toHaveLength(2);

    const groups = new Map(document.placement.groups.map((group) => [group.group, group]));
    expect(groups.get("disk-bound")).toMatchObject({ family: "storage-optimized", peakRuns: 1 });
    expect(groups.get("cpu-bound")).toMatchObject({
      family: "compute-optimized",
      peakRuns: 2,
      hostsAtPeak: 1,
    });
    // Three runs at 01:00 on two 8-core hosts fit one small worker per group.
    expect(document.placement).toMatchObject({ peakRuns: 3, hostsAtPeak: 2, workersNeededAtPeak: 2 });
    expect(document.placement.monthlySavingsUsd).toBeGreaterThan(0);
    // The default comparison: the last four weeks against the four before, the day load_facts changed.
    expect(document.costOverTime.compare).toMatchObject({
      before: { firstWeek: 1, lastWeek: 4, from: "2026-10-12T00:00:00.000Z", to: "2026-11-09T00:00:00.000Z" },
      after: { firstWeek: 5, lastWeek: 8, from: "2026-11-09T00:00:00.000Z", to: end.toISOString() },
    });
    // Each group's own saving: w1 ran load_facts alone, w2 extract and steady.
    for (const group of document.placement.groups) {
      expect(group.neededCostPerHourUsd).toBeGreaterThan(0);
      expect(group.monthlySavingsUsd).toBeCloseTo(
        (group.ranCostPerHourUsd! - group.neededCostPerHourUsd!) * 720,
        3,
      );
    }
    expect(document.placement.familyPrices!.families["storage-optimized"].instance).toBe("i4i.large");

    // A price rise two weeks before the end is the price factor, and nothing else moved for extract.
    const dearer = buildFleetDocument({
      runs,
      hosts: await loadHostSizes(db),
      analysis: analysis(),
      end,
      weeks: 8,
      pricing: {
        ...pricing,
        history: [{ from: new Date("2026-11-23T00:00:00Z"), cpuHourUsd: 2 * pricing.cpuHourUsd }],
      },
      generatedAt: end,
    });
    expect(dearer.pricing.cpuHourUsd).toBeCloseTo(2 * pricing.cpuHourUsd, 12);
    expect(dearer.priceHistory).toEqual([
      { from: "2026-11-23T00:00:00.000Z", cpuHourUsd: 2 * pricing.cpuHourUsd },
    ]);
    const extract = dearer.costOverTime.growers.find((growth) => growth.task === "extract")!;
    expect(extract.factors!.runsPerDay).toBeCloseTo(1, 9);
    expect(extract.factors!.duration).toBeCloseTo(1, 9);
    expect(extract.factors!.size).toBeCloseTo(1, 9);
    expect(extract.factors!.price).toBeGreaterThan(1.2);
    expect(extract.sentence).toContain("is priced");
  });
});

describe.each(engines)("the fleet read on $name", ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("reads a run without a summary with its figures unknown, and a running one not at all", async () => {
    const { db } = database.handle;
    await db.execute(sql`
      insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
                                   started_at, ended_at, exit_code, status)
      values ('00000000-0000-4000-8000-000000000001', 'prefect', 'ingest/prod', '__flow__', 'f1', 1, 'h', 'env',
              '2026-12-01T00:00:00Z', '2026-12-01T00:01:30Z', 0, 'succeeded'),
             ('00000000-0000-4000-8000-000000000002', 'prefect', 'ingest/prod', '__flow__', 'f2', 1, 'h', 'env',
              '2026-12-02T00:00:00Z', null, null, 'running')`);
    const runs = await loadFleetRuns(db, { start: new Date("2026-11-30T00:00:00Z"), end });
    expect(runs).toEqual([
      {
        id: expect.any(String),
        orchestrator: "prefect",
        pipeline: "ingest/prod",
        task: "__flow__",
        hostId: "h",
        startedAt: new Date("2026-12-01T00:00:00Z"),
        endedAt: new Date("2026-12-01T00:01:30Z"),
        heldSeconds: 90,
        requestCpuCores: null,
        requestMemoryBytes: null,
        cpuSeconds: null,
        peakRssBytes: null,
        diskReadBytes: null,
        diskWriteBytes: null,
        netBytes: null,
        wall: null,
      },
    ]);
  });
});

describe("rightsize fleet", () => {
  let database: TestDatabase;
  let folder: string;
  let analysisFile: string;
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
    await seedWeeks(database.handle.db);
    folder = mkdtempSync(join(tmpdir(), "rightsize-fleet-"));
    analysisFile = join(folder, "analysis.json");
    writeFileSync(analysisFile, JSON.stringify(analysis()));
  });
  afterAll(async () => {
    await database.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  const windowEnd = end.toISOString();

  it("prints the growers and the placement, as text, Markdown and a valid fleet document", async () => {
    const common = [
      "fleet",
      "--db",
      database.url,
      "--window-end",
      windowEnd,
      "--recommendations",
      analysisFile,
    ];
    const [text, markdown, json] = await Promise.all([
      runCli(common),
      runCli([...common, "--format", "md", "--weeks", "8"]),
      runCli([...common, "--format", "json"]),
    ]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("1. etl_daily costs 1.7× what it did 4 weeks ago");
    expect(text.stdout).toContain("load_facts runs 2× longer because it reads 2× more data");
    expect(text.stdout).toContain("airflow celery worker --queues disk-bound");
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toContain("### Where tasks should run");
    expect(markdown.stdout).not.toContain("<script>");
    expect(json.code).toBe(0);
    const document = fleetDocumentSchema.parse(JSON.parse(json.stdout));
    expect(document.weeks).toBe(8);
    expect(document.costOverTime.growers[0]!.leadingTask).toBe("load_facts");
    expect(text.stdout).toContain("Biggest growers: weeks 5–8 (from 2026-11-09) against weeks 1–4");
    expect(text.stdout).toMatch(/disk-bound: .*a month (saved|more)/);
    expect(markdown.stdout).toContain("| grower |");
  });

  it("compares any two periods, and prices runs from pricing.history in the config file", async () => {
    const config = join(folder, "rightsize.yaml");
    writeFileSync(config, "pricing:\n  history:\n    - { from: 2026-11-23, cpuHourUsd: 0.063222 }\n");
    const common = [
      "fleet",
      "--db",
      database.url,
      "--window-end",
      windowEnd,
      "--recommendations",
      analysisFile,
    ];
    const [firstAndLast, priced] = await Promise.all([
      runCli([...common, "--compare", "1:8"]),
      runCli([...common, "--config", config, "--format", "json"]),
    ]);
    expect(firstAndLast.stderr).toBe("");
    expect(firstAndLast.stdout).toContain("1. etl_daily costs 1.7× what it did 7 weeks ago");
    expect(firstAndLast.stdout).toContain("Biggest growers: week 8 (from 2026-11-30) against week 1");
    expect(priced.code).toBe(0);
    const document = fleetDocumentSchema.parse(JSON.parse(priced.stdout));
    expect(document.pricing.cpuHourUsd).toBe(0.063222);
    const extract = document.costOverTime.growers.find((growth) => growth.task === "extract")!;
    expect(extract.factors!.price).toBeGreaterThan(1.2);

    const bad = await runCli(["fleet", "--db", database.url, "--compare", "1-2:7-9"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--compare.*the after period lies outside the window's 8 weeks/);
    const wrong = await runCli(["fleet", "--db", database.url, "--compare", "last month"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--compare/);
    const badConfig = join(folder, "bad.yaml");
    writeFileSync(badConfig, "pricing:\n  history:\n    - { from: 2026-11-23 }\n");
    const refused = await runCli(["fleet", "--db", database.url, "--config", badConfig]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`pricing.history`);
    expect(refused.stderr).toContain(`entry 1: names no price`);
  });

  it("adds the fleet sections to the report of the stored analysis", async () => {
    for (const task of analysis().tasks)
      await storeTaskAnalysis(database.handle.db, task, { windowEnd: end, windowDays: 14 });
    const result = await runCli(["report", "--db", database.url, "--format", "md", "--out", "-"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("### Cost over time");
    expect(result.stdout).toContain("load\\_facts runs 2× longer because it reads 2× more data");
    expect(result.stdout).toContain("### Where tasks should run");
    expect(result.stdout).not.toContain("<script>");
  });

  it("refuses a bad flag with one line naming it", async () => {
    const result = await runCli(["fleet", "--db", database.url, "--weeks", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--weeks/);
    const help = await runCli(["fleet", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("first-fit decreasing");
    expect(help.stdout).toContain("rightsize fleet --weeks 4 --format md");
    const format = await runCli(["fleet", "--db", database.url, "--format", "html"]);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/unknown format 'html': expected one of text, md, json/);
  });
});
