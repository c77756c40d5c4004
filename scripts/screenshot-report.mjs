// Takes the README's picture of the HTML report: `node scripts/screenshot-report.mjs REPORT.html OUT.png`
// after `npm start` (the demo) has written a report. Uses Debian's chromium through playwright-core.
import { chromium } from "playwright-core";

const [report, out] = process.argv.slice(2);
if (!report || !out) {
  process.stderr.write("usage: node scripts/screenshot-report.mjs REPORT.html OUT.png\n");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, deviceScaleFactor: 1 });
  await page.goto(new URL(report, `file://${process.cwd()}/`).href);
  await page.screenshot({ path: out, fullPage: false });
} finally {
  await browser.close();
}
