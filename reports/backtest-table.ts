/**
 * The `rightsize backtest` output: the policy table (each sizing policy replayed on every task's runs,
 * side by side) and one policy's per-task rows, as plain text, Markdown or JSON. Pure renderers of the
 * analyzer's result (analyzer/backtest-window.ts); every task name goes through reports/escape.ts.
 */
import { backtestShowsOomRisk, type TaskAnalysis } from "../common/analysis-document.js";
import { escapeMarkdown, escapeTextLine } from "./escape.js";
import { formatBytes, formatCores, formatPercent, formatUsd } from "./format.js";

type TaskBacktest = NonNullable<TaskAnalysis["backtest"]>;

/** One policy's sums, as the table reads them. */
export interface PolicyTotalsView {
  policy: string;
  description: string;
  tasks: number;
  runs: number;
  overMemory: number;
  reclaimZone: number;
  cpuCapped: number;
  stretchedRuns: number;
  usdSaved: number | null;
  outOfSampleRuns: number;
  outOfSampleOverMemory: number;
  tasksOverTarget: number;
}

export interface BacktestView {
  windowEnd: string;
  windowDays: number;
  policy: string;
  maxOverMemoryShare: number;
  policies: PolicyTotalsView[];
  tasks: Array<{ orchestrator: string; pipeline: string; task: string; backtest: TaskBacktest }>;
}

type Cell = string;

/** A count out of runs: `1 of 12`, or `0` when nothing was counted. */
function outOf(count: number, runs: number): string {
  return runs === 0 ? "–" : `${count} of ${runs}`;
}

function headline(view: BacktestView): string {
  return `Backtest of the ${view.windowDays} days ending ${view.windowEnd}: ${view.tasks.length} task${view.tasks.length === 1 ? "" : "s"}; risk target: at most ${formatPercent(view.maxOverMemoryShare)} of out-of-sample runs over memory.`;
}

const policyHeader = [
  "policy",
  "tasks",
  "runs",
  "over memory",
  "reclaim zone",
  "CPU-capped",
  "≥ 1 % longer",
  "out of sample over memory",
  "tasks over target",
  "saving",
];

function policyCells(totals: PolicyTotalsView): Cell[] {
  return [
    totals.policy,
    String(totals.tasks),
    String(totals.runs),
    outOf(totals.overMemory, totals.runs),
    outOf(totals.reclaimZone, totals.runs),
    outOf(totals.cpuCapped, totals.runs),
    outOf(totals.stretchedRuns, totals.runs),
    outOf(totals.outOfSampleOverMemory, totals.outOfSampleRuns),
    String(totals.tasksOverTarget),
    formatUsd(totals.usdSaved),
  ];
}

const taskHeader = [
  "task",
  "runs",
  "memory",
  "cores",
  "over memory",
  "reclaim zone",
  "CPU-capped",
  "max stretch",
  "out of sample over memory",
  "saving",
];

function taskCells(name: string, backtest: TaskBacktest): Cell[] {
  const { inSample, outOfSample } = backtest;
  return [
    name,
    String(inSample.runs),
    formatBytes(inSample.memoryBytes),
    formatCores(inSample.cpuCores),
    outOf(inSample.overMemory, inSample.runs),
    outOf(inSample.reclaimZone, inSample.runs),
    outOf(inSample.cpuCapped, inSample.runs),
    formatPercent(inSample.maxStretch),
    outOfSample === null
      ? "– (under 4 runs)"
      : `${outOf(outOfSample.overMemory, outOfSample.runs)} at ${formatBytes(outOfSample.memoryBytes)}${backtest.meetsTarget === false ? " ⚠" : ""}`,
    formatUsd(inSample.usdSaved),
  ];
}

function textTable(rows: Cell[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell + " ".repeat(widths[column]! - [...cell].length))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** A table for a terminal or CI log: names as escaped single lines. */
export function renderBacktestText(view: BacktestView): string {
  const policies = textTable([policyHeader, ...view.policies.map(policyCells)]);
  const tasks =
    view.tasks.length === 0
      ? "No task with a finished run in the window."
      : textTable([
          taskHeader,
          ...view.tasks.map((row) =>
            taskCells(escapeTextLine(`${row.orchestrator}/${row.pipeline}/${row.task}`), row.backtest),
          ),
        ]);
  return `${headline(view)}\n\n${policies}\n\n${escapeTextLine(view.policy)} per task (in sample: sized from every run; out of sample: sized from the older runs, replayed on the newest quarter):\n${tasks}\n`;
}

function markdownTable(rows: Cell[][]): string {
  const [header, ...body] = rows;
  return [
    `| ${header!.join(" | ")} |`,
    `| ${header!.map(() => "---").join(" | ")} |`,
    ...body.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

/** Markdown (a PR comment, a job summary): every name escaped as text. */
export function renderBacktestMarkdown(view: BacktestView): string {
  const policies = markdownTable([
    policyHeader,
    ...view.policies.map((totals) => policyCells(totals).map(escapeMarkdown)),
  ]);
  const tasks =
    view.tasks.length === 0
      ? "No task with a finished run in the window."
      : markdownTable([
          taskHeader,
          ...view.tasks.map((row) =>
            taskCells(`${row.orchestrator}/${row.pipeline}/${row.task}`, row.backtest).map(escapeMarkdown),
          ),
        ]);
  return `## Backtest\n\n${escapeMarkdown(headline(view))}\n\n${policies}\n\n### ${escapeMarkdown(view.policy)} per task\n\n${tasks}\n`;
}

export function renderBacktestJson(view: BacktestView): string {
  return `${JSON.stringify(view, null, 2)}\n`;
}

/**
 * One sentence on what the recommendation would have done to the task's runs, for the report: "none of
 * its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores". Plain
 * text: each renderer escapes it for where it goes.
 */
export function backtestSentenceOf(backtest: TaskBacktest): string {
  const { inSample } = backtest;
  if (inSample.runs === 0) return "no sampled run to replay the recommendation against";
  const runsText = `${inSample.runs} run${inSample.runs === 1 ? "" : "s"}`;
  const memory = formatBytes(inSample.memoryBytes);
  const memoryPart =
    inSample.overMemory === 0
      ? `none of its ${runsText} would have exceeded ${memory}`
      : `${inSample.overMemory} of its ${runsText} would have exceeded ${memory}`;
  const cores = formatCores(inSample.cpuCores);
  const cpuPart =
    inSample.stretchedRuns === 0
      ? `none would have run noticeably longer on ${cores}`
      : `${inSample.stretchedRuns} would have run up to about ${formatPercent(inSample.maxStretch)} longer on ${cores}`;
  const out = backtest.outOfSample;
  const outPart =
    out === null || out.runs === 0
      ? ""
      : `; sized from the older runs, ${out.overMemory === 0 ? "none" : out.overMemory} of the ${out.runs} newest would have exceeded ${formatBytes(out.memoryBytes)}`;
  return `${memoryPart}; ${cpuPart}${outPart}`;
}

/**
 * One line per task with a backtest, for `patch` and `pr`: what its recommendation would have done to its
 * past runs, and when the backtest shows OOM risk that no memory cut is proposed. Names escaped for a
 * terminal line (reports/escape.ts).
 */
export function pastRunsLines(tasks: readonly TaskAnalysis[]): string[] {
  return tasks.flatMap((task) =>
    task.backtest
      ? [
          `past runs of ${escapeTextLine(`${task.orchestrator}/${task.pipeline}/${task.task}`)}: ${backtestSentenceOf(task.backtest)}${backtestShowsOomRisk(task) ? " (OOM risk: no memory cut is proposed)" : ""}`,
        ]
      : [],
  );
}
