/**
 * The analysis document shaped for templates: ranked groups, verdicts and chart geometry. Pure: numbers
 * in, numbers and strings out. Templates only place what is computed here and format it with helpers.
 */
import type { FleetDocument } from "../common/fleet-document.js";
import { type FleetView, fleetViewOf } from "./fleet-view.js";
import { MONTH_DAYS } from "../analyzer/recommend.js";
import {
  type AnalysisDocument,
  backtestShowsOomRisk,
  type TaskAnalysis,
} from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import {
  type AcrossRunsView,
  acrossRunsChart,
  headroom,
  type RunTimeline,
  type TimelinesView,
  timelinesChart,
} from "./charts.js";
import { backtestSentenceOf } from "./backtest-table.js";
import { isWebUrl } from "./escape.js";
import { formatDuration } from "./format.js";
import {
  compareTasks,
  groupByPipeline,
  type Headline,
  headlineOf,
  severityRank,
  type TaskVerdict,
  verdictOf,
} from "./summary.js";

/** Options every renderer accepts. */
export interface RenderOptions {
  /**
   * Suggested patches, keyed by task key (`orchestrator/pipeline/task`, see `taskKeyString`) → unified
   * diff text. Shown under the task when present.
   */
  patches?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Markdown and email: at most this many tasks in the tables. @defaultValue 25 */
  maxTasks?: number;
  /**
   * Where the night's HTML report is served (`reportUrlOf` in reports/report-url.ts): the Markdown and the
   * email link to it. Only an http(s) URL is linked; null or absent: no link.
   */
  reportUrl?: string | null;
  /**
   * HTML: each task's latest and worst run over time, keyed by task key (`loadTimelines` in
   * db/queries/timelines.ts). Tasks without an entry show no timeline.
   */
  timelines?: ReadonlyMap<string, readonly RunTimeline[]>;
  /** HTML and Markdown: the fleet view's sections ("Cost over time", "Where tasks should run"). */
  fleet?: FleetDocument;
}

export const defaultMaxTasks = 25;

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Tooltip: which percentile, and the value. */
  title: string;
  /** Short label drawn beside the bar ("p95"). */
  label: string;
  labelX: number;
  labelY: number;
}

export interface ChartLine {
  kind: "request" | "limit" | "recommendation";
  /** Horizontal position: values run along the x axis. */
  x: number;
  label: string;
  value: number;
  color: string;
}

/**
 * A distribution chart for a task without per-run figures (with them, the across-runs chart stands in its
 * place): one horizontal bar per percentile, values along the x axis. Request, limit and recommendation
 * are vertical lines on the same axis, so "how far is what we ask from what we use" reads at a glance.
 */
export interface Chart {
  width: number;
  height: number;
  bars: Bar[];
  lines: ChartLine[];
  /** The value at the right edge, for the axis label. */
  top: number;
  caption: string;
  unit: "cores" | "bytes";
}

export interface TimeSegment {
  kind: "cpu" | "cpuWait" | "diskWait" | "networkWait" | "childWait" | "idle";
  label: string;
  share: number;
  /** Share of the bar's width in percent, normalized so the segments fill it. */
  widthPercent: number;
  color: string;
}

export interface TaskView {
  /** Anchor id, unique within the report. */
  id: string;
  key: string;
  rank: number;
  task: TaskAnalysis;
  verdict: TaskVerdict;
  /** Distribution charts, drawn only without per-run figures (then `acrossRuns` is null). */
  cpuChart: Chart | null;
  memoryChart: Chart | null;
  /** Duration, peak memory and CPU p95 of each run in the window; empty without per-run figures. */
  acrossRuns: AcrossRunsView | null;
  /** The latest and the worst run over time (one block when they are the same run); null without samples. */
  timelines: TimelinesView | null;
  timeSegments: TimeSegment[];
  /** The largest time share: what the task mostly did. */
  dominantSegment: TimeSegment | null;
  topProcesses: TaskAnalysis["processes"];
  endpoints: NonNullable<TaskAnalysis["endpoints"]>;
  patch: string | null;
  severityRank: number;
  severityColor: string;
  /** Email bar cells: CPU p95 and memory peak as a share of the request (100 when over it). */
  cpuUsage: UsageBar;
  memoryUsage: UsageBar;
  /** What the recommendation would have done to the task's runs (reports/backtest-table.ts); null without a backtest. */
  backtestSentence: string | null;
  /** The backtest shows OOM risk (a run over memory, or the newest runs over the risk target). */
  backtestRisk: boolean;
  /** Slower runs' diagnoses (the latest and the slowest run; analysis document `diagnosis`), for the HTML report. */
  slowRuns: Array<{
    which: "latest" | "slowest";
    runId: string;
    durationSeconds: number;
    sentences: string[];
  }>;
  /** What the task's duration follows, when it varies (p95/p50 or CV). */
  variation: string | null;
}

export interface UsageBar {
  /** Filled width in percent, 0–100. */
  percent: number;
  rest: number;
  color: string;
}

export interface PipelineView {
  orchestrator: string;
  pipeline: string;
  monthlySavingsUsd: number;
  worstSeverity: string;
  tasks: TaskView[];
}

export interface ReportView {
  fleet: FleetView | null;
  generatedAt: string;
  windowDays: number;
  windowEnd: string | null;
  headline: Headline;
  pipelines: PipelineView[];
  /** Tasks in report order (the first `maxTasks` for the compact formats). */
  ranked: TaskView[];
  /** The ranked tasks with a backtest: what each recommendation would have done to past runs. */
  backtests: TaskView[];
  /** Tasks left out of `ranked` by `maxTasks`. */
  omitted: number;
  regressions: Array<{ task: TaskView; regression: NonNullable<TaskAnalysis["regressions"]>[number] }>;
  /** One line per regressed task listed: its slower run's main cause (analysis document `diagnosis`). */
  regressionCauses: Array<{ task: TaskView; runId: string; cause: string }>;
  oomRisks: TaskView[];
  /** Regressions and OOM risks left out by `maxTasks`. */
  omittedRegressions: number;
  omittedOomRisks: number;
  /** Declared values the runs show never reached their task (analyzer/effective-requests.ts). */
  notApplied: Array<{ pipeline: string; task: string; message: string }>;
  reportUrl: string | null;
  pricing: AnalysisDocument["pricing"] | null;
  /** What the savings assume (prices and run frequency), for the headline. */
  savingsAssumption: string;
  /** Why the analysis holds no task, when it holds none. */
  emptyReason: string | null;
}

/** The sentence under every headline saying what the saving assumes. */
export function savingsAssumptionOf(document: AnalysisDocument): string {
  const prices = document.pricing
    ? `$${document.pricing.cpuHourUsd} per vCPU-hour and $${document.pricing.memoryGibHourUsd} per GiB-hour`
    : "the configured prices";
  return `Savings assume ${prices}, each run holding its request for as long as it ran, and each task running as often as it did in the window (runs per day observed × ${MONTH_DAYS} days).`;
}

/** Colors shared by the HTML charts and the email's bar cells (colorblind-safe Okabe–Ito palette). */
export const palette = {
  cpu: "#0072B2",
  cpuWait: "#E69F00",
  diskWait: "#009E73",
  networkWait: "#CC79A7",
  childWait: "#56B4E9",
  idle: "#BBBBBB",
  request: "#D55E00",
  recommendation: "#009E73",
  limit: "#666666",
} as const;

const timeLabels: Record<TimeSegment["kind"], string> = {
  cpu: "CPU",
  cpuWait: "CPU wait",
  diskWait: "disk",
  networkWait: "network",
  childWait: "child wait",
  idle: "idle",
};

const chartWidth = 320;
const chartHeight = 96;
/** Width kept for a percentile label ("p99") at the chart's 10 px font. */
const labelRoom = 24;

function patchOf(options: RenderOptions, key: string): string | null {
  const patches = options.patches;
  if (!patches) return null;
  const found = patches instanceof Map ? patches.get(key) : (patches as Record<string, string>)[key];
  return typeof found === "string" && found.length > 0 ? found : null;
}

function positive(value: number | null | undefined): number {
  return value !== null && value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
}

const round = (value: number) => Math.round(value * 10) / 10;

function chartLines(
  candidates: Array<Omit<ChartLine, "x" | "color">>,
  scale: (value: number) => number,
): ChartLine[] {
  return candidates
    .filter((line) => positive(line.value) > 0)
    .map((line) => ({ ...line, x: round(scale(line.value)), color: palette[line.kind] }));
}

/** One horizontal bar per percentile, for documents without per-run figures. */
export function percentileChart(
  unit: Chart["unit"],
  points: Array<{ label: string; short: string; value: number }>,
  caption: string,
  lineCandidates: Array<Omit<ChartLine, "x" | "color">>,
  format: (value: number) => string,
): Chart {
  const top =
    Math.max(
      ...points.map((point) => positive(point.value)),
      ...lineCandidates.map((line) => positive(line.value)),
      0,
    ) * headroom || 1;
  const scale = (value: number) => (positive(value) / top) * chartWidth;
  const slot = chartHeight / Math.max(points.length, 1);
  const bars = points.map((point, index) => {
    const width = round(Math.max(scale(point.value), point.value > 0 ? 1 : 0));
    // Labels sit right of the bar, or inside its end when the bar reaches the right edge.
    const labelX = width + 4 + labelRoom > chartWidth ? Math.max(2, width - labelRoom) : width + 4;
    return {
      x: 0,
      y: round(index * slot + 1),
      width,
      height: round(slot - 2),
      title: `${point.label}: ${format(point.value)}`,
      label: point.short,
      labelX: round(labelX),
      labelY: round(index * slot + slot / 2 + 4),
    };
  });
  return {
    width: chartWidth,
    height: chartHeight,
    bars,
    lines: chartLines(lineCandidates, scale),
    top,
    caption,
    unit,
  };
}

function cpuChart(task: TaskAnalysis, format: (cores: number) => string): Chart {
  const lines: Array<Omit<ChartLine, "x" | "color">> = [
    { kind: "request", label: "request", value: task.cpu.requestCores ?? Number.NaN },
    { kind: "limit", label: "limit", value: task.cpu.limitCores ?? Number.NaN },
    { kind: "recommendation", label: "recommended", value: task.recommendation.cpuCores },
  ];
  const { cpu } = task;
  return percentileChart(
    "cores",
    [
      { label: "p50", short: "p50", value: cpu.p50 },
      { label: "p90", short: "p90", value: cpu.p90 },
      { label: "p95", short: "p95", value: cpu.p95 },
      { label: "p99", short: "p99", value: cpu.p99 },
      { label: "max", short: "max", value: cpu.max },
    ],
    "cores: p50, p90, p95, p99 and max of all samples",
    lines,
    format,
  );
}

function memoryChart(task: TaskAnalysis, format: (bytes: number) => string): Chart {
  const lines: Array<Omit<ChartLine, "x" | "color">> = [
    { kind: "request", label: "request", value: task.memory.requestBytes ?? Number.NaN },
    { kind: "limit", label: "limit", value: task.memory.limitBytes ?? Number.NaN },
    { kind: "recommendation", label: "recommended", value: task.recommendation.memoryBytes },
  ];
  const { peakBytes } = task.memory;
  return percentileChart(
    "bytes",
    [
      { label: "p50 of run peaks", short: "p50", value: peakBytes.p50 },
      { label: "p95 of run peaks", short: "p95", value: peakBytes.p95 },
      { label: "max of run peaks", short: "max", value: peakBytes.max },
    ],
    "peak memory per run: p50, p95 and max",
    lines,
    format,
  );
}

export function timeSegmentsOf(task: TaskAnalysis): TimeSegment[] {
  const kinds: TimeSegment["kind"][] = ["cpu", "cpuWait", "diskWait", "networkWait", "childWait", "idle"];
  const total = kinds.reduce((sum, kind) => sum + positive(task.timeShares[kind]), 0);
  if (total === 0) return [];
  return kinds
    .map((kind) => {
      const share = positive(task.timeShares[kind]);
      return {
        kind,
        label: timeLabels[kind],
        share,
        widthPercent: Math.round((share / total) * 10_000) / 100,
        color: palette[kind],
      };
    })
    .filter((segment) => segment.share > 0);
}

export const severityColors = {
  critical: "#b3261e",
  warning: "#b86e00",
  ok: "#2e6da4",
  good: "#2e7d32",
} as const;

/** Use against request as a bar: red when use reaches the request, blue otherwise; empty without a request. */
export function usageBar(used: number, request: number | null): UsageBar {
  if (request === null || !(request > 0) || !Number.isFinite(used))
    return { percent: 0, rest: 100, color: palette.cpu };
  const percent = Math.min(100, Math.max(0, Math.round((used / request) * 100)));
  return { percent, rest: 100 - percent, color: used >= request ? palette.request : palette.cpu };
}
/**
 * Processes and endpoints shown per task: the heaviest few tell the story; the rest is noise. Three, not
 * five, since the timelines came: the two rows less pay for most of a task's second timeline within the
 * 5 MB of 1,000 tasks (BENCHMARKS.md "reports").
 */
const topListLength = 3;

/** The largest time share: what the task mostly did; null without shares. */
function largestSegment(segments: readonly TimeSegment[]): TimeSegment | null {
  return segments.reduce<TimeSegment | null>(
    (largest, segment) => (largest === null || segment.share > largest.share ? segment : largest),
    null,
  );
}

type Formats = { cores: (value: number) => string; bytes: (value: number) => string };

/**
 * One task's view. `place` is its index in report order: the id is taken from it, and so is the rank
 * when the task is among the `ranked` ones (the first `rankedCount`), else the rank is 0.
 */
function taskViewOf(
  task: TaskAnalysis,
  place: number,
  rankedCount: number,
  options: RenderOptions,
  formats: Formats,
): TaskView {
  const key = taskKeyString(task);
  const acrossRuns = acrossRunsChart(task);
  const timeSegments = timeSegmentsOf(task);
  return {
    id: `task-${place + 1}`,
    key,
    rank: place < rankedCount ? place + 1 : 0,
    task,
    verdict: verdictOf(task),
    // The distribution charts stand in only where there is no across-runs chart (no per-run figures).
    cpuChart: acrossRuns ? null : cpuChart(task, formats.cores),
    memoryChart: acrossRuns ? null : memoryChart(task, formats.bytes),
    acrossRuns,
    timelines: timelinesChart(options.timelines?.get(key) ?? [], task),
    timeSegments,
    dominantSegment: largestSegment(timeSegments),
    topProcesses: [...task.processes].sort((a, b) => b.cpuSeconds - a.cpuSeconds).slice(0, topListLength),
    endpoints: [...(task.endpoints ?? [])]
      .sort((a, b) => b.waitSeconds - a.waitSeconds)
      .slice(0, topListLength),
    patch: patchOf(options, key),
    severityRank: severityRank[task.recommendation.severity],
    severityColor: severityColors[task.recommendation.severity],
    cpuUsage: usageBar(task.cpu.p95, task.cpu.requestCores),
    memoryUsage: usageBar(task.memory.peakBytes.max, task.memory.requestBytes),
    backtestSentence: task.backtest ? backtestSentenceOf(task.backtest) : null,
    backtestRisk: backtestShowsOomRisk(task),
    slowRuns: (
      [
        ["latest", task.diagnosis?.latest],
        ["slowest", task.diagnosis?.worst],
      ] as const
    ).flatMap(([which, run]) =>
      run?.verdict === "slower"
        ? [{ which, runId: run.runId, durationSeconds: run.durationSeconds, sentences: run.sentences }]
        : [],
    ),
    variation: task.diagnosis?.variation.inconsistent ? task.diagnosis.variation.sentence : null,
  };
}

export function buildReportView(
  document: AnalysisDocument,
  options: RenderOptions = {},
  formats: Formats,
  maxTasks = Number.POSITIVE_INFINITY,
): ReportView {
  const sorted = [...document.tasks].sort(compareTasks);
  const shown = sorted.slice(0, maxTasks);
  const groups = maxTasks === Number.POSITIVE_INFINITY ? groupByPipeline(document.tasks) : [];
  // The compact formats bound these lists too, so a bad night cannot push a PR comment past its limit.
  const allRegressions = sorted.flatMap((task) =>
    (task.regressions ?? []).map((regression) => ({ task, regression })),
  );
  const regressions = allRegressions.slice(0, maxTasks);
  const allOomRisks = sorted.filter((task) => verdictOf(task).oomRisk);
  const oomRisks = allOomRisks.slice(0, maxTasks);
  // Views only of the tasks some list shows (a compact report of 1,000 tasks draws no charts for the rest).
  const listed = new Set([
    ...shown,
    ...groups.flatMap((group) => group.tasks),
    ...regressions.map((entry) => entry.task),
    ...oomRisks,
  ]);
  const views = new Map(
    sorted.flatMap((task, place) =>
      listed.has(task) ? [[task, taskViewOf(task, place, shown.length, options, formats)] as const] : [],
    ),
  );
  const viewOf = (task: TaskAnalysis): TaskView => views.get(task)!;
  return {
    fleet: fleetViewOf(options.fleet),
    generatedAt: document.generatedAt,
    windowDays: document.windowDays,
    windowEnd: document.windowEnd ?? null,
    headline: headlineOf(document),
    pipelines: groups.map((group) => ({
      orchestrator: group.orchestrator,
      pipeline: group.pipeline,
      monthlySavingsUsd: group.monthlySavingsUsd,
      worstSeverity: group.worstSeverity,
      tasks: group.tasks.map(viewOf),
    })),
    ranked: shown.map(viewOf),
    backtests: shown.map(viewOf).filter((view) => view.backtestSentence !== null),
    omitted: sorted.length - shown.length,
    regressions: regressions.map(({ task, regression }) => ({ task: viewOf(task), regression })),
    omittedRegressions: allRegressions.length - regressions.length,
    regressionCauses: regressionCausesOf(regressions.map((entry) => entry.task)).map((entry) => ({
      ...entry,
      task: viewOf(entry.task),
    })),
    oomRisks: oomRisks.map(viewOf),
    omittedOomRisks: allOomRisks.length - oomRisks.length,
    notApplied: sorted
      .flatMap((task) =>
        (task.effectiveRequest?.notApplied ?? []).map((item) => ({
          pipeline: task.pipeline,
          task: task.task,
          message: item.message,
        })),
      )
      .slice(0, maxTasks),
    reportUrl: options.reportUrl && isWebUrl(options.reportUrl) ? options.reportUrl : null,
    pricing: document.pricing ?? null,
    savingsAssumption: savingsAssumptionOf(document),
    emptyReason: document.tasks.length === 0 ? (document.emptyReason ?? null) : null,
  };
}

/**
 * The main cause of each regressed task's slower run, once per task: its latest run when that one was
 * slower than usual, else its slowest run, and only where the diagnosis named a cause.
 */
function regressionCausesOf(
  tasks: TaskAnalysis[],
): Array<{ task: TaskAnalysis; runId: string; cause: string }> {
  return [...new Set(tasks)].flatMap((task) => {
    const run = [task.diagnosis?.latest, task.diagnosis?.worst].find(
      (item) => item?.verdict === "slower" && item.mainCauseText,
    );
    if (!run) return [];
    const baseline =
      run.baselineSeconds === null ? "" : ` against the median run's ${formatDuration(run.baselineSeconds)}`;
    return [
      {
        task,
        runId: run.runId,
        cause: `${formatDuration(run.durationSeconds)}${baseline}, ${run.mainCauseText}`,
      },
    ];
  });
}
