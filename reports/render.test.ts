/** Content of the rendered reports: the seeded numbers appear, user text is escaped, Markdown parses. */

import fc from "fast-check";
import type { Root, RootContent, Table } from "mdast";
import { toString as mdText } from "mdast-util-to-string";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { syntheticTimeline, syntheticTimelines } from "../test-support/chart-fixtures.js";
import { escapeMarkdown } from "./escape.js";
import { renderEmail, rendererFor, renderHtmlReport, renderMarkdownReport } from "./render.js";
import { buildTask, hostileName, largeAnalysis, sampleAnalysis } from "../test-support/report-fixtures.js";
import { taskKeyString } from "../common/task-key.js";

function parseMarkdown(markdown: string): Root {
  return unified().use(remarkParse).use(remarkGfm).parse(markdown);
}

function tables(root: Root): string[][][] {
  return root.children
    .filter((node): node is Table => node.type === "table")
    .map((table) => table.children.map((row) => row.children.map((cell) => mdText(cell))));
}

function walk(node: Root | RootContent, visit: (node: Root | RootContent) => void): void {
  visit(node);
  if ("children" in node) for (const child of node.children) walk(child, visit);
}

describe("HTML report", () => {
  const html = renderHtmlReport(sampleAnalysis());

  it("shows the headline and the seeded numbers", () => {
    expect(html).toContain("<b>$1,323</b>monthly savings");
    expect(html).toContain("<b>2</b>over-provisioned");
    expect(html).toContain("<b>1</b>under-provisioned");
    expect(html).toContain("<b>1</b>at OOM risk");
    expect(html).toContain("<b>2</b>regressed");
    expect(html).toContain("8 cores → 1.5 cores");
    expect(html).toContain("16 GiB → 3.5 GiB");
    expect(html).toContain("$1,235");
    expect(html).toContain("<strong>2 OOM kills</strong>");
    expect(html).toContain("<p>Saves $1,235/month · ");
    expect(html).toContain("<p>Costs $3.10/month more · ");
    expect(html).toContain("<p>Saving unknown (no request known) · ");
    expect(html).toContain("gzip -9 orders.csv");
    expect(html).toContain("s3.eu-west-1.amazonaws.com:443");
    expect(html).toContain("peak memory +63 %");
    expect(html).toContain("CPU 81 %");
  });

  it("shows what users named as text, in tables, titles and SVG alike", () => {
    expect(html).not.toContain(hostileName);
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;:80");
    // One script element: the report's own.
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it("is self-contained: no external stylesheet, script, image or font", () => {
    expect(html).not.toMatch(/<link\b/);
    expect(html).not.toMatch(/\bsrc=/);
    expect(html).not.toMatch(/url\(/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("groups tasks by pipeline, worst pipeline first", () => {
    const groups = [...html.matchAll(/<tr class="group"><th colspan="10">([^<]+) <small>/g)].map((m) => m[1]);
    expect(groups).toEqual(["etl_daily", "reporting", "nightly-ml"]);
  });

  it("shows a patch when one is given for the task, escaped", () => {
    const withPatch = renderHtmlReport(sampleAnalysis(), {
      patches: new Map([["airflow/etl_daily/transform_orders", "-cpu=8\n+cpu=<1.5>\n"]]),
    });
    expect(withPatch).toContain("Suggested patch");
    expect(withPatch).toContain("+cpu&#x3D;&lt;1.5&gt;");
    expect(html).not.toContain("Suggested patch");
  });

  it("names the prices savings were computed with", () => {
    expect(html).toContain("at $0.031611 per vCPU-hour and $0.004237 per GiB-hour");
  });

  it("renders an empty analysis in every format without tables of tasks", () => {
    const document = { generatedAt: "2026-11-21T02:00:00Z", windowDays: 14, tasks: [] };
    const empty = renderHtmlReport(document);
    expect(empty).toContain("No tasks were analyzed");
    expect(empty).toContain("<b>$0.00</b>monthly savings");
    expect(tables(parseMarkdown(renderMarkdownReport(document)))).toHaveLength(1);
    const email = renderEmail(document);
    expect(email.subject).toContain("$0.00/month to save · 0 over-provisioned");
    expect(email.html).not.toContain("Tasks, worst first");
    expect(email.text).toContain("0 tasks in 0 pipelines");
    const one = renderMarkdownReport({ ...document, tasks: sampleAnalysis().tasks.slice(2, 3) });
    expect(one).toContain("1 task in 1 pipeline, 14-day window");
  });
});

describe("HTML report with timelines", () => {
  const document = sampleAnalysis();
  const timelines = syntheticTimelines(document);
  // The hostile task's timeline names a hostile endpoint too.
  const hostile = document.tasks.find((task) => task.task === hostileName)!;
  const hostileKey = taskKeyString(hostile);
  timelines.set(hostileKey, [
    syntheticTimeline(hostile, {
      durationSeconds: 90,
      peakCores: 1,
      peakBytes: 1e9,
      latest: true,
      worst: true,
      topEndpoint: "<img src=x onerror=alert(1)>:443",
      threadTimeOnly: true,
    }),
  ]);
  const html = renderHtmlReport(document, { timelines });

  it("draws one timeline figure and one across-runs figure per task", () => {
    expect(html.match(/<figure class="tl">/g)).toHaveLength(document.tasks.length);
    const withRuns = document.tasks.filter((task) => (task.recentRuns?.length ?? 0) > 0).length;
    expect(withRuns).toBeGreaterThan(0);
    expect(html.match(/<figure class="runs">/g)).toHaveLength(withRuns);
    expect(html).toContain('<text class="tag" x="477" y="10">latest</text>');
    expect(html).toContain("latest run, also the worst");
    expect(html).toContain("(from thread-time)");
  });

  it("keeps endpoint and task names as text", () => {
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;:443");
    expect(html).not.toContain(hostileName);
  });

  it("says what the time bar measures", () => {
    expect(html).toContain('<p class="legend">Wall-clock time of all runs: ');
  });

  it("stays under 5 MB for 1,000 tasks with two timelines each, one of a 10-hour run", () => {
    const large = largeAnalysis(1000);
    const bytes = Buffer.byteLength(renderHtmlReport(large, { timelines: syntheticTimelines(large) }));
    expect(bytes).toBeLessThan(5_000_000);
    // Rendering 1,000 tasks takes seconds on a loaded machine; its speed is the benchmark's (bench/reports.bench.ts).
  }, 120_000);
});

describe("Markdown report", () => {
  const markdown = renderMarkdownReport(sampleAnalysis());
  const root = parseMarkdown(markdown);
  const [headline, ranked, regressions, oom] = tables(root);

  it("parses into the headline, task, regression and OOM tables", () => {
    expect(tables(root)).toHaveLength(4);
    expect(headline).toEqual([
      ["monthly savings", "over-provisioned", "under-provisioned", "at OOM risk", "regressed"],
      ["$1,323", "2", "1", "1", "2"],
    ]);
    expect(ranked?.[0]).toEqual([
      "#",
      "pipeline",
      "task",
      "bottleneck",
      "CPU request → rec.",
      "memory request → rec.",
      "savings/month",
      "severity",
      "confidence",
    ]);
    expect(ranked?.slice(1).map((row) => row[2])).toEqual([
      "load_orders",
      "transform_orders",
      "export_to_s3",
      "__flow__",
      hostileName,
    ]);
    expect(ranked?.[2]).toEqual([
      "2",
      "etl_daily",
      "transform_orders",
      "cpu",
      "8 cores → 1.5 cores",
      "16 GiB → 3.5 GiB",
      "$1,235",
      "warning",
      "high",
    ]);
    expect(ranked?.[1]?.[7]).toBe("critical, OOM risk");
    expect(regressions?.slice(1)).toEqual([
      ["etl_daily", "load_orders", "peak memory", "1.9 GiB", "1.2 GiB", "+63 %"],
      ["reporting", "export_to_s3", "duration", "25m 00s", "15m 00s", "+67 %"],
    ]);
    expect(oom?.slice(1)).toEqual([["etl_daily", "load_orders", "1.9 GiB", "2 GiB", "2 GiB", "2"]]);
  });

  it("keeps user text as text: no HTML nodes, no emphasis, no broken cells", () => {
    const kinds = new Set<string>();
    walk(root, (node) => kinds.add(node.type));
    expect(kinds.has("html")).toBe(false);
    expect(kinds.has("emphasis")).toBe(false);
    expect(kinds.has("strong")).toBe(false);
    const nasty: AnalysisDocument = {
      ...sampleAnalysis(),
      tasks: [
        buildTask({
          pipeline: "a|b",
          task: "*bold* [link](http://x) `code`\nnext line",
          usedCores: 1,
          peakBytes: 1e9,
          recommendedCores: 1,
          recommendedBytes: 1e9,
        }),
      ],
    };
    const [, nastyRows] = tables(parseMarkdown(renderMarkdownReport(nasty)));
    expect(nastyRows?.[1]?.slice(1, 3).map((cell) => cell.replace(/\u200d/g, ""))).toEqual([
      "a|b",
      "*bold* [link](http://x) `code` next line",
    ]);
    expect(nastyRows?.[1]).toHaveLength(9);
  });

  it("stays short: at most maxTasks rows, and says how many more there are", { timeout: 60_000 }, () => {
    const big = renderMarkdownReport(largeAnalysis(200), { maxTasks: 10 });
    const [, rows] = tables(parseMarkdown(big));
    expect(rows).toHaveLength(11);
    expect(big).toContain("190 more tasks are in the full report.");
    // GitHub rejects comments over 65,536 characters, even on a night where everything regressed.
    const bad = largeAnalysis(1000);
    for (const task of bad.tasks) {
      task.memory.oomKills = 1;
      task.regressions = [
        { metric: "durationSeconds", recent: 900, median: 600, change: 0.5 },
        { metric: "cpuSeconds", recent: 90, median: 60, change: 0.5 },
      ];
    }
    const markdown = renderMarkdownReport(bad);
    expect(markdown.length).toBeLessThan(65_536);
    expect(markdown).toContain("1975 more regressions are in the full report.");
    expect(markdown).toContain("975 more tasks at OOM risk are in the full report.");
    expect(tables(parseMarkdown(markdown)).map((table) => table.length)).toEqual([2, 26, 26, 26]);
  });

  it("escapes Markdown table syntax", () => {
    expect(escapeMarkdown("a|b_c*d<e>\nf")).toBe("a\\|b\\_c\\*d&lt;e&gt; f");
  });
});

describe("email", () => {
  const email = renderEmail(sampleAnalysis());

  it("carries the headline numbers in the subject", () => {
    expect(email.subject).toBe(
      "rightsize: $1,323/month to save · 2 over-provisioned · 1 under-provisioned · 1 at OOM risk · 2 regressed",
    );
  });

  it("has an HTML body without SVG, scripts or style sheets, with bar cells", () => {
    expect(email.html).not.toMatch(/<svg|<script|<style|<link/);
    expect(email.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(email.html).toMatch(/<td width="\d+(\.\d+)?%" style="background:#[0-9A-Fa-f]{6}/);
    expect(email.html).toContain("$1,235");
  });

  it("has a plain-text part with the same essentials", () => {
    expect(email.text).toContain("Monthly savings:    $1,323");
    expect(email.text).toContain("2. [warning] etl_daily / transform_orders (cpu)");
    expect(email.text).toContain(`[good] etl_daily / ${hostileName}`);
    expect(email.text).not.toContain("&lt;");
  });
});

describe("renderer registry", () => {
  it("finds html and md, and names the valid formats for an unknown one", () => {
    expect(rendererFor("md").render(sampleAnalysis())).toContain("## rightsize");
    expect(rendererFor("html").extension).toBe("html");
    expect(() => rendererFor("pdf")).toThrow("unknown report format 'pdf': expected one of html, md");
  });
});

describe("escaping holds for any name (property)", () => {
  const named = (pipeline: string, task: string): AnalysisDocument => ({
    generatedAt: "2026-11-21T02:00:00Z",
    windowDays: 14,
    tasks: [
      buildTask({
        pipeline,
        task,
        usedCores: 1,
        peakBytes: 1e9,
        recommendedCores: 1,
        recommendedBytes: 1e9,
        evidence: [task],
        processes: [{ command: task, count: 1, cpuSeconds: 1, peakRssBytes: 1 }],
        endpoints: [{ endpoint: pipeline, waitSeconds: 1 }],
      }),
    ],
  });
  // Markdown and HTML syntax characters, densely, next to arbitrary text.
  const syntax = fc
    .array(fc.constantFrom(..."|*_[]()<>`\\~#!&;:/.-=+ \nabhtpw@".split("")), { minLength: 1, maxLength: 30 })
    .map((chars) => chars.join(""));
  const name = fc
    .oneof(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), syntax)
    // Printable text: control characters other than newlines are not something a DAG id carries.
    .map((text) => text.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ""))
    .filter((text) => text.trim().length > 0);

  // 200 parses: seconds on a loaded shared machine, so more than the default 5-s timeout (not a timing check).
  it("Markdown: each name comes back as the same text in its own cell", { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(name, name, (pipeline, task) => {
        const [, rows] = tables(parseMarkdown(renderMarkdownReport(named(pipeline, task))));
        // The zero-width joiners escapeMarkdown puts after `@`, `#`, `://` and `www` are not text.
        const clean = (text: string) =>
          text
            .replace(/\u200d/g, "")
            .replace(/\s+/g, " ")
            .trim();
        expect(rows?.[1]).toHaveLength(9);
        expect(clean(rows?.[1]?.[1] ?? "")).toBe(clean(pipeline));
        expect(clean(rows?.[1]?.[2] ?? "")).toBe(clean(task));
      }),
      { numRuns: 200 },
    );
  });

  it("HTML: a name never opens an element", () => {
    fc.assert(
      fc.property(name, name, (pipeline, task) => {
        const html = renderHtmlReport(named(`<xq>${pipeline}`, `<zz>${task}</zz>`));
        expect(html).not.toMatch(/<\/?(xq|zz)>/);
        expect(html.match(/<script/g)).toHaveLength(1);
      }),
      { numRuns: 50 },
    );
  });
});
