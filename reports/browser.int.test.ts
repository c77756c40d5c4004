/**
 * The HTML report in a real browser: headless Chromium opens the file from disk (as a mail attachment or
 * a saved file would be), every chart (timelines, across runs, distributions) has a real size, a very
 * long task name does not push the page wider than the window, the page logs no errors, and the inline
 * script filters and sorts. A screenshot is kept in the test's temp dir for a person to look at.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { syntheticTimelines } from "../test-support/chart-fixtures.js";
import { sampleFleet } from "../test-support/fleet-fixtures.js";
import { renderHtmlReport } from "./render.js";
import { buildTask, hostileName, largeAnalysis, sampleAnalysis } from "../test-support/report-fixtures.js";

/** A task name with no place to break, longer than any window is wide. */
const longName = `extract_${"and_transform_".repeat(30)}orders`;

/** The sample analysis plus a task with {@link longName}, so the layout is tested against it. */
function analysisWithLongName(): AnalysisDocument {
  const document = sampleAnalysis();
  document.tasks.push(
    buildTask({
      pipeline: `pipeline_${"x".repeat(120)}`,
      task: longName,
      usedCores: 0.5,
      peakBytes: 2 ** 30,
      recommendedCores: 0.6,
      recommendedBytes: 1.2 * 2 ** 30,
      processes: [
        {
          command: `python -m ${"very.long.module.".repeat(20)}main`,
          count: 1,
          cpuSeconds: 3,
          peakRssBytes: 1,
        },
      ],
      endpoints: [{ endpoint: `${"db".repeat(80)}.internal:5432`, waitSeconds: 4 }],
      seed: 3,
    }),
  );
  return document;
}

/** Every chart on the page with its drawn size, and how many of its marks have a real size. */
async function chartSizes(page: import("playwright-core").Page) {
  return page.$$eval("figure svg", (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll("rect.bar, path")].map((mark) => mark.getBoundingClientRect());
      return {
        kind: svg.parentElement?.className ?? "",
        width: box.width,
        height: box.height,
        marks: marks.length,
        drawn: marks.filter((mark) => mark.width > 0 || mark.height > 0).length,
      };
    }),
  );
}

/** The page is no wider than its window: nothing overflows horizontally. */
async function horizontalOverflow(page: import("playwright-core").Page): Promise<number> {
  return page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
}

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("HTML report in headless Chromium", () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), "rightsize-report-browser-"));

  beforeAll(async () => {
    if (!existsSync(chromiumPath))
      throw new Error(`Chromium not found at ${chromiumPath} (apt install chromium)`);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("draws the charts, logs no errors, filters and sorts, and keeps a screenshot", async () => {
    const file = join(dir, "report.html");
    const document = analysisWithLongName();
    // One task without samples has no timeline, as a task collected before an upgrade would.
    const timelines = syntheticTimelines(document);
    expect(timelines.delete("prefect/nightly-ml/__flow__")).toBe(true);
    writeFileSync(
      file,
      renderHtmlReport(document, {
        timelines,
        patches: {
          "airflow/etl_daily/transform_orders":
            "--- a/dags/etl.py\n+++ b/dags/etl.py\n@@ -1 +1 @@\n-cpu=8\n+cpu=1.5\n",
        },
      }),
    );
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("request", (request) => {
      if (!request.url().startsWith("file:")) requests.push(request.url());
    });
    // A script injected through a task name would call alert(): fail loudly if one appears.
    page.on("dialog", (dialog) => {
      problems.push(`dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });

    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });

    // Every chart has a real size, and so do its marks (bars, areas, lines, band).
    const charts = await chartSizes(page);
    const timelineCount = charts.filter((chart) => chart.kind === "tl").length;
    expect(timelineCount).toBe(timelines.size);
    expect(charts.filter((chart) => chart.kind === "runs").length).toBe(
      document.tasks.filter((task) => (task.recentRuns?.length ?? 0) > 0).length,
    );
    for (const chart of charts) {
      expect(chart.width, chart.kind).toBeGreaterThan(0);
      expect(chart.height, chart.kind).toBeGreaterThan(0);
      expect(chart.marks, chart.kind).toBeGreaterThan(0);
      expect(chart.drawn, chart.kind).toBe(chart.marks);
    }
    // The band is stroked (a box has no height for a horizontal path): its length is the step run's.
    const bands = await page.$$eval(".tl [class^=s-]", (paths) =>
      paths.map((path) => ({
        width: path.getBoundingClientRect().width,
        stroke: (
          globalThis as unknown as { getComputedStyle(element: unknown): { strokeWidth: string } }
        ).getComputedStyle(path).strokeWidth,
      })),
    );
    expect(bands.length).toBeGreaterThan(0);
    expect(bands.filter((band) => !(band.width > 0 && band.stroke === "12px"))).toEqual([]);
    // Request lines: horizontal in timelines, vertical in the distribution charts.
    const requestLines = await page.$$eval("svg .request", (lines) =>
      lines.map((line) => {
        const box = line.getBoundingClientRect();
        return Math.max(box.width, box.height);
      }),
    );
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.every((length) => length > 0)).toBe(true);
    const timeBars = await page.$$eval(".timebar i", (segments) =>
      segments.map((segment) => segment.getBoundingClientRect().width),
    );
    expect(timeBars.some((width) => width > 0)).toBe(true);

    // The long name wraps inside its box; the page does not scroll sideways, here or on a phone.
    expect(await page.getByText(longName).count()).toBeGreaterThan(0);
    expect(await horizontalOverflow(page)).toBe(0);
    await page.setViewportSize({ width: 390, height: 800 });
    expect(await horizontalOverflow(page)).toBe(0);
    await page.setViewportSize({ width: 1200, height: 900 });

    // The hostile task name is text on the page, not markup.
    expect(await page.locator("script").count()).toBe(1);
    expect(await page.getByText(hostileName, { exact: true }).count()).toBeGreaterThan(0);

    // Filtering hides the other rows; severity filter too; sorting by savings puts the largest first.
    await page.fill("#filter", "export_to_s3");
    expect(await page.locator("tr.task-row:not(.hidden)").count()).toBe(1);
    await page.fill("#filter", "");
    await page.selectOption("#severity", "warning");
    expect(await page.locator("tr.task-row:not(.hidden)").count()).toBe(2);
    await page.selectOption("#severity", "");
    await page.click("th[data-sort=savings]");
    const etlOrder = await page.$$eval("tbody.pipeline", (bodies) =>
      bodies.map((body) => [...body.querySelectorAll("tr.task-row a")].map((link) => link.textContent)),
    );
    expect(etlOrder.find((names) => names.includes("transform_orders"))?.[0]).toBe("transform_orders");
    expect(await page.getAttribute("th[data-sort=savings]", "aria-sort")).toBe("descending");
    // Keyboard: Enter on the focused header sorts the other way.
    await page.focus("th[data-sort=savings]");
    await page.keyboard.press("Enter");
    expect(await page.getAttribute("th[data-sort=savings]", "aria-sort")).toBe("ascending");

    const screenshot = join(dir, "report.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(existsSync(screenshot)).toBe(true);
    process.stderr.write(`report screenshot: ${screenshot}\n`);

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it("draws the fleet sections and each grower's weeks at 1200 and 390 px without errors or sideways scrolling", async () => {
    const file = join(dir, "fleet.html");
    writeFileSync(file, renderHtmlReport(sampleAnalysis(), { fleet: sampleFleet() }));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("dialog", (dialog) => {
      problems.push(`dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    for (const width of [1200, 390]) {
      await page.setViewportSize({ width, height: 900 });
      const fleetCharts = (await chartSizes(page)).filter((chart) => chart.kind.includes("fleet-chart"));
      expect(fleetCharts).toHaveLength(1);
      const [chart] = fleetCharts;
      expect(chart!.width, `${width} px`).toBeGreaterThan(0);
      expect(chart!.width, `${width} px`).toBeLessThanOrEqual(width);
      expect(chart!.marks).toBe(8);
      expect(chart!.drawn).toBe(chart!.marks);
      // Each grower's weeks: a small chart of one bar per week beside its sentence.
      const sparks = (await chartSizes(page)).filter((chart) => chart.kind.includes("fleet-spark"));
      expect(sparks.length, `${width} px`).toBeGreaterThan(0);
      for (const spark of sparks) {
        expect(spark.width, `${width} px`).toBeGreaterThan(0);
        expect(spark.width, `${width} px`).toBeLessThanOrEqual(width);
        expect(spark.height, `${width} px`).toBeGreaterThan(0);
        expect(spark.marks).toBe(4);
        expect(spark.drawn).toBe(spark.marks);
      }
      expect(await horizontalOverflow(page), `${width} px`).toBe(0);
      expect(await page.getByRole("heading", { name: "Where tasks should run" }).isVisible()).toBe(true);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it("opens a 1,000-task report without errors, and filters it", async () => {
    const file = join(dir, "large.html");
    const large = largeAnalysis(1000);
    writeFileSync(file, renderHtmlReport(large, { timelines: syntheticTimelines(large) }));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    // 5 MB of HTML takes Chromium a while on a loaded machine: more than playwright's default 30 s.
    await page.goto(pathToFileURL(file).href, { waitUntil: "load", timeout: 120_000 });
    expect(await page.locator("figure.tl svg").count()).toBe(1000);
    expect(await page.locator("figure.runs svg").count()).toBe(1000);
    expect(await horizontalOverflow(page)).toBe(0);
    expect(await page.textContent("#shown")).toBe("1000 shown");
    await page.fill("#filter", "task_0042_");
    expect(await page.textContent("#shown")).toBe("1 shown");
    expect(await page.locator("tbody.pipeline:not(.hidden)").count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
