/**
 * Number formats for people, shared by every report format and the email. Bytes and durations come from
 * common/units.ts; this adds cores, shares and money. Missing values print as an en dash.
 */
import { formatBytes, formatDuration } from "../common/units.js";

export { formatBytes, formatDuration };

const dash = "–";

function missing(value: number | null | undefined): value is null | undefined {
  return value === null || value === undefined || !Number.isFinite(value);
}

/** `0.25 cores`, `1 core`, `12 cores`: two significant decimals below 10, whole numbers above. */
export function formatCores(cores: number | null | undefined): string {
  if (missing(cores)) return dash;
  const digits = Math.abs(cores) >= 10 ? 0 : 2;
  const text = Number(cores.toFixed(digits)).toString();
  return `${text} ${text === "1" ? "core" : "cores"}`;
}

/** A fraction as a percentage: 0.425 → `43 %`; below 1 % one decimal so small shares don't read as zero. */
export function formatPercent(fraction: number | null | undefined): string {
  if (missing(fraction)) return dash;
  const percent = fraction * 100;
  const digits = percent !== 0 && Math.abs(percent) < 1 ? 1 : 0;
  return `${Number(percent.toFixed(digits))} %`;
}

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const usdCents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

const usdSmall = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumSignificantDigits: 2,
});

/**
 * `$1,234` (cents only under $10, where they matter). Negative amounts are costs: `-$12`. An amount that
 * would read `$0.00` but is not zero (a run of seconds costs a fraction of a cent) keeps two significant
 * digits: `$0.00013`.
 */
export function formatUsd(amount: number | null | undefined): string {
  if (missing(amount)) return dash;
  if (amount !== 0 && Math.abs(amount) < 0.005) return usdSmall.format(amount);
  return Math.abs(amount) < 10 ? usdCents.format(amount) : usd.format(amount);
}

/** A relative change: 0.42 → `+42 %`, -0.3 → `-30 %`. */
export function formatChange(change: number | null | undefined): string {
  if (missing(change)) return dash;
  const text = formatPercent(change);
  return change > 0 ? `+${text}` : text;
}

/** An ISO-8601 instant as `2026-11-21 02:00 UTC`; text that is not a time is returned as it is. */
export function formatInstant(text: string | null | undefined): string {
  if (text === null || text === undefined) return dash;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
