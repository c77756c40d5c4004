/**
 * End to end: the demo pipeline — real workloads, the real collector, scan, analysis, reports and
 * patches — on the embedded default inline, and on the real Postgres with BullMQ on the real Redis.
 * Every task must get the class it was built to show, on both.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AnalysisDocument, analysisDocumentSchema } from "../common/analysis-document.js";
import { runCli } from "../test-support/cli.js";
import { createEmptyPostgresDatabase } from "../test-support/databases.js";
import { nodeSpawnCost } from "../test-support/process-workloads.js";
import { redisUrl } from "../test-support/services.js";
import { demoTasks } from "./demo/scenario.js";
import { taskKeyString } from "../common/task-key.js";

/** The first demo's runs and seconds per task: what its workloads do follows from them. */
const RUNS = 2;
const SECONDS = 3;
/** The split-files task's child, as cli/demo/workload.ts spawnMany starts it, one after the other. */
const SPAWNED_CHILD = ["/bin/sh", "-c", "i=0; while [ $i -lt 12000 ]; do i=$((i+1)); done"];
/**
 * What a demo workload gets of a core on this shared 2-core host: at least half (two other busy
 * processes leave it two thirds). Chosen value.
 */
const CORE_SHARE = 0.5;

const classes = new Map<string, Map<string, string>>();

function classesOf(document: AnalysisDocument): Map<string, string> {
  return new Map(document.tasks.map((task) => [taskKeyString(task), task.bottleneck]));
}

function expectBuiltClasses(document: AnalysisDocument): void {
  const seen = classesOf(document);
  for (const task of demoTasks) {
    expect(seen.get(taskKeyString(task)), `${task.pipeline}.${task.task}`).toBe(task.expected);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe("rightsize demo", () => {
  it("on the embedded database, inline: exit 0, every class as built, reports and patches that say something", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "rightsize-demo-e2e-"));
    const out = join(scratch, "out");
    // The spawner's child on this host now, by the kernel, started as the spawner starts it: its CPU
    // and its wall clock with the spawn itself.
    const { cpu: childCpu, wall: childWall } = nodeSpawnCost(SPAWNED_CHILD, 20);
    // And with every core busy, as the demo's other tasks keep them while the spawner runs.
    const { cpu: busyChildCpu } = nodeSpawnCost(SPAWNED_CHILD, 20, { busyLoops: availableParallelism() });
    const result = await runCli(
      [
        "demo",
        "--db",
        join(scratch, "db"),
        "--out",
        out,
        "--runs",
        String(RUNS),
        "--seconds",
        String(SECONDS),
      ],
      {
        env: { REDIS_URL: "" },
        timeoutMs: 300_000,
      },
    );
    expect(result.stderr).not.toMatch(/rightsize: /);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("creating an embedded database");
    // compress_orders alone asks 4 cores for one core's work: there is a saving.
    const saving = /estimated saving: \$(\d+\.\d\d) a month/.exec(result.stdout);
    expect(saving, result.stdout).not.toBeNull();
    expect(Number(saving![1])).toBeGreaterThan(0);

    const document = analysisDocumentSchema.parse(
      JSON.parse(readFileSync(join(out, "analysis.json"), "utf8")),
    );
    expectBuiltClasses(document);
    classes.set("pglite", classesOf(document));
    const compress = document.tasks.find((task) => task.task === "compress_orders")!;
    expect(compress.cpu.requestCores).toBe(4);
    expect(compress.cpu.requestSource).toBe("declared");
    expect(compress.runs).toBe(RUNS);
    // A single-threaded burner (workload.ts burn) for SECONDS: one core, which caps its recommendation
    // (README: never more than a single-threaded task can use); p95 × 1.15 reaches the cap from 0.87.
    expect(compress.recommendation.cpuCores).toBeLessThanOrEqual(1);
    expect(compress.recommendation.cpuCores).toBeGreaterThanOrEqual(0.75);
    expect(compress.recommendation.monthlySavingsUsd).toBeGreaterThan(0);
    expect(compress.cpu.cpuSecondsPerRun.p50).toBeGreaterThanOrEqual(CORE_SHARE * SECONDS);
    // Node's start-up and exit take some 0.5 s of CPU beside the burn.
    expect(compress.cpu.cpuSecondsPerRun.p50).toBeLessThanOrEqual(SECONDS + 0.5);
    // Two worker threads burning for SECONDS.
    const parallel = document.tasks.find((task) => task.task === "transform_parallel")!;
    expect(parallel.cpu.cpuSecondsPerRun.p50).toBeGreaterThanOrEqual(CORE_SHARE * 2 * SECONDS);
    expect(parallel.cpu.cpuSecondsPerRun.p50).toBeLessThanOrEqual(2 * SECONDS + 0.5);
    // One `sh` after the other for SECONDS: as many as fit, each with the CPU the kernel gave the same
    // child here.
    const spawner = document.tasks.find((task) => task.pipeline === "split-files/split-files")!;
    const sh = spawner.processes.find((process) => process.command === "sh");
    const figures = `sh ${JSON.stringify(sh)}, child ${childCpu} s CPU (${busyChildCpu} s on busy cores), ${childWall} s wall`;
    expect(sh, figures).toBeDefined();
    expect(sh!.count, figures).toBeLessThanOrEqual((RUNS * SECONDS) / childCpu);
    expect(sh!.count, figures).toBeGreaterThanOrEqual((CORE_SHARE * RUNS * SECONDS) / childWall);
    // Each `sh` as the kernel charged the same child, quiet or on busy cores, within 30 %.
    expect(sh!.cpuSeconds / sh!.count, figures).toBeGreaterThan(0.7 * Math.min(childCpu, busyChildCpu));
    expect(sh!.cpuSeconds / sh!.count, figures).toBeLessThan(1.3 * Math.max(childCpu, busyChildCpu));

    const reports = readdirSync(out);
    const html = reports.find((file) => file.endsWith(".html"));
    const markdown = reports.find((file) => file.endsWith(".md"));
    expect(html).toBeDefined();
    expect(markdown).toBeDefined();
    const htmlText = readFileSync(join(out, html!), "utf8");
    for (const task of demoTasks)
      expect(htmlText).toContain(task.task === "__flow__" ? task.pipeline : task.task);
    // Markdown escapes the underscores of names.
    expect(readFileSync(join(out, markdown!), "utf8")).toContain("| demo\\_etl | compress\\_orders | cpu |");

    const patches = readdirSync(join(out, "patches"));
    expect(patches.length).toBeGreaterThan(0);
    const diffs = patches.map((file) => readFileSync(join(out, "patches", file), "utf8")).join("\n");
    expect(diffs).toContain("demo_etl.py");
    expect(diffs).toMatch(/^-.*"cpu": "4"/m);
    expect(diffs).toContain("prefect.yaml");

    // A second run reuses the database and says so.
    const again = await runCli(
      ["demo", "--db", join(scratch, "db"), "--out", out, "--runs", "1", "--seconds", "2"],
      {
        env: { REDIS_URL: "" },
        timeoutMs: 300_000,
      },
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("reusing the embedded database");
    expect(existsSync(join(out, "analysis.json"))).toBe(true);
  });

  it("on the real Postgres with BullMQ workers on the real Redis: the same classes", async () => {
    const database = await createEmptyPostgresDatabase();
    cleanups.push(database.drop);
    const scratch = mkdtempSync(join(tmpdir(), "rightsize-demo-e2e-pg-"));
    const out = join(scratch, "out");
    const result = await runCli(
      ["demo", "--db", database.url, "--redis", redisUrl, "--out", out, "--runs", "2", "--seconds", "3"],
      { env: { RIGHTSIZE_QUEUE_PREFIX: `rs-demo-${randomBytes(4).toString("hex")}` }, timeoutMs: 300_000 },
    );
    expect(result.stderr).not.toMatch(/rightsize: /);
    expect(result.code).toBe(0);
    const document = analysisDocumentSchema.parse(
      JSON.parse(readFileSync(join(out, "analysis.json"), "utf8")),
    );
    expectBuiltClasses(document);
    if (classes.has("pglite")) expect(classesOf(document)).toEqual(classes.get("pglite"));
  });
});
