/**
 * Why one run took as long as it did: the run against its task's comparable runs in the window (the
 * median run and the distribution). Pure: it reads run summaries (db/queries/task-histories.ts) and
 * per-run command totals, and returns numbers with the sentences that carry them.
 *
 * The duration difference is split by where the wall clock went (analyzer/time-budget.ts: a tick is on a
 * CPU when any thread ran, else waiting for a CPU, else blocked on disk, a socket or a child, else idle),
 * the network part further by remote endpoint; the components add up to the difference exactly, and what
 * the samples did not see is named.
 *
 * The main cause reads the same parts once more: a run that did more work (more CPU seconds, more bytes)
 * also waits longer for a CPU and on disk at its usual pace, and that wait is the work's, not contention's.
 * So waiting for a CPU is measured against the median run's wait per second on a CPU, disk waits against its
 * wait per byte moved, and only what goes beyond that pace is blamed on the wait ({@link causesOf}).
 */
import { formatBytes, formatDuration } from "../common/units.js";
import type { ProcessSummary, RunSummary } from "../db/queries/task-histories.js";
import { REGRESSION_THRESHOLD } from "./recommend.js";
import { medianOrNull, percentileOf, regressionThreshold } from "./statistics.js";
import {
  componentName,
  decomposeDuration,
  type TimeComponent,
  type TimeState,
  wallSecondsOf,
} from "./time-budget.js";

/**
 * Comparable runs a diagnosis needs: with fewer, a median says little and a MAD less (the regression
 * threshold needs 4 values; one more so the median run is not the only other run besides the extremes).
 * Chosen value.
 */
export const DIAGNOSIS_MIN_RUNS = 5;

/**
 * What a slower run's extra time is blamed on: a {@link TimeState}, or `work`: the run did more than usual
 * (on a CPU longer, and waited for a CPU and on disk in proportion, at the median run's pace).
 */
export type Cause = Exclude<TimeState, "cpu"> | "work";

/** One cause's share of a slower run's extra time. */
export interface CauseShare {
  cause: Cause;
  /** For `networkWait` split by remote endpoint: the endpoint, or null for waits no named endpoint took. */
  endpoint?: string | null;
  seconds: number;
}

/** One per-run volume against the median of the comparable runs. */
export interface VolumeChange {
  metric: "cpuSeconds" | "diskReadBytes" | "diskWriteBytes" | "networkBytes" | "processesStarted";
  run: number;
  baselineMedian: number;
  /** run / baseline median; null when the baseline median is 0. */
  ratio: number | null;
}

/** A command's count and CPU in the run against the median over the comparable runs (0 where absent). */
export interface CommandChange {
  command: string;
  runCount: number;
  baselineCount: number;
  runCpuSeconds: number;
  baselineCpuSeconds: number;
  /** Seen in the run and in none of the comparable runs. */
  isNew: boolean;
}

export interface RunDiagnosis {
  executionId: string;
  runId: string;
  tryNumber: number;
  hostId: string;
  startedAt: string;
  durationSeconds: number;
  /**
   * `not-enough-runs`: fewer than {@link DIAGNOSIS_MIN_RUNS} comparable runs; `slower`: above the
   * regression threshold (median + 2.5 × 1.4826 × MAD and ≥ 30 %); `faster`: 30 % or more below the median;
   * else `usual`.
   */
  verdict: "not-enough-runs" | "slower" | "faster" | "usual";
  comparableRuns: number;
  baseline: {
    /** The median run: the comparable run whose duration is the (lower) median. */
    executionId: string;
    runId: string;
    durationSeconds: number;
    p50Seconds: number;
    p95Seconds: number;
    /** The duration above which a run is a regression. */
    thresholdSeconds: number | null;
  } | null;
  /** Comparable runs shorter than this one. */
  fasterRuns: number;
  deltaSeconds: number;
  /** Sorted by the size of their part of the difference, largest first; they add up to deltaSeconds. */
  components: TimeComponent[];
  volumes: VolumeChange[];
  commands: CommandChange[];
  memory: {
    peakBytes: number | null;
    baselinePeakBytes: number | null;
    limitBytes: number | null;
    oomKills: number;
  };
  /** Share of CFS periods throttled, in the run and the comparable runs' median; null when unknown. */
  throttling: { runShare: number | null; baselineShare: number | null };
  /**
   * The extra time of a slower run by cause, largest first (empty unless `slower`): `work` holds the growth
   * on a CPU and the waits at the median run's pace; each wait holds what went beyond that pace.
   */
  causes: CauseShare[];
  /** The cause that took most of the difference, when the run was slower. */
  mainCause: Cause | null;
  /** The endpoint behind a `networkWait` main cause. */
  mainEndpoint: string | null;
  sentences: string[];
}

/** Which run of a task: one by its run id (or execution id), the latest, or the slowest. */
export type RunSelection = { runId: string } | { latest: true } | { slowest: true };

/** Whether `a` started after `b`; runs that started together count in the order of their execution ids. */
function startedAfter(a: RunSummary, b: RunSummary): boolean {
  const [at, bt] = [a.startedAt.getTime(), b.startedAt.getTime()];
  return at > bt || (at === bt && a.executionId.localeCompare(b.executionId) < 0);
}

/**
 * The run the selection names among the task's runs, or undefined: for a run id, the latest run with it;
 * the slowest, the latest of the slowest on a tie. One pass, in any order of the runs.
 */
export function pickRun(runs: ReadonlyArray<RunSummary>, selection: RunSelection): RunSummary | undefined {
  let picked: RunSummary | undefined;
  for (const run of runs) {
    if ("runId" in selection && run.runId !== selection.runId && run.executionId !== selection.runId)
      continue;
    if (
      picked === undefined ||
      ("slowest" in selection
        ? run.durationSeconds > picked.durationSeconds ||
          (run.durationSeconds === picked.durationSeconds && startedAfter(run, picked))
        : startedAfter(run, picked))
    )
      picked = run;
  }
  return picked;
}

/** A volume is worth a sentence when it moved by this factor either way (chosen value). */
export const VOLUME_FACTOR = 1.5;
/** A command is worth a sentence when it ran this many times as often as usual (chosen value). */
export const COMMAND_FACTOR = 3;
/** Commands listed at most (the few that changed most). */
const COMMANDS_SHOWN = 5;
/** A component is named in the summary sentence when it holds this share of the difference (chosen value). */
const COMPONENT_SHARE_NAMED = 0.05;

/** `+24m 00s`, `-3.5 s`. */
export function signedDuration(seconds: number): string {
  return `${seconds < 0 ? "-" : "+"}${formatDuration(Math.abs(seconds))}`;
}

function ratioText(ratio: number): string {
  return ratio >= 10 ? `${Math.round(ratio)}×` : `${Number(ratio.toFixed(1))}×`;
}

/** Commands of one run: its processes grouped by command. */
export type RunCommands = ReadonlyMap<string, ProcessSummary[]>;

/**
 * Diagnoses `run` against `others` (the task's other runs in the window; the run itself is left out if
 * given). Comparable runs are the other finished runs that were sampled; `commands` holds each run's
 * command totals by execution id, when known.
 */
export function diagnoseRun(
  run: RunSummary,
  others: ReadonlyArray<RunSummary>,
  commands: RunCommands = new Map(),
): RunDiagnosis {
  const comparable = others.filter(
    (other) => other.executionId !== run.executionId && other.ticks > 0 && other.durationSeconds > 0,
  );
  const base: RunDiagnosis = {
    executionId: run.executionId,
    runId: run.runId,
    tryNumber: run.tryNumber,
    hostId: run.hostId,
    startedAt: run.startedAt.toISOString(),
    durationSeconds: run.durationSeconds,
    verdict: "not-enough-runs",
    comparableRuns: comparable.length,
    baseline: null,
    fasterRuns: comparable.filter((other) => other.durationSeconds < run.durationSeconds).length,
    deltaSeconds: 0,
    components: [],
    volumes: [],
    commands: [],
    memory: {
      peakBytes: run.peakRssBytes,
      baselinePeakBytes: medianOrNull(comparable.map((other) => other.peakRssBytes)),
      limitBytes: run.limitMemoryBytes,
      oomKills: run.oomKills,
    },
    throttling: {
      runShare: throttledShare(run),
      baselineShare: medianOrNull(comparable.map(throttledShare)),
    },
    causes: [],
    mainCause: null,
    mainEndpoint: null,
    sentences: [],
  };
  if (comparable.length < DIAGNOSIS_MIN_RUNS) {
    base.sentences.push(
      `Not enough comparable runs: ${comparable.length} other sampled run${comparable.length === 1 ? "" : "s"} in the window, ${DIAGNOSIS_MIN_RUNS} needed; this run took ${formatDuration(run.durationSeconds)}.`,
    );
    return base;
  }
  const sorted = [...comparable].sort(
    (a, b) => a.durationSeconds - b.durationSeconds || a.executionId.localeCompare(b.executionId),
  );
  const medianRun = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const durations = sorted.map((other) => other.durationSeconds);
  const p50 = percentileOf(durations, 0.5);
  const threshold = regressionThreshold(durations, REGRESSION_THRESHOLD);
  const verdict: RunDiagnosis["verdict"] =
    threshold !== null && run.durationSeconds > threshold
      ? "slower"
      : run.durationSeconds <= p50 * (1 - REGRESSION_THRESHOLD)
        ? "faster"
        : "usual";
  const components = decomposeDuration(run, medianRun);
  const deltaSeconds = run.durationSeconds - medianRun.durationSeconds;
  const diagnosis: RunDiagnosis = {
    ...base,
    verdict,
    baseline: {
      executionId: medianRun.executionId,
      runId: medianRun.runId,
      durationSeconds: medianRun.durationSeconds,
      p50Seconds: p50,
      p95Seconds: percentileOf(durations, 0.95),
      thresholdSeconds: threshold,
    },
    deltaSeconds,
    components,
    volumes: volumeChanges(run, comparable),
    commands: commandChanges(run, comparable, commands),
  };
  if (verdict === "slower") {
    diagnosis.causes = causesOf(run, medianRun, components);
    const cause = diagnosis.causes[0];
    if (cause && cause.cause !== "unsampled") {
      diagnosis.mainCause = cause.cause;
      diagnosis.mainEndpoint = cause.endpoint ?? null;
    }
  }
  diagnosis.sentences = sentencesOf(diagnosis);
  return diagnosis;
}

/**
 * The part of a wait's growth the run's own extra work explains: the wait the run would have had at the
 * median run's pace (its wait per unit of work, times the run's work), above the median run's wait, and at
 * most the growth itself. 0 when the median run did none of that work.
 */
export function waitAtUsualPace(
  runWork: number | null,
  baselineWork: number | null,
  baselineWait: number,
  growth: number,
): number {
  if (growth <= 0 || runWork === null || baselineWork === null || baselineWork <= 0) return 0;
  const expected = (baselineWait * runWork) / baselineWork;
  return Math.min(growth, Math.max(0, expected - baselineWait));
}

function diskBytesOf(run: RunSummary): number | null {
  return run.diskReadBytes === null && run.diskWriteBytes === null
    ? null
    : (run.diskReadBytes ?? 0) + (run.diskWriteBytes ?? 0);
}

/**
 * A slower run's extra time by cause, largest positive first: `work` is the growth on a CPU plus the waits
 * for a CPU (per second on a CPU) and on disk (per byte read and written) at the median run's pace; each
 * wait keeps what went beyond it; the other components (each endpoint, children, idle, not sampled) as
 * they are. Causes that did not grow are left out.
 */
export function causesOf(
  run: RunSummary,
  baseline: RunSummary,
  components: ReadonlyArray<TimeComponent>,
): CauseShare[] {
  const ours = wallSecondsOf(run);
  const theirs = wallSecondsOf(baseline);
  const delta = (state: TimeState) =>
    components.find((component) => component.state === state)?.deltaSeconds ?? 0;
  const cpuWaitOfWork = waitAtUsualPace(
    ours.onCpuSeconds,
    theirs.onCpuSeconds,
    theirs.cpuWaitSeconds,
    delta("cpuWait"),
  );
  const diskWaitOfWork = waitAtUsualPace(
    diskBytesOf(run),
    diskBytesOf(baseline),
    theirs.diskWaitSeconds,
    delta("diskWait"),
  );
  const causes: CauseShare[] = [
    { cause: "work", seconds: Math.max(0, delta("cpu")) + cpuWaitOfWork + diskWaitOfWork },
    { cause: "cpuWait", seconds: delta("cpuWait") - cpuWaitOfWork },
    { cause: "diskWait", seconds: delta("diskWait") - diskWaitOfWork },
  ];
  for (const component of components) {
    if (component.state === "cpu" || component.state === "cpuWait" || component.state === "diskWait")
      continue;
    causes.push({
      cause: component.state,
      ...(component.endpoint === undefined ? {} : { endpoint: component.endpoint }),
      seconds: component.deltaSeconds,
    });
  }
  return causes
    .filter((cause) => cause.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds || causeName(a).localeCompare(causeName(b)));
}

/** "more work at the usual pace", "blocked on disk", "waiting on db:5432". */
export function causeName(cause: CauseShare): string {
  if (cause.cause === "work") return "more work at the usual pace";
  return componentName({
    state: cause.cause,
    ...(cause.endpoint === undefined ? {} : { endpoint: cause.endpoint }),
    runSeconds: 0,
    baselineSeconds: 0,
    deltaSeconds: 0,
  });
}

function throttledShare(run: RunSummary): number | null {
  return run.throttledPeriods !== null && run.totalPeriods !== null && run.totalPeriods > 0
    ? run.throttledPeriods / run.totalPeriods
    : null;
}

const volumeReaders: Array<[VolumeChange["metric"], (run: RunSummary) => number | null]> = [
  ["cpuSeconds", (run) => run.cpuSeconds],
  ["diskReadBytes", (run) => run.diskReadBytes],
  ["diskWriteBytes", (run) => run.diskWriteBytes],
  [
    "networkBytes",
    (run) =>
      run.netRxBytes === null && run.netTxBytes === null
        ? null
        : (run.netRxBytes ?? 0) + (run.netTxBytes ?? 0),
  ],
  ["processesStarted", (run) => run.processesStarted],
];

function volumeChanges(run: RunSummary, comparable: RunSummary[]): VolumeChange[] {
  const changes: VolumeChange[] = [];
  for (const [metric, read] of volumeReaders) {
    const value = read(run);
    const baselineMedian = medianOrNull(comparable.map(read));
    if (value === null || baselineMedian === null) continue;
    changes.push({
      metric,
      run: value,
      baselineMedian,
      ratio: baselineMedian > 0 ? value / baselineMedian : null,
    });
  }
  return changes;
}

function commandChanges(run: RunSummary, comparable: RunSummary[], commands: RunCommands): CommandChange[] {
  const ours = commands.get(run.executionId);
  if (!ours) return [];
  const theirs = comparable.map((other) => commands.get(other.executionId) ?? []);
  const names = new Set([...ours.map((item) => item.command), ...theirs.flat().map((item) => item.command)]);
  const changes: CommandChange[] = [];
  for (const command of names) {
    const mine = ours.find((item) => item.command === command);
    const perRun = theirs.map((list) => list.find((item) => item.command === command));
    changes.push({
      command,
      runCount: mine?.count ?? 0,
      baselineCount: medianOrNull(perRun.map((item) => item?.count ?? 0)) ?? 0,
      runCpuSeconds: mine?.cpuSeconds ?? 0,
      baselineCpuSeconds: medianOrNull(perRun.map((item) => item?.cpuSeconds ?? 0)) ?? 0,
      isNew: mine !== undefined && perRun.every((item) => item === undefined),
    });
  }
  const weight = (change: CommandChange) => Math.abs(change.runCpuSeconds - change.baselineCpuSeconds);
  return changes
    .sort((a, b) => weight(b) - weight(a) || a.command.localeCompare(b.command))
    .slice(0, COMMANDS_SHOWN);
}

const volumeLabels: Record<VolumeChange["metric"], [string, (value: number) => string]> = {
  cpuSeconds: ["CPU", (value) => `${formatDuration(value)} of CPU`],
  diskReadBytes: ["read", (value) => `${formatBytes(value)} read`],
  diskWriteBytes: ["written", (value) => `${formatBytes(value)} written`],
  networkBytes: ["network", (value) => `${formatBytes(value)} over the network`],
  processesStarted: ["processes", (value) => `${Math.round(value)} processes started`],
};

function sentencesOf(diagnosis: RunDiagnosis): string[] {
  const baseline = diagnosis.baseline!;
  const sentences: string[] = [];
  const named = diagnosis.components.filter(
    (component) =>
      Math.abs(component.deltaSeconds) >= COMPONENT_SHARE_NAMED * Math.abs(diagnosis.deltaSeconds) &&
      Math.abs(component.deltaSeconds) >= 0.5,
  );
  const parts = named.map(
    (component) => `${signedDuration(component.deltaSeconds)} ${componentName(component)}`,
  );
  const verdict =
    diagnosis.verdict === "slower"
      ? `slower than usual (above the regression threshold of ${formatDuration(baseline.thresholdSeconds)})`
      : diagnosis.verdict === "faster"
        ? "faster than usual"
        : "within the usual range";
  sentences.push(
    `${signedDuration(diagnosis.deltaSeconds)} against the median run (${formatDuration(baseline.durationSeconds)}, run ${baseline.runId}): ${formatDuration(diagnosis.durationSeconds)}, ${verdict}; slower than ${diagnosis.fasterRuns} of ${diagnosis.comparableRuns} comparable runs (p50 ${formatDuration(baseline.p50Seconds)}, p95 ${formatDuration(baseline.p95Seconds)}).`,
  );
  if (parts.length > 0) sentences.push(`Where the difference went: ${parts.join(", ")}.`);
  const main = diagnosis.causes[0];
  if (main?.cause === "work") {
    const grown = diagnosis.volumes.filter(
      (volume) => volume.ratio !== null && volume.ratio >= VOLUME_FACTOR,
    );
    const which =
      grown.length === 0
        ? ""
        : ` (${grown.map((volume) => `${volumeLabels[volume.metric][0]} ${ratioText(volume.ratio!)}`).join(", ")})`;
    sentences.push(
      `Main cause: ${signedDuration(main.seconds)} more work at the usual pace${which}: its waits grew no faster than its work, which points at its input or its code, not at what else ran.`,
    );
  } else if (main && main.cause !== "unsampled") {
    // Only the waits for a CPU and on disk are measured against the run's pace; the rest count as they grew.
    const pace = main.cause === "cpuWait" || main.cause === "diskWait" ? " beyond its usual pace" : "";
    sentences.push(`Main cause: ${signedDuration(main.seconds)} ${causeName(main)}${pace}.`);
  }
  for (const volume of diagnosis.volumes) {
    const [, text] = volumeLabels[volume.metric];
    if (volume.ratio === null) {
      if (volume.run > 0) sentences.push(`${text(volume.run)}, where the median run had none.`);
    } else if (volume.ratio >= VOLUME_FACTOR || volume.ratio <= 1 / VOLUME_FACTOR) {
      sentences.push(
        `${text(volume.run)} against a median of ${text(volume.baselineMedian)} (${ratioText(volume.ratio)}).`,
      );
    }
  }
  for (const command of diagnosis.commands) {
    if (command.isNew) {
      sentences.push(
        `New command ${command.command}: ${command.runCount} process${command.runCount === 1 ? "" : "es"}, ${formatDuration(command.runCpuSeconds)} of CPU; no comparable run started it.`,
      );
    } else if (command.baselineCount > 0 && command.runCount >= COMMAND_FACTOR * command.baselineCount) {
      sentences.push(
        `${command.command} ran ${command.runCount} times against a median of ${command.baselineCount} (${ratioText(command.runCount / command.baselineCount)}), ${formatDuration(command.runCpuSeconds)} of CPU against ${formatDuration(command.baselineCpuSeconds)}.`,
      );
    }
  }
  const memory = diagnosis.memory;
  if (memory.peakBytes !== null && memory.baselinePeakBytes !== null && memory.baselinePeakBytes > 0) {
    const ratio = memory.peakBytes / memory.baselinePeakBytes;
    const limit =
      memory.limitBytes !== null && memory.limitBytes > 0
        ? `; limit ${formatBytes(memory.limitBytes)} (${Math.round((memory.peakBytes / memory.limitBytes) * 100)} % used)`
        : "";
    // Named when the peak moved, or whenever a limit is known: how close the run came to it matters.
    if (ratio >= VOLUME_FACTOR || limit)
      sentences.push(
        `Memory peak ${formatBytes(memory.peakBytes)} against a median of ${formatBytes(memory.baselinePeakBytes)} (${ratioText(ratio)})${limit}.`,
      );
  }
  if (memory.oomKills > 0)
    sentences.push(`${memory.oomKills} OOM kill${memory.oomKills === 1 ? "" : "s"} in this run.`);
  const throttling = diagnosis.throttling;
  if (throttling.runShare !== null && throttling.runShare > 0) {
    const usual =
      throttling.baselineShare === null
        ? ""
        : ` against a median of ${Math.round(throttling.baselineShare * 100)} %`;
    sentences.push(`CPU throttled in ${Math.round(throttling.runShare * 100)} % of its CFS periods${usual}.`);
  }
  return sentences;
}

/**
 * The diagnosis's main cause as one short phrase for a report line: "+24m 00s blocked on disk",
 * "+2.1 s more work at the usual pace".
 */
export function mainCauseText(diagnosis: RunDiagnosis): string | null {
  const main = diagnosis.causes[0];
  if (diagnosis.mainCause === null || !main) return null;
  return `${signedDuration(main.seconds)} ${causeName(main)}`;
}
