/**
 * End to end: the demo pipeline — real workloads, the real collector, scan, analysis, reports and
 * patches — on the embedded default inline, and on the real Postgres with BullMQ on the real Redis.
 * Every task must get the class it was built to show, on both.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AnalysisDocument, analysisDocumentSchema } from "../common/analysis-document.js";
import { runCli } from "../test-support/cli.js";
import { createEmptyPostgresDatabase } from "../test-support/databases.js";
import { redisUrl } from "../test-support/services.js";
import { demoTasks } from "./demo/scenario.js";

const classes = new Map<string, Map<string, string>>();

function classesOf(document: AnalysisDocument): Map<string, string> {
  return new Map(
    document.tasks.map((task) => [`${task.orchestrator}/${task.pipeline}/${task.task}`, task.bottleneck]),
  );
}

function expectBuiltClasses(document: AnalysisDocument): void {
  const seen = classesOf(document);
  for (const task of demoTasks) {
    expect(
      seen.get(`${task.orchestrator}/${task.pipeline}/${task.task}`),
      `${task.pipeline}.${task.task}`,
    ).toBe(task.expected);
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
    const result = await runCli(
      ["demo", "--db", join(scratch, "db"), "--out", out, "--runs", "2", "--seconds", "3"],
      {
        env: { REDIS_URL: "" },
        timeoutMs: 300_000,
      },
    );
    expect(result.stderr).not.toMatch(/rightsize: /);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("creating an embedded database");
    expect(result.stdout).toMatch(/estimated saving: \$\d+\.\d\d a month/);

    const document = analysisDocumentSchema.parse(
      JSON.parse(readFileSync(join(out, "analysis.json"), "utf8")),
    );
    expectBuiltClasses(document);
    classes.set("pglite", classesOf(document));
    const compress = document.tasks.find((task) => task.task === "compress_orders")!;
    expect(compress.cpu.requestCores).toBe(4);
    expect(compress.cpu.requestSource).toBe("declared");
    expect(compress.recommendation.cpuCores).toBeLessThan(2);
    expect(compress.runs).toBe(2);
    const spawner = document.tasks.find((task) => task.pipeline === "split-files/split-files")!;
    expect(spawner.processes.find((process) => process.command === "sh")?.count ?? 0).toBeGreaterThan(50);

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
