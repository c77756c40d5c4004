/**
 * `rightsize report` as a real process (the built dist/): from an analysis file, from the database's
 * latest analysis on both engines, and its bad-input exits.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import { storeTaskAnalysis } from "../../db/queries/profiles.js";
import { hostileName, sampleAnalysis } from "../../test-support/report-fixtures.js";
import { runCli } from "../../test-support/cli.js";
import { engines } from "../../test-support/databases.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "rightsize-report-cli-"));
}

function writeDocument(dir: string, document: unknown): string {
  const file = join(dir, "analysis.json");
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}

describe("rightsize report --recommendations FILE", () => {
  it("writes HTML and Markdown into --out and prints where", async () => {
    const dir = tempDir();
    const file = writeDocument(dir, sampleAnalysis());
    const out = join(dir, "out");
    const result = await runCli(["report", "--recommendations", file, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const htmlPath = join(out, "rightsize-2026-11-21.html");
    const markdownPath = join(out, "rightsize-2026-11-21.md");
    expect(result.stdout).toBe(`${htmlPath}\n${markdownPath}\n`);
    expect(readFileSync(htmlPath, "utf8")).toContain("<b>$1,323</b>monthly savings");
    expect(readFileSync(markdownPath, "utf8")).toContain("| 2 | etl\\_daily | transform\\_orders | cpu |");
  });

  it("prints one format to stdout with --out -", async () => {
    const dir = tempDir();
    const file = writeDocument(dir, sampleAnalysis());
    const result = await runCli([
      "report",
      "--recommendations",
      file,
      "--format",
      "md",
      "--out",
      "-",
      "--max-tasks",
      "2",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^## rightsize: \$1,323\/month to save\n/);
    expect(result.stdout).toContain("3 more tasks are in the full report.");
    const both = await runCli(["report", "--recommendations", file, "--out", "-"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("rightsize: --out - prints one format: add --format html or --format md\n");
  });

  it("links the HTML report under reports.baseUrl where that folder is served, and nowhere else", async () => {
    const dir = tempDir();
    const file = writeDocument(dir, sampleAnalysis());
    const served = join(dir, "served");
    const env = {
      RIGHTSIZE_REPORTS_BASE_URL: "https://reports.example.test/team",
      RIGHTSIZE_REPORTS_DIR: served,
    };
    const link = "[Open the full report](https://reports.example.test/team/rightsize-2026-11-21.html)";
    const summary = await runCli(["report", "--recommendations", file, "--format", "md", "--out", "-"], {
      env,
    });
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain(link);
    const written = await runCli(["report", "--recommendations", file, "--format", "md"], { env });
    expect(readFileSync(join(served, "rightsize-2026-11-21.md"), "utf8")).toContain(link);
    expect(written.code).toBe(0);
    const elsewhere = join(dir, "elsewhere");
    await runCli(["report", "--recommendations", file, "--format", "md", "--out", elsewhere], { env });
    expect(readFileSync(join(elsewhere, "rightsize-2026-11-21.md"), "utf8")).not.toContain(
      "Open the full report",
    );
    const unset = await runCli(["report", "--recommendations", file, "--format", "md", "--out", "-"], {
      env: { RIGHTSIZE_REPORTS_BASE_URL: "" },
    });
    expect(unset.stdout).not.toMatch(/Open the full report|https?:\/\//);
  });

  it("exits 2 naming the file and the field of a bad analysis document", async () => {
    const dir = tempDir();
    const document = sampleAnalysis() as unknown as { tasks: Array<{ cpu: Record<string, unknown> }> };
    document.tasks[1]!.cpu.requestCores = "two";
    const file = writeDocument(dir, document);
    const result = await runCli(["report", "--recommendations", file, "--out", dir]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain("tasks.1.cpu.requestCores");

    const notJson = join(dir, "broken.json");
    writeFileSync(notJson, "{ not json");
    const broken = await runCli(["report", "--recommendations", notJson]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(notJson);
  });

  it("exits 2 on an unknown format, listing the valid ones", async () => {
    const result = await runCli(["report", "--format", "html,pdf"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown format 'pdf': expected one of html, md");
  });

  it("teaches in --help", async () => {
    const result = await runCli(["report", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("--recommendations <file>");
    expect(result.stdout).toContain("Examples:");
  });
});

describe.each(engines)("rightsize report from the database on $name", ({ name, create }) => {
  it("renders the latest stored analysis, and says so when there is none", async () => {
    const database = await create();
    const dir = tempDir();
    try {
      if (name === "postgres") {
        // Before the first analysis: a clear failure, not an empty report.
        const empty = await runCli(["report", "--db", database.url, "--out", dir]);
        expect(empty.code).toBe(1);
        expect(empty.stderr).toMatch(
          /^rightsize: no analysis in postgres .* yet: run `rightsize analyze` first/,
        );
      }
      const document: AnalysisDocument = sampleAnalysis();
      const windowEnd = new Date(document.windowEnd!);
      for (const task of document.tasks) {
        await storeTaskAnalysis(database.handle.db, task, { windowEnd, windowDays: 14 });
      }
      // PGlite allows one process per folder: the CLI opens it after this handle lets go.
      if (name === "pglite") await database.handle.close();
      const result = await runCli(["report", "--db", database.url, "--out", dir, "--format", "html"]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const html = readFileSync(join(dir, "rightsize-2026-11-21.html"), "utf8");
      expect(html).toContain("<b>$1,323</b>monthly savings");
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(html).not.toContain(hostileName);
    } finally {
      if (name === "pglite") {
        const { rmSync } = await import("node:fs");
        rmSync(database.url, { recursive: true, force: true });
      } else {
        await database.drop();
      }
    }
  });
});
