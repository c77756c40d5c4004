/**
 * Chart geometry for the HTML report's timelines and across-run charts. Pure: numbers in, SVG path
 * strings and labels out; the templates only place them. Paths use integer pixels and relative steps,
 * and every series is a step line over its buckets (a bucket is a span of time, not an instant), so a
 * 1,000-task report stays within its size target (BENCHMARKS.md "reports").
 */
import { REGRESSION_THRESHOLD } from "../analyzer/recommend.js";
import { regressionThreshold } from "../analyzer/statistics.js";
import { RECENT_RUNS_SHOWN } from "../analyzer/task-analysis.js";
import type { TaskAnalysis } from "../common/analysis-document.js";
import type { RunTimeline, StateSeconds, TimelineBucket } from "../db/queries/timelines.js";
import { formatBytes, formatCores, formatDuration, formatInstant } from "./format.js";

export type { RunTimeline } from "../db/queries/timelines.js";

/** The wall-clock states, in the order the band stacks them (top to bottom) and the legend lists them. */
export const stateKinds = ["cpu", "cpuWait", "diskWait", "networkWait", "childWait", "idle"] as const;
export type StateKind = (typeof stateKinds)[number];

export const stateLabels: Record<StateKind, string> = {
  cpu: "on a CPU",
  cpuWait: "waiting for a CPU",
  diskWait: "disk",
  networkWait: "network",
  childWait: "children",
  idle: "idle",
};

/** Drawing width of a timeline in px: 40 buckets of 12 px (db/queries/timelines.ts TIMELINE_BUCKETS). */
export const timelineWidth = 480;
/** Height of the CPU and the memory panel, px: enough to read a level, small enough for 2,000 of them. */
const panelHeight = 40;
const panelGap = 6;
/** Height of the band under the panels, px. */
const bandHeight = 12;
/** One run's block: CPU panel, memory panel, band. */
const blockHeight = 2 * panelHeight + 2 * panelGap + bandHeight;
/** Space between the latest and the worst run's blocks. */
const blockGap = 14;
/** Head-room above the largest value so the top line never touches the frame (every chart of the report). */
export const headroom = 1.1;
/**
 * A panel scales to the run's peak and the recommendation alone, naming the request and limit above its
 * top in its label, when those two would fill less than this share of it: at 40 px, a 4-core request
 * drew a 0.1-core task as a 1 px sliver and a 50 MiB one against 2 GiB not at all. Chosen value: a
 * quarter keeps the shape readable (10 px and up) and still shows a request up to four times the use.
 */
const zoomShare = 0.25;
/**
 * Below this share of a run's ticks read from thread-time (a run's exit tick often is), the caption does
 * not call the split estimated: such ticks can move no share by more than this. Chosen value.
 */
const estimatedShare = 0.1;

export interface BandLayer {
  kind: StateKind;
  d: string;
}

/** One run in a task's timeline figure. */
export interface TimelineBlock {
  /** Top of the block in the SVG. */
  y: number;
  /** `latest run`, `worst run (…)`, or both. */
  role: string;
  /** Short label drawn in the block's corner. */
  tag: string;
  /** Horizontal scale from bucket units to px (the data paths are drawn in bucket units). */
  scaleX: number;
  /**
   * Highest cores per bucket as a filled area: peaks stay visible however long the run. (A mean line
   * beside it cost about 0.25 MB per 1,000 tasks; the facts table gives p95.)
   */
  cpuMax: string;
  /** Highest memory per bucket as a filled area (the peak is what an OOM kill sees). */
  memoryMax: string;
  band: BandLayer[];
  tagY: number;
  runId: string;
  tryNumber: number;
  startedText: string;
  durationText: string;
  bucketText: string;
  cpuPeakText: string;
  memoryPeakText: string;
  /** Where the run's wall time went: the three largest shares, for the caption. */
  shares: Array<{ kind: StateKind; label: string; share: number; endpoint: string | null }>;
  /**
   * True when more than a tenth of the run's ticks lack the wall-clock columns (samples from before the
   * collector filled them): the split is estimated from thread-time.
   */
  estimated: boolean;
}

/**
 * The data paths of blocks drawn at one horizontal scale (both runs have 40 steps unless one ran under
 * 40 s), one path per kind across them: with the band's relative moves this spared 0.25 MB per
 * 1,000 tasks (BENCHMARKS.md "reports").
 */
export interface TimelineGroup {
  scaleX: number;
  cpuMax: string;
  memoryMax: string;
  band: BandLayer[];
}

/**
 * A task's latest and worst run (one block when they are the same run), stacked on the same CPU and
 * memory scales so the two read against each other, with request, limit and recommendation as lines.
 */
export interface TimelinesView {
  width: number;
  height: number;
  blocks: TimelineBlock[];
  groups: TimelineGroup[];
  /** One path per kind, across every block's panels. */
  lines: Array<{ kind: "request" | "limit" | "recommendation"; d: string }>;
  /** Each panel's zero line, so the CPU and the memory panel read apart. */
  baselines: string;
  cpuTopText: string;
  memoryTopText: string;
  /** The request and limit above a zoomed panel's top (`request 4 cores, limit 4 cores`), else null. */
  cpuAboveText: string | null;
  memoryAboveText: string | null;
  memoryLabelY: number;
}

const finite = (value: number | null | undefined): value is number =>
  value !== null && value !== undefined && Number.isFinite(value);

/**
 * A polyline through one value per bucket, in bucket units (x, bucket i at x = i, the last held to x = n)
 * and pixels (y), written as relative segments (`M0 40V12l1-3 1 2 3 0`) with collinear neighbours merged:
 * about 4 bytes per bucket. An area closes down to `base` and drops to it across gaps; a line breaks at gaps.
 */
export function seriesPath(
  levels: Array<number | null>,
  base: number,
  area: boolean,
  holdLast = true,
): string {
  const points: Array<{ x: number; y: number } | null> = levels.map((level, index) =>
    level === null ? (area ? { x: index, y: base } : null) : { x: index, y: level },
  );
  const last = points[points.length - 1];
  if (last && holdLast) points.push({ x: points.length, y: last.y });
  let d = "";
  let open = false;
  let previous: { x: number; y: number } | null = null;
  let pending: { dx: number; dy: number } | null = null;
  const flush = () => {
    if (!pending) return;
    d += `${open ? (pending.dx < 0 ? "" : " ") : "l"}${pending.dx}${pending.dy < 0 ? "" : " "}${pending.dy}`;
    open = true;
    pending = null;
  };
  for (const point of points) {
    if (!point) {
      flush();
      previous = null;
      continue;
    }
    if (!previous) {
      d += area && d === "" ? `M${point.x} ${base}V${point.y}` : `M${point.x} ${point.y}`;
      open = false;
    } else {
      const dx = point.x - previous.x;
      const dy = point.y - previous.y;
      if (pending && pending.dy * dx === dy * pending.dx) {
        pending = { dx: pending.dx + dx, dy: pending.dy + dy };
      } else {
        flush();
        pending = { dx, dy };
      }
    }
    previous = point;
  }
  flush();
  if (!area || d === "") return d;
  return `${d}V${base}Z`;
}

function levelOf(value: number | null | undefined, top: number, height: number): number | null {
  if (!finite(value)) return null;
  return height - Math.round((Math.max(0, value) / top) * height);
}

function stateTotal(states: StateSeconds): number {
  return stateKinds.reduce((sum, kind) => sum + Math.max(0, states[kind]), 0);
}

/**
 * The band: each step coloured by the state that took most of its wall time, as one path per state of
 * horizontal runs (`M3 6h5m12 0h2`: after the first, each run moves on from the end of the one
 * before, which spares the band's y in every run; stroked as thick as the band). A stacked band of six
 * shares per step read better up close but cost about 1.4 kB per run, which 2,000 timelines cannot
 * afford within the report's 5 MB (BENCHMARKS.md "reports"); the caption gives the run's shares.
 */
export function bandLayers(buckets: Array<TimelineBucket | null>, middle: number): BandLayer[] {
  const runs = new Map<StateKind, { d: string; end: number }>();
  let runKind: StateKind | null = null;
  let runStart = 0;
  const close = (end: number) => {
    if (runKind === null) return;
    const before = runs.get(runKind);
    const move = before ? `m${runStart - before.end} 0` : `M${runStart} ${middle}`;
    runs.set(runKind, { d: `${before?.d ?? ""}${move}h${end - runStart}`, end });
    runKind = null;
  };
  buckets.forEach((bucket, index) => {
    let kind: StateKind | null = null;
    if (bucket && stateTotal(bucket.states) > 0) {
      for (const candidate of stateKinds) {
        if (kind === null || bucket.states[candidate] > bucket.states[kind]) kind = candidate;
      }
    }
    if (kind === runKind) return;
    close(index);
    if (kind !== null) {
      runKind = kind;
      runStart = index;
    }
  });
  close(buckets.length);
  return stateKinds.filter((kind) => runs.has(kind)).map((kind) => ({ kind, d: runs.get(kind)!.d }));
}

function roleOf(timeline: RunTimeline): { role: string; tag: string } {
  if (timeline.latest && timeline.worst) return { role: "latest run, also the worst", tag: "latest = worst" };
  if (timeline.worst) return { role: "worst run", tag: "worst" };
  return { role: "latest run", tag: "latest" };
}

function slotsOf(timeline: RunTimeline): Array<TimelineBucket | null> {
  const count = Math.max(1, timeline.bucketCount);
  const slots = new Array<TimelineBucket | null>(count).fill(null);
  for (const bucket of timeline.buckets) {
    if (bucket.index >= 0 && bucket.index < count) slots[bucket.index] = bucket;
  }
  return slots;
}

function maxOf(values: Array<number | null | undefined>): number {
  let largest = 0;
  for (const value of values) if (finite(value) && value > largest) largest = value;
  return largest;
}

function sharesOf(timeline: RunTimeline): TimelineBlock["shares"] {
  const totals: StateSeconds = { cpu: 0, cpuWait: 0, diskWait: 0, networkWait: 0, childWait: 0, idle: 0 };
  for (const bucket of timeline.buckets) {
    for (const kind of stateKinds) totals[kind] += Math.max(0, bucket.states[kind]);
  }
  const total = stateTotal(totals);
  if (total <= 0) return [];
  return (
    stateKinds
      .map((kind) => ({
        kind,
        label: stateLabels[kind],
        share: totals[kind] / total,
        endpoint: kind === "networkWait" ? timeline.topEndpoint : null,
      }))
      .filter((entry) => entry.share >= 0.005)
      .sort((a, b) => b.share - a.share)
      // The three largest tell the story; the task's time bar lists every state.
      .slice(0, 3)
  );
}

/** A task's timelines as chart geometry; null without any. */
export function timelinesChart(timelines: readonly RunTimeline[], task: TaskAnalysis): TimelinesView | null {
  if (timelines.length === 0) return null;
  const slotsByRun = timelines.map(slotsOf);
  const first = timelines[0]!;
  const cpuLines = [
    { kind: "request", value: first.requestCores ?? task.cpu.requestCores },
    { kind: "limit", value: first.limitCores ?? task.cpu.limitCores },
    { kind: "recommendation", value: task.recommendation.cpuCores },
  ] as const;
  const memoryLines = [
    { kind: "request", value: first.requestBytes ?? task.memory.requestBytes },
    { kind: "limit", value: first.limitBytes ?? task.memory.limitBytes },
    { kind: "recommendation", value: task.recommendation.memoryBytes },
  ] as const;
  const cpuScale = panelScale(
    maxOf(slotsByRun.flat().map((bucket) => bucket?.cpuMax)),
    cpuLines,
    formatCores,
  );
  const memoryScale = panelScale(
    maxOf(slotsByRun.flat().map((bucket) => bucket?.rssMax)),
    memoryLines,
    formatBytes,
  );
  const cpuTop = cpuScale.top;
  const memoryTop = memoryScale.top;
  const cpuLevel = (value: number | null | undefined) => levelOf(value, cpuTop, panelHeight);
  const memoryLevel = (value: number | null | undefined) => levelOf(value, memoryTop, panelHeight);
  // Paths carry their absolute y (block and panel offsets added), so no group per panel is needed.
  const area = (levels: Array<number | null>, top: number) =>
    levels.some((level) => level !== null && level < panelHeight)
      ? seriesPath(
          levels.map((level) => (level === null ? null : level + top)),
          top + panelHeight,
          true,
        )
      : "";
  const blocks = timelines.map((timeline, index): TimelineBlock => {
    const slots = slotsByRun[index]!;
    const { role, tag } = roleOf(timeline);
    const y = index * (blockHeight + blockGap);
    return {
      y,
      role,
      tag,
      scaleX: Math.round((timelineWidth / slots.length) * 1000) / 1000,
      cpuMax: area(
        slots.map((bucket) => cpuLevel(bucket?.cpuMax)),
        y,
      ),
      memoryMax: area(
        slots.map((bucket) => memoryLevel(bucket?.rssMax)),
        y + panelHeight + panelGap,
      ),
      band: bandLayers(slots, y + 2 * (panelHeight + panelGap) + bandHeight / 2),
      tagY: y + 10,
      runId: timeline.runId,
      tryNumber: timeline.tryNumber,
      startedText: formatInstant(timeline.startedAt),
      durationText: formatDuration(timeline.durationSeconds),
      bucketText: formatDuration(timeline.durationSeconds / slots.length),
      cpuPeakText: formatCores(maxOf(slots.map((bucket) => bucket?.cpuMax))),
      memoryPeakText: formatBytes(maxOf(slots.map((bucket) => bucket?.rssMax))),
      shares: sharesOf(timeline),
      estimated:
        timeline.threadTimeTicks >
        estimatedShare * timeline.buckets.reduce((sum, bucket) => sum + bucket.ticks, 0),
    };
  });
  const lines = (["request", "limit", "recommendation"] as const).flatMap((kind) => {
    let d = "";
    for (const block of blocks) {
      const cpu = cpuLines.find((line) => line.kind === kind)!.value;
      const memory = memoryLines.find((line) => line.kind === kind)!.value;
      // A line above a zoomed panel's top is named in its label instead (panelScale).
      if (finite(cpu) && cpu > 0 && cpu <= cpuTop) d += `M0 ${block.y + cpuLevel(cpu)!}H${timelineWidth}`;
      if (finite(memory) && memory > 0 && memory <= memoryTop)
        d += `M0 ${block.y + panelHeight + panelGap + memoryLevel(memory)!}H${timelineWidth}`;
    }
    return d ? [{ kind, d }] : [];
  });
  return {
    width: timelineWidth,
    height: blocks.length * blockHeight + (blocks.length - 1) * blockGap,
    blocks,
    groups: groupsOf(blocks),
    lines,
    baselines: blocks
      .map(
        (block) =>
          `M0 ${block.y + panelHeight}H${timelineWidth}M0 ${block.y + 2 * panelHeight + panelGap}H${timelineWidth}`,
      )
      .join(""),
    cpuTopText: formatCores(cpuTop),
    memoryTopText: formatBytes(memoryTop),
    cpuAboveText: cpuScale.above,
    memoryAboveText: memoryScale.above,
    memoryLabelY: panelHeight + panelGap + 10,
  };
}

/** Consecutive blocks of one scale share their paths (the blocks' y are already in them). */
function groupsOf(blocks: readonly TimelineBlock[]): TimelineGroup[] {
  const groups: TimelineGroup[] = [];
  for (const block of blocks) {
    const group = groups.at(-1);
    if (!group || group.scaleX !== block.scaleX) {
      groups.push({
        scaleX: block.scaleX,
        cpuMax: block.cpuMax,
        memoryMax: block.memoryMax,
        band: block.band,
      });
      continue;
    }
    group.cpuMax += block.cpuMax;
    group.memoryMax += block.memoryMax;
    group.band = stateKinds.flatMap((kind) => {
      const d = [...group.band, ...block.band].filter((layer) => layer.kind === kind).map((layer) => layer.d);
      return d.length > 0 ? [{ kind, d: d.join("") }] : [];
    });
  }
  return groups;
}

/**
 * A panel's top: the largest of the run's peak, the recommendation, the request and the limit, with
 * head-room; or, when the peak and the recommendation would fill less than {@link zoomShare} of that,
 * those two alone, with the request and limit left above the top and named (`request 4 cores`).
 */
function panelScale(
  peak: number,
  lines: ReadonlyArray<{ kind: string; value: number | null | undefined }>,
  format: (value: number) => string,
): { top: number; above: string | null } {
  const value = (kind: string) => {
    const found = lines.find((line) => line.kind === kind)?.value;
    return finite(found) && found > 0 ? found : 0;
  };
  const used = Math.max(peak, value("recommendation"));
  const all = Math.max(used, value("request"), value("limit"));
  if (used <= 0 || used >= all * zoomShare) return { top: all * headroom || 1, above: null };
  const top = used * headroom;
  const above = (["request", "limit"] as const)
    .filter((kind) => value(kind) > top)
    .map((kind) => `${kind} ${format(value(kind))}`);
  return { top, above: above.join(", ") };
}

/**
 * Which values are regressions: above median + 2.5 × 1.4826 × MAD of all of them, and at least 30 % above
 * the median (analyzer/statistics.ts regressionThreshold). Fewer than 4 values flag nothing.
 */
export function regressionFlags(values: number[]): boolean[] {
  const threshold = regressionThreshold(values.filter(Number.isFinite), REGRESSION_THRESHOLD);
  return values.map(
    (value) => threshold !== null && Number.isFinite(value) && value > threshold && value > 0,
  );
}

/** Runs shown across: as many as the analyzer keeps (the last 20). */
const acrossRunsShown = RECENT_RUNS_SHOWN;
const acrossWidth = 300;
/** Room for the row labels left of the lines. */
const acrossLabelWidth = 76;
const acrossRowHeight = 22;

export interface AcrossRunsRow {
  label: string;
  /** Top of the row. */
  y: number;
  /** Baseline of the row's label. */
  labelY: number;
  /** The values as a line in run units (x) and px (y), drawn scaled by `scaleX`. */
  d: string;
  /** Regression markers, in px. */
  marks: Array<{ x: number; y: number }>;
  /** The latest run's point, in px. */
  last: { x: number; y: number } | null;
  range: string;
  lastText: string;
}

/** Duration, peak memory and CPU p95 of each run, one row each, in one small SVG. */
export interface AcrossRunsView {
  width: number;
  height: number;
  labelWidth: number;
  scaleX: number;
  runs: number;
  rows: AcrossRunsRow[];
  regressions: number;
}

function acrossRow(
  label: string,
  rowIndex: number,
  values: number[],
  format: (value: number) => string,
  step: number,
): AcrossRunsRow | null {
  const known = values.filter(Number.isFinite);
  if (known.length === 0) return null;
  const top = Math.max(...known) * headroom || 1;
  const rowTop = rowIndex * acrossRowHeight;
  const inner = acrossRowHeight - 4;
  const level = (value: number) => inner + 2 - Math.round((Math.max(0, value) / top) * inner);
  const px = (index: number) => Math.round(acrossLabelWidth + index * step);
  const flags = regressionFlags(values);
  const marks = values.flatMap((value, index) =>
    flags[index] ? [{ x: px(index), y: rowTop + level(value) }] : [],
  );
  const lastIndex = values.length - 1;
  const lastValue = values[lastIndex]!;
  return {
    label,
    y: rowTop,
    labelY: rowTop + 15,
    d: seriesPath(
      values.map((value) => (Number.isFinite(value) ? rowTop + level(value) : null)),
      0,
      false,
      false,
    ),
    marks,
    last: Number.isFinite(lastValue) ? { x: px(lastIndex), y: rowTop + level(lastValue) } : null,
    range: `${format(Math.min(...known))}–${format(Math.max(...known))}`,
    lastText: Number.isFinite(lastValue) ? format(lastValue) : "–",
  };
}

/** The task's runs in the window, oldest first, across; null without per-run figures. */
export function acrossRunsChart(task: TaskAnalysis): AcrossRunsView | null {
  const runs = (task.recentRuns ?? []).slice(-acrossRunsShown);
  if (runs.length === 0) return null;
  // 4 px of margin on the right so the last point's marker stays inside.
  const step = runs.length > 1 ? (acrossWidth - acrossLabelWidth - 4) / (runs.length - 1) : 0;
  const rows = [
    acrossRow(
      "duration",
      0,
      runs.map((run) => run.durationSeconds),
      formatDuration,
      step,
    ),
    acrossRow(
      "peak memory",
      1,
      runs.map((run) => run.peakMemoryBytes),
      formatBytes,
      step,
    ),
    acrossRow(
      "CPU p95",
      2,
      runs.map((run) => run.cpuP95),
      formatCores,
      step,
    ),
  ].filter((row): row is AcrossRunsRow => row !== null);
  return {
    width: acrossWidth,
    height: 3 * acrossRowHeight,
    labelWidth: acrossLabelWidth,
    scaleX: Math.round(step * 1000) / 1000 || 1,
    runs: runs.length,
    rows,
    regressions: rows.reduce((sum, row) => sum + row.marks.length, 0),
  };
}
