/**
 * Quantity maths for declared requests (pure): parse the literals DAG and flow files use for CPU and
 * memory into cores and bytes, round recommendations to friendly steps, and write a new value in the
 * style the literal already had ("2Gi" stays a string in Gi, 2048 stays an int, "500m" stays millicores,
 * 0.5 stays a float).
 */
import { formatBytes, GiB, MiB } from "../common/units.js";

/** How a declared value is to be read. */
export type QuantityUnit =
  /** Kubernetes CPU quantity: "500m", "2", 0.5 (cores). */
  | "k8s-cpu"
  /** Kubernetes memory quantity: "2Gi", "512M", "1e9", 1073741824 (bytes). */
  | "k8s-memory"
  /** Airflow `resources={"cpus": …}`: cores. */
  | "cores"
  /** Airflow `resources={"ram": …}`: megabytes, read as MiB (see docs/requests.md). */
  | "MB"
  /** ECS `cpu` job variable: CPU units, 1024 = 1 vCPU. */
  | "ecs-cpu-units"
  /** ECS `memory` job variable: MiB. */
  | "MiB";

/** A literal as written: a number (`2048`, `0.5`, `1e3`) or the text inside a string's quotes (`2Gi`). */
export interface Literal {
  kind: "number" | "string";
  text: string;
}

/** ECS: "1024 CPU units = 1 vCPU" (AWS ECS task definition parameters, `cpu`). */
export const ecsUnitsPerCore = 1024;

const suffixFactors: Record<string, number> = {
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

// The Kubernetes quantity grammar (k8s.io/apimachinery resource.Quantity): a signed decimal number
// followed by a binary suffix, a decimal suffix or a decimal exponent.
const quantityPattern =
  /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** Parses a Kubernetes quantity into its base unit (cores or bytes); NaN when it isn't one. */
export function parseKubernetesQuantity(text: string): number {
  const match = quantityPattern.exec(text.trim());
  if (!match) return Number.NaN;
  const number = Number(match[1]);
  if (match[2]) return Number(`${match[1]}${match[2]}`);
  return match[3] ? number * suffixFactors[match[3]]! : number;
}

/** Python and YAML number literals: `2048`, `2_048`, `0.5`, `1e3`; NaN for anything else (hex, …). */
function parseNumberText(text: string): number {
  const cleaned = text.trim().replace(/_/g, "");
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(cleaned)) return Number.NaN;
  return Number(cleaned);
}

/** The declared value in cores (CPU units) or bytes (memory units); NaN when the literal can't be read. */
export function parseDeclared(unit: QuantityUnit, literal: Literal): number {
  const plain = parseNumberText(literal.text);
  switch (unit) {
    case "k8s-cpu":
    case "k8s-memory":
      return literal.kind === "number" ? plain : parseKubernetesQuantity(literal.text);
    case "cores":
      return plain;
    case "MB":
    case "MiB":
      return plain * MiB;
    case "ecs-cpu-units":
      return plain / ecsUnitsPerCore;
  }
}

/** Is the unit a CPU unit (cores) rather than a memory unit (bytes)? */
export function isCpuUnit(unit: QuantityUnit): boolean {
  return unit === "k8s-cpu" || unit === "cores" || unit === "ecs-cpu-units";
}

/**
 * Rounds cores up to a step a reviewer reads at a glance: 0.05 below one core, 0.25 below four, 0.5
 * above. The steps are ours (docs/requests.md): coarse enough that a nightly wobble of a few millicores
 * doesn't produce a new diff every night.
 */
export function friendlyCores(cores: number): number {
  const step = cores < 1 ? 0.05 : cores < 4 ? 0.25 : 0.5;
  return roundUpToStep(Math.max(cores, 0.05), step);
}

/**
 * Rounds bytes up to 64 MiB below 1 GiB, 256 MiB below 8 GiB, 1 GiB above (our steps, docs/requests.md:
 * the same reason as {@link friendlyCores}).
 */
export function friendlyBytes(bytes: number): number {
  const step = bytes < GiB ? 64 * MiB : bytes < 8 * GiB ? 256 * MiB : GiB;
  return roundUpToStep(Math.max(bytes, 64 * MiB), step);
}

/** Fargate's valid task CPU values (AWS ECS developer guide, "Task CPU and memory"). */
const ecsCpuSteps = [256, 512, 1024, 2048, 4096, 8192, 16384];

function roundUpToStep(value: number, step: number): number {
  // The small epsilon keeps 0.1 + 0.2-style noise from pushing an exact step to the next one.
  return Math.ceil(value / step - 1e-9) * step;
}

/** Rounds up to `digits` decimals and prints without trailing zeros. */
function decimal(value: number, digits: number): string {
  const scale = 10 ** digits;
  const rounded = Math.ceil(value * scale - 1e-6) / scale;
  return String(Number(rounded.toFixed(digits)));
}

/** Keeps a float looking like a float: `1` → `1.0`. */
function asFloat(text: string): string {
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

interface NumberStyle {
  integer: boolean;
  exponent: string | null;
}

function numberStyle(text: string): NumberStyle {
  const exponent = /([eE][+-]?\d+)$/.exec(text.trim())?.[1] ?? null;
  return { integer: !/[.eE]/.test(text), exponent };
}

/** Writes `value` (already in the literal's own unit) in the number style of `text`. */
function writeNumber(text: string, value: number, fractionDigits: number): string {
  const style = numberStyle(text);
  if (style.exponent) {
    const power = Number(style.exponent.slice(1));
    return `${decimal(value / 10 ** power, 3)}${style.exponent}`;
  }
  if (style.integer) return Number.isInteger(value) ? String(value) : decimal(value, fractionDigits);
  return asFloat(decimal(value, fractionDigits));
}

/**
 * The friendly form of a recommendation for this unit: cores or bytes, rounded up to the steps above (and
 * to Fargate's CPU values or 512 MiB for ECS).
 */
export function friendlyValue(unit: QuantityUnit, value: number): number {
  if (unit === "ecs-cpu-units") {
    const units = value * ecsUnitsPerCore;
    return (ecsCpuSteps.find((step) => step >= units - 1e-9) ?? ecsCpuSteps.at(-1)!) / ecsUnitsPerCore;
  }
  // ECS memory: Fargate accepts 512 MiB and then whole GiB steps; 512 MiB steps are what the smallest
  // task sizes allow (AWS ECS developer guide, "Task CPU and memory").
  if (unit === "MiB") return roundUpToStep(Math.max(value, 512 * MiB), 512 * MiB);
  return isCpuUnit(unit) ? friendlyCores(value) : friendlyBytes(value);
}

/**
 * Writes `value` (cores or bytes, already friendly) as the text of a new literal in the style of
 * `original`: the same kind (number or string), the same suffix or exponent, integer or float.
 * For strings the result is the text between the quotes.
 */
export function formatLike(unit: QuantityUnit, original: Literal, value: number): string {
  switch (unit) {
    case "MB":
    case "MiB":
      return writeNumber(original.text, Math.ceil(value / MiB - 1e-9), 0);
    case "ecs-cpu-units":
      return writeNumber(original.text, Math.ceil(value * ecsUnitsPerCore - 1e-9), 0);
    case "cores":
      return writeNumber(original.text, value, 3);
    case "k8s-cpu":
    case "k8s-memory": {
      if (original.kind === "number") return writeNumber(original.text, value, unit === "k8s-cpu" ? 3 : 0);
      const match = quantityPattern.exec(original.text.trim());
      const suffix = match?.[3];
      const exponent = match?.[2];
      if (suffix) {
        const factor = suffixFactors[suffix]!;
        // Millicores and Ki/Mi/k/M are written whole; G/Gi and larger in quarters ("1.25Gi"), so a
        // 640 MiB recommendation reads "0.75Gi", not "0.63Gi".
        const quantum = factor >= 1e9 ? 0.25 : 1;
        return `${Number((Math.ceil(value / factor / quantum - 1e-6) * quantum).toFixed(2))}${suffix}`;
      }
      if (exponent) return writeNumber(`1${exponent}`, value, 3);
      const text = match?.[1] ?? original.text;
      return writeNumber(text, value, unit === "k8s-cpu" ? 3 : 0);
    }
  }
}

/** Cores or bytes for people: `0.5 cores`, `2 GiB`. */
export function describeValue(unit: QuantityUnit, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  if (!isCpuUnit(unit)) return formatBytes(value);
  const cores = Number(value.toFixed(3));
  return `${cores} ${cores === 1 ? "core" : "cores"}`;
}
