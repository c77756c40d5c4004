/** Percentiles over small per-run series (one value per run), with simple-statistics. Pure. */
import { max as maxOf, median as medianOf, quantile, sampleCorrelation } from "simple-statistics";

/** The `p`-quantile (0..1) of the finite values; 0 for an empty series, so a task with no data reads 0. */
export function percentileOf(values: ReadonlyArray<number | null>, p: number): number {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value));
  if (finite.length === 0) return 0;
  if (p >= 1) return maxOf(finite);
  return quantile(finite, p);
}

export function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value));
  return finite.length === 0 ? null : medianOf(finite);
}

export function sum(values: ReadonlyArray<number | null>): number {
  let total = 0;
  for (const value of values) if (value !== null && Number.isFinite(value)) total += value;
  return total;
}

/** Values this many scaled MADs above their median are outliers. */
const MAD_THRESHOLD = 2.5;
/**
 * 1.4826 makes the MAD estimate the standard deviation of normal data; 2.5 is the "moderately
 * conservative" cut of Leys et al., "Detecting outliers: Do not use standard deviation around the mean,
 * use absolute deviation around the median", J. Exp. Soc. Psychol. 49(4), 2013.
 */
const MAD_SCALE = 1.4826;

/**
 * The value above which one of `values` is a regression: median + 2.5 × 1.4826 × MAD, and at least
 * `minimumRise` (a fraction) above the median, since identical values have a MAD of 0 and a second more
 * must not read as a regression. Null for fewer than 4 values (a median of three says little).
 */
export function regressionThreshold(values: ReadonlyArray<number>, minimumRise: number): number | null {
  if (values.length < 4) return null;
  const middle = medianOf([...values]);
  const mad = medianOf(values.map((value) => Math.abs(value - middle)));
  return Math.max(middle + MAD_THRESHOLD * MAD_SCALE * mad, middle * (1 + minimumRise));
}

/** Pearson's r, or null when either series is constant (its standard deviation is 0) or too short. */
export function correlationOrNull(x: ReadonlyArray<number>, y: ReadonlyArray<number>): number | null {
  if (x.length < 2 || x.length !== y.length) return null;
  const constant = (values: ReadonlyArray<number>) => values.every((value) => value === values[0]);
  if (constant(x) || constant(y)) return null;
  // simple-statistics reads its arguments without changing them: no copy is needed.
  const r = sampleCorrelation(x as number[], y as number[]);
  return Number.isFinite(r) ? Math.max(-1, Math.min(1, r)) : null;
}

/**
 * How strong the evidence of a correlation is, by |r| in the bands of Evans, "Straightforward statistics
 * for the behavioral sciences" (1996): 0.6 strong, 0.4 moderate, 0.2 weak, else none.
 */
export type EvidenceStrength = "strong" | "moderate" | "weak" | "none";
export function correlationStrength(correlation: number): EvidenceStrength {
  const size = Math.abs(correlation);
  return size >= 0.6 ? "strong" : size >= 0.4 ? "moderate" : size >= 0.2 ? "weak" : "none";
}

/** A fraction as a whole percentage for sentences: 0.712 → "71 %". */
export function percentText(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

/** Cores for sentences: 2 decimals at most. */
export function coresText(cores: number): string {
  return `${Number(cores.toFixed(2))}`;
}

/** Percentiles of a task's per-second cores over all its analyzed runs. */
export interface CorePercentiles {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** One run's sketch: its per-second cores at evenly spaced percentiles (0 … 100 %), and its tick count. */
export interface QuantileSketch {
  quantiles: number[];
  weight: number;
}

/** The share of a run's ticks at or below `x`, read off its sketch (linear between sketch points). */
function cdfOf(sketch: QuantileSketch, x: number): number {
  const q = sketch.quantiles;
  const last = q.length - 1;
  if (x < q[0]!) return 0;
  if (x >= q[last]!) return 1;
  let low = 0;
  let high = last;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (q[middle]! <= x) low = middle;
    else high = middle;
  }
  const span = q[high]! - q[low]!;
  return (low + (span > 0 ? (x - q[low]!) / span : 0)) / last;
}

/**
 * The `p`-quantile of the union of runs, merged from their sketches: the cores value where the
 * tick-weighted share of all runs' ticks at or below it reaches `p`. Exact for one run; across runs the
 * rank error is at most the sketch's step (1 % of each run's ticks).
 */
export function mergedQuantile(sketches: QuantileSketch[], p: number): number {
  const usable = sketches.filter((sketch) => sketch.weight > 0 && sketch.quantiles.length >= 2);
  if (usable.length === 0) return 0;
  const total = usable.reduce((sum, sketch) => sum + sketch.weight, 0);
  let low = Math.min(...usable.map((sketch) => sketch.quantiles[0]!));
  let high = Math.max(...usable.map((sketch) => sketch.quantiles.at(-1)!));
  if (p <= 0) return low;
  if (p >= 1) return high;
  const share = (x: number) =>
    usable.reduce((sum, sketch) => sum + sketch.weight * cdfOf(sketch, x), 0) / total;
  // Bisection on the merged distribution: 60 halvings take any cores range below float precision.
  for (let step = 0; step < 60 && high - low > 1e-12; step++) {
    const middle = (low + high) / 2;
    if (share(middle) >= p) high = middle;
    else low = middle;
  }
  return high;
}

export function corePercentilesOf(sketches: QuantileSketch[], max: number): CorePercentiles | null {
  if (!sketches.some((sketch) => sketch.weight > 0)) return null;
  return {
    p50: mergedQuantile(sketches, 0.5),
    p90: mergedQuantile(sketches, 0.9),
    p95: mergedQuantile(sketches, 0.95),
    p99: mergedQuantile(sketches, 0.99),
    max,
  };
}
