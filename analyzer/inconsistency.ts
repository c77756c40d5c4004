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
import { wallSecondsOf } from "./diagnosis.js";
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

type Reader = (run: RunSummary) => number | null;

function factorReaders(
  runs: ReadonlyArray<RunSummary>,
): Array<[Omit<FactorCorrelation, "r" | "runs" | "strength">, Reader]> {
  const readers: Array<[Omit<FactorCorrelation, "r" | "runs" | "strength">, Reader]> = [
    [{ factor: "diskReadBytes", label: "bytes read" }, (run) => run.diskReadBytes],
    [{ factor: "diskWriteBytes", label: "bytes written" }, (run) => run.diskWriteBytes],
    [{ factor: "cpuSeconds", label: "CPU seconds" }, (run) => run.cpuSeconds],
    [
      { factor: "cpuWait", label: "time waiting for a CPU" },
      (run) => (run.ticks > 0 ? wallSecondsOf(run).cpuWaitSeconds : null),
    ],
    [
      { factor: "diskWait", label: "time blocked on disk" },
      (run) => (run.ticks > 0 ? wallSecondsOf(run).diskWaitSeconds : null),
    ],
    [{ factor: "tryNumber", label: "the try number" }, (run) => run.tryNumber],
    // Linear in the UTC hour: a task slow at 23:00 and at 01:00 alike does not show here (chosen simplicity).
    [
      { factor: "hourOfDay", label: "the hour of day (UTC)" },
      (run) => run.startedAt.getUTCHours() + run.startedAt.getUTCMinutes() / 60,
    ],
  ];
  const endpoints = new Set(runs.flatMap((run) => (run.endpoints ?? []).map((item) => item.endpoint)));
  for (const endpoint of [...endpoints].sort()) {
    readers.push([
      { factor: "endpoint", endpoint, label: `time waiting on ${endpoint}` },
      (run) =>
        run.ticks > 0 ? (run.endpoints?.find((item) => item.endpoint === endpoint)?.waitSeconds ?? 0) : null,
    ]);
  }
  return readers;
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
  const readers = factorReaders(runs);
  for (const [factor, read] of readers) {
    const pairs = runs.flatMap((run) => {
      const value = read(run);
      return value === null || !Number.isFinite(value) ? [] : [[value, run.durationSeconds] as const];
    });
    if (pairs.length < INCONSISTENCY_MIN_RUNS) continue;
    const r = correlationOrNull(
      pairs.map(([value]) => value),
      pairs.map(([, duration]) => duration),
    );
    if (r === null) continue;
    factors.push({ ...factor, r, runs: pairs.length, strength: correlationStrength(r) });
  }
  factors.sort((a, b) => Math.abs(b.r) - Math.abs(a.r) || a.label.localeCompare(b.label));
  const best = factors[0];
  let explainedBy = best && Math.abs(best.r) >= EXPLAINS ? best : null;
  let follows: Inconsistency["follows"] = null;
  if (explainedBy && SPENDING_FACTORS.has(explainedBy.factor)) {
    const readerOf = (name: string) => readers.find(([factor]) => factor.factor === name)![1];
    const spending = readerOf(explainedBy.factor);
    for (const data of factors.filter(
      (item) => DATA_FACTORS.has(item.factor) && Math.abs(item.r) >= EXPLAINS,
    )) {
      const read = readerOf(data.factor);
      const pairs = runs.flatMap((run) => {
        const [x, y] = [read(run), spending(run)];
        return x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)
          ? []
          : [[x, y] as const];
      });
      const r = correlationOrNull(
        pairs.map(([x]) => x),
        pairs.map(([, y]) => y),
      );
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
