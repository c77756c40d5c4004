/** Percentiles over small per-run series (one value per run), with simple-statistics. Pure. */
import { max as maxOf, median as medianOf, quantile } from "simple-statistics";

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

export function maxOrZero(values: ReadonlyArray<number | null>): number {
  return percentileOf(values, 1);
}

export function sum(values: ReadonlyArray<number | null>): number {
  let total = 0;
  for (const value of values) if (value !== null && Number.isFinite(value)) total += value;
  return total;
}

/** Rounds up to a step (50 millicores, 64 MiB): requests are written in round quantities. */
export function roundUpTo(value: number, step: number): number {
  // The epsilon keeps 0.35000000000000003 from becoming 0.4 when it means 0.35.
  const steps = Math.ceil(value / step - 1e-9);
  return Number((steps * step).toFixed(6));
}

/** A fraction as a whole percentage for sentences: 0.712 → "71 %". */
export function percentText(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

/** Cores for sentences: 2 decimals at most. */
export function coresText(cores: number): string {
  return `${Number(cores.toFixed(2))}`;
}
