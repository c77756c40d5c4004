/**
 * The HTML report in a real browser: headless Chromium opens the file from disk (as a mail attachment or
 * a saved file would be), the charts draw with non-zero bars, the page logs no errors, and the inline
 * script filters and sorts. A screenshot is kept in the test's temp dir for a person to look at.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtmlReport } from "./render.js";
import { hostileName, largeAnalysis, sampleAnalysis } from "./test-fixtures.js";

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
    writeFileSync(
      file,
      renderHtmlReport(sampleAnalysis(), {
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

    // Every task has two charts; each draws bars with a real size.
    const charts = await page.$$eval("figure.chart svg", (svgs) =>
      svgs.map((svg) => {
        const bars = [...svg.querySelectorAll("rect.bar")].map((bar) => bar.getBoundingClientRect());
        return { bars: bars.length, drawn: bars.filter((box) => box.width > 0 && box.height > 0).length };
      }),
    );
    expect(charts).toHaveLength(sampleAnalysis().tasks.length * 2);
    for (const chart of charts) {
      expect(chart.bars).toBeGreaterThan(0);
      expect(chart.drawn).toBe(chart.bars);
    }
    const requestLines = await page.$$eval("svg line.request", (lines) =>
      lines.map((line) => line.getBoundingClientRect().height),
    );
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.every((height) => height > 0)).toBe(true);
    const timeBars = await page.$$eval(".timebar span", (spans) =>
      spans.map((span) => span.getBoundingClientRect().width),
    );
    expect(timeBars.some((width) => width > 0)).toBe(true);

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

  it("opens a 1,000-task report without errors, and filters it", async () => {
    const file = join(dir, "large.html");
    writeFileSync(file, renderHtmlReport(largeAnalysis(1000)));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    expect(await page.locator("figure.chart svg").count()).toBe(2000);
    expect(await page.textContent("#shown")).toBe("1000 shown");
    await page.fill("#filter", "task_0042_");
    expect(await page.textContent("#shown")).toBe("1 shown");
    expect(await page.locator("tbody.pipeline:not(.hidden)").count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
