/**
 * Quantity maths for every room (config, CLI flags, declared requests, output): durations, byte sizes,
 * cores and Kubernetes quantities. The one quantity parser. Pure functions.
 */

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `500ms`, `1s`, `1.5m`, `2h`, `14d`, `1w` (a bare number is seconds) into milliseconds; NaN if malformed. */
export function parseDurationMs(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!match) return Number.NaN;
  return Number(match[1]) * (durationUnits[match[2] ?? "s"] ?? Number.NaN);
}

/** Kubernetes quantity suffixes (k8s.io/apimachinery pkg/api/resource/quantity.go, "suffix"). */
export const quantitySuffixFactors: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/**
 * The Kubernetes quantity grammar (k8s.io/apimachinery pkg/api/resource/quantity.go): a signed decimal
 * number followed by a binary suffix, a decimal suffix or a decimal exponent. Groups: 1 number,
 * 2 exponent, 3 suffix.
 */
export const quantityPattern =
  /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** Parses a Kubernetes quantity into its base unit (cores or bytes); NaN when it isn't one. */
export function parseKubernetesQuantity(text: string): number {
  const match = quantityPattern.exec(text.trim());
  if (!match) return Number.NaN;
  const number = Number(match[1]);
  if (match[2]) return Number(`${match[1]}${match[2]}`);
  return match[3] ? number * quantitySuffixFactors[match[3]]! : number;
}

/** Cores from `2`, `0.5`, `500m` (a Kubernetes CPU quantity); NaN when malformed or not above zero. */
export function parseCores(text: string): number {
  const cores = parseKubernetesQuantity(text);
  return Number.isFinite(cores) && cores > 0 ? cores : Number.NaN;
}

/** The spellings people write sizes in besides Kubernetes quantities (`1GiB`, `64 MB`, `512m` = MB). */
const byteUnits: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a size into bytes: a Kubernetes memory quantity (`512Mi`, `2G`, `1e9`, `1073741824`) or the
 * human spellings (`1GiB`, `64 MB`); NaN if malformed. Sub-unit suffixes (`m`, `u`, `n`) mean nothing
 * for bytes, so `512m` is read as people mean it in a size: megabytes.
 */
export function parseBytes(text: string): number {
  const match = quantityPattern.exec(text.trim());
  if (match && !["m", "u", "n"].includes(match[3] ?? "")) {
    const bytes = parseKubernetesQuantity(text);
    return bytes >= 0 ? Math.round(bytes) : Number.NaN;
  }
  const human = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!human) return Number.NaN;
  const unit = (human[2] ?? "").toLowerCase();
  const factor = unit === "" ? 1 : byteUnits[unit];
  return factor === undefined ? Number.NaN : Math.round(Number(human[1]) * factor);
}

/** `1536 MiB` → `1.5 GiB`: binary units, at most one decimal, for people. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${sign}${value.toFixed(digits).replace(/\.0$/, "")} ${units[unit]}`;
}

/** Seconds → `850 ms`, `42 s`, `3m 20s`, `2h 05m`, for people. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m ${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;
