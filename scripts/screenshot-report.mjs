// Takes the README's pictures of the HTML report: `node scripts/screenshot-report.mjs REPORT.html OUT.png
// [HEIGHT] [SELECTOR]` after `npm start` (the demo) or `rightsize report` has written a report. The picture
// is the page's top HEIGHT pixels (default 1400) at 1280 px wide: the headline, the task table and, with a
// taller HEIGHT, the first tasks' timelines; with SELECTOR (e.g. `#task-1`, the worst task's section), the
// HEIGHT pixels from that element's top instead. Uses Debian's chromium through playwright-core.
import { chromium } from "playwright-core";

const [report, out, heightArgument, selector] = process.argv.slice(2);
const height = Number(heightArgument ?? 1400);
if (!report || !out || !Number.isInteger(height) || height < 200) {
  process.stderr.write(
    "usage: node scripts/screenshot-report.mjs REPORT.html OUT.png [HEIGHT ≥ 200] [SELECTOR]\n",
  );
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height }, deviceScaleFactor: 1 });
  await page.goto(new URL(report, `file://${process.cwd()}/`).href);
  if (selector === undefined) {
    await page.screenshot({ path: out, fullPage: false });
  } else {
    const element = await page.$(selector);
    if (!element) throw new Error(`no element matches ${JSON.stringify(selector)} in ${report}`);
    const box = await element.boundingBox();
    await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: box.y, width: 1280, height } });
  }
} finally {
  await browser.close();
}
