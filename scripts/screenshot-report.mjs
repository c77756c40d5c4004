// Takes the README's picture of the HTML report: `node scripts/screenshot-report.mjs REPORT.html OUT.png
// [HEIGHT]` after `npm start` (the demo) or `rightsize report` has written a report. The picture is the
// page's top HEIGHT pixels (default 1400) at 1280 px wide: the headline, the task table and, with a taller
// HEIGHT, the first tasks' timelines. Uses Debian's chromium through playwright-core.
import { chromium } from "playwright-core";

const [report, out, heightArgument] = process.argv.slice(2);
const height = Number(heightArgument ?? 1400);
if (!report || !out || !Number.isInteger(height) || height < 200) {
  process.stderr.write("usage: node scripts/screenshot-report.mjs REPORT.html OUT.png [HEIGHT ≥ 200]\n");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height }, deviceScaleFactor: 1 });
  await page.goto(new URL(report, `file://${process.cwd()}/`).href);
  await page.screenshot({ path: out, fullPage: false });
} finally {
  await browser.close();
}
