/**
 * Why a task's duration varies from run to run: how much it varies (p95/p50 and the coefficient of
 * variation of its runs' durations), and which stored per-run factor its duration follows most closely
 * (Pearson's r over the runs): bytes read (data growth), CPU seconds (more work), waiting for a CPU
 * (contention), disk wait, a remote endpoint's wait, the try number, the hour of day. Pure: it reads run
 * summaries (db/queries/task-histories.ts). A correlation names what moves with the duration, not what
 * causes it; the sentence says so with its r and n.
 */
import { formatDuration } from "../common/units.js";
import type { RunSummary } from "../db/queries/task-histories.js";
import { wallSecondsOf } from "./time-budget.js";
import { correlationOrNull, correlationStrength, type EvidenceStrength, percentileOf } from "./statistics.js";

/** Runs a factor needs before its correlation is read (chosen value: r's 95 % interval is then ±0.6 at most). */
export const INCONSISTENCY_MIN_RUNS = 8;
/**
 * A task is inconsistent when its p95 run takes this many times its median one (chosen value, the same
 * 1.5 a run's volumes are named at, analyzer/diagnosis.ts VOLUME_FACTOR)…
 */
export const INCONSISTENT_P95_RATIO = 1.5;
/** …or when its durations' standard deviation is this share of their mean (chosen value). */
export const INCONSISTENT_CV = 0.3;
/** A factor explains the variation when |r| is at least moderate (analyzer/statistics.ts correlationStrength). */
const EXPLAINS = 0.4;
/** How a run spent its time: these follow its input whenever the input grows. */
const SPENDING_FACTORS = new Set(["cpuSeconds", "cpuWait", "diskWait"]);
/** What a run was given to work on. */
const DATA_FACTORS = new Set(["diskReadBytes", "diskWriteBytes"]);
/** A spending factor follows a data factor when r between them across runs is strong (statistics.ts). */
const FOLLOWS = 0.6;

export interface FactorCorrelation {
  /** `diskReadBytes`, `cpuSeconds`, `cpuWait`, `diskWait`, `endpoint`, `tryNumber`, `hourOfDay`. */
  factor: string;
  /** For `endpoint`: which one. */
  endpoint?: string;
  /** The words a sentence uses for it: "bytes read", "waiting on db:5432". */
  label: string;
  r: number;
  runs: number;
  strength: EvidenceStrength;
}

export interface Inconsistency {
  runs: number;
  p50Seconds: number;
  p95Seconds: number;
  /** p95 / p50 of the runs' durations; null when p50 is 0. */
  p95OverP50: number | null;
  /** Coefficient of variation of the durations (population standard deviation / mean); null when the mean is 0. */
  cv: number | null;
  inconsistent: boolean;
  /** Every factor that could be computed, strongest |r| first. */
  factors: FactorCorrelation[];
  /**
   * The factor that explains the variation, when one reaches a moderate |r|: the first of `factors`, unless
   * that is how the runs spent their time (CPU seconds, a wait) and it follows the data they read or wrote
   * (r ≥ 0.6 across the runs): then the data, which the spending follows, with `follows` set.
   */
  explainedBy: FactorCorrelation | null;
  /** When the data was named over the spending factor that led: that factor and its r with the data. */
  follows: { factor: string; label: string; r: number } | null;
  sentence: string;
}

type Factor = Omit<FactorCorrelation, "r" | "runs" | "strength">;
/** A factor's value in each run (in the runs' order), null where the run cannot give it. */
type Column = Array<number | null>;

/** Every factor's column, read in one pass over the runs (a run's wall split is computed once). */
function factorColumns(runs: ReadonlyArray<RunSummary>): Array<[Factor, Column]> {
  const walls = runs.map((run) => (run.ticks > 0 ? wallSecondsOf(run) : null));
  const columns: Array<[Factor, Column]> = [
    [{ factor: "diskReadBytes", label: "bytes read" }, runs.map((run) => run.diskReadBytes)],
    [{ factor: "diskWriteBytes", label: "bytes written" }, runs.map((run) => run.diskWriteBytes)],
    [{ factor: "cpuSeconds", label: "CPU seconds" }, runs.map((run) => run.cpuSeconds)],
    [
      { factor: "cpuWait", label: "time waiting for a CPU" },
      walls.map((wall) => wall?.cpuWaitSeconds ?? null),
    ],
    [
      { factor: "diskWait", label: "time blocked on disk" },
      walls.map((wall) => wall?.diskWaitSeconds ?? null),
    ],
    [{ factor: "tryNumber", label: "the try number" }, runs.map((run) => run.tryNumber)],
    // Linear in the UTC hour: a task slow at 23:00 and at 01:00 alike does not show here (chosen simplicity).
    [
      { factor: "hourOfDay", label: "the hour of day (UTC)" },
      runs.map((run) => run.startedAt.getUTCHours() + run.startedAt.getUTCMinutes() / 60),
    ],
  ];
  const endpoints = new Set<string>();
  for (const run of runs) for (const item of run.endpoints ?? []) endpoints.add(item.endpoint);
  for (const endpoint of [...endpoints].sort()) {
    columns.push([
      { factor: "endpoint", endpoint, label: `time waiting on ${endpoint}` },
      runs.map((run) =>
        run.ticks > 0 ? (run.endpoints?.find((item) => item.endpoint === endpoint)?.waitSeconds ?? 0) : null,
      ),
    ]);
  }
  return columns;
}

/** Pearson's r of two columns over the runs where both are finite, with how many runs that is. */
function correlationOfColumns(x: Column, y: Column): { r: number | null; runs: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let index = 0; index < x.length; index++) {
    const [a, b] = [x[index], y[index]];
    if (a === null || b === null || a === undefined || b === undefined) continue;
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    xs.push(a);
    ys.push(b);
  }
  return { r: xs.length < INCONSISTENCY_MIN_RUNS ? null : correlationOrNull(xs, ys), runs: xs.length };
}

/** How much a task's duration varies, and the stored factor that follows it most closely. */
export function explainInconsistency(runs: ReadonlyArray<RunSummary>): Inconsistency {
  const durations = runs.map((run) => run.durationSeconds);
  const p50 = percentileOf(durations, 0.5);
  const p95 = percentileOf(durations, 0.95);
  const mean =
    durations.length === 0 ? 0 : durations.reduce((sum, value) => sum + value, 0) / durations.length;
  const variance =
    durations.length === 0
      ? 0
      : durations.reduce((sum, value) => sum + (value - mean) ** 2, 0) / durations.length;
  const p95OverP50 = p50 > 0 ? p95 / p50 : null;
  const cv = mean > 0 ? Math.sqrt(variance) / mean : null;
  const inconsistent =
    runs.length >= INCONSISTENCY_MIN_RUNS &&
    ((p95OverP50 !== null && p95OverP50 >= INCONSISTENT_P95_RATIO) || (cv !== null && cv >= INCONSISTENT_CV));
  const factors: FactorCorrelation[] = [];
  // A steady task has no variation to explain: factors are looked for only in an inconsistent one (which
  // has the runs a correlation needs), and most tasks of a fleet are steady.
  const columns = inconsistent ? factorColumns(runs) : [];
  for (const [factor, column] of columns) {
    const { r, runs: paired } = correlationOfColumns(column, durations);
    if (r === null) continue;
    // Built field by field: a spread of the two shapes (with and without an endpoint) is the slowest line
    // of the night's diagnoses (a node --cpu-prof, BENCHMARKS.md "The diagnoses rewritten").
    const [strength, label] = [correlationStrength(r), factor.label];
    factors.push(
      factor.endpoint === undefined
        ? { factor: factor.factor, label, r, runs: paired, strength }
        : { factor: factor.factor, endpoint: factor.endpoint, label, r, runs: paired, strength },
    );
  }
  factors.sort((a, b) => Math.abs(b.r) - Math.abs(a.r) || a.label.localeCompare(b.label));
  const best = factors[0];
  let explainedBy = best && Math.abs(best.r) >= EXPLAINS ? best : null;
  let follows: Inconsistency["follows"] = null;
  if (explainedBy && SPENDING_FACTORS.has(explainedBy.factor)) {
    const columnOf = (name: string) => columns.find(([factor]) => factor.factor === name)![1];
    const spending = columnOf(explainedBy.factor);
    for (const data of factors.filter(
      (item) => DATA_FACTORS.has(item.factor) && Math.abs(item.r) >= EXPLAINS,
    )) {
      const { r } = correlationOfColumns(columnOf(data.factor), spending);
      if (r !== null && r >= FOLLOWS) {
        follows = { factor: explainedBy.factor, label: explainedBy.label, r };
        explainedBy = data;
        break;
      }
    }
  }
  const spread = `p95 ${formatDuration(p95)} against p50 ${formatDuration(p50)}${p95OverP50 === null ? "" : ` (${p95OverP50.toFixed(1)}×)`}, CV ${cv === null ? "–" : cv.toFixed(2)} over ${runs.length} runs`;
  let sentence: string;
  if (runs.length < INCONSISTENCY_MIN_RUNS) {
    sentence = `Not enough runs to explain the variation: ${runs.length}, ${INCONSISTENCY_MIN_RUNS} needed.`;
  } else if (!inconsistent) {
    sentence = `Duration is steady, so no factor is looked for: ${spread} (inconsistent from p95/p50 ${INCONSISTENT_P95_RATIO}× or CV ${INCONSISTENT_CV}).`;
  } else if (explainedBy) {
    const verb = explainedBy.r > 0 ? "follows" : "falls as";
    const tail = explainedBy.r > 0 ? "" : " rises";
    const spending = follows
      ? `, and so does ${follows.label} (r = ${best!.r.toFixed(2)}), which follows ${explainedBy.label}: r = ${follows.r.toFixed(2)}`
      : "";
    sentence = `Duration ${verb} ${explainedBy.label}${tail}: r = ${explainedBy.r.toFixed(2)} over ${explainedBy.runs} runs (${explainedBy.strength})${spending}; ${spread}.`;
  } else {
    sentence = best
      ? `No stored factor explains the variation: the closest, ${best.label}, has r = ${best.r.toFixed(2)} over ${best.runs} runs; ${spread}.`
      : `No stored factor explains the variation: none could be computed; ${spread}.`;
  }
  return {
    runs: runs.length,
    p50Seconds: p50,
    p95Seconds: p95,
    p95OverP50,
    cv,
    inconsistent,
    factors,
    explainedBy,
    follows,
    sentence,
  };
}
