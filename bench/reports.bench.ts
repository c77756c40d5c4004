/**
 * Report rendering for 1,000 tasks (target, docs/architecture.md "Performance and scale": HTML under 2 s and
 * under 5 MB), each task with two timelines (its latest run and a 10-hour worst run, 40 buckets each, as
 * db/queries/timelines.ts returns them). Floor: JSON.stringify of the same document and timelines, the
 * least any renderer must do to walk them.
 * Each case runs a few times after a warm-up; the median is reported, with the ratio to the floor.
 */
import { performance } from "node:perf_hooks";
import { syntheticTimelines } from "../test-support/chart-fixtures.js";
import { renderEmail, renderHtmlReport, renderMarkdownReport } from "../reports/render.js";
import { fleetOf } from "../test-support/fleet-fixtures.js";
import { largeAnalysis } from "../test-support/report-fixtures.js";

const taskCount = 1000;
/** Enough repetitions for a stable median on a shared 2-core machine without making `npm run bench` slow. */
const repetitions = 7;

function measure(render: () => string): { ms: number; bytes: number } {
  render();
  const times: number[] = [];
  let bytes = 0;
  for (let index = 0; index < repetitions; index++) {
    const started = performance.now();
    const output = render();
    times.push(performance.now() - started);
    bytes = Buffer.byteLength(output);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, bytes };
}

export async function run(): Promise<void> {
  const document = largeAnalysis(taskCount);
  const timelines = syntheticTimelines(document);
  const fleet = fleetOf(document);
  const floor = measure(() => JSON.stringify({ document, timelines: [...timelines.values()] }));
  const cases = [
    { name: "JSON.stringify (floor)", ...floor },
    {
      name: "HTML report, 2 timelines per task",
      ...measure(() => renderHtmlReport(document, { timelines })),
    },
    { name: "HTML report without timelines", ...measure(() => renderHtmlReport(document)) },
    {
      name: "HTML report, 2 timelines per task, fleet sections (8 weeks)",
      ...measure(() => renderHtmlReport(document, { timelines, fleet })),
    },
    { name: "Markdown report (25 tasks)", ...measure(() => renderMarkdownReport(document)) },
    {
      name: "email (HTML + text, 25 tasks)",
      ...measure(() => {
        const email = renderEmail(document);
        return email.html + email.text;
      }),
    },
  ];
  const rows = cases.map((entry) => [
    entry.name,
    entry.ms.toFixed(1),
    (entry.ms / floor.ms).toFixed(1),
    (entry.bytes / 1e6).toFixed(2),
    (entry.bytes / floor.bytes).toFixed(2),
  ]);
  const header = ["case", "median ms", "× floor time", "size MB", "× floor size"];
  const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
  process.stdout.write(
    `${taskCount} tasks, ${repetitions} runs each after a warm-up; targets: HTML < 2000 ms and < 5 MB\n${lines.join("\n")}\n`,
  );
}
