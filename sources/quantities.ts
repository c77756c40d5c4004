/**
 * Quantity maths for declared requests (pure): read the literals DAG and flow files use for CPU and
 * memory into cores and bytes (through common/units.ts, the one quantity parser), find the value a
 * declaration's target will hold (common/sizing-policy.ts, the one sizing policy: nothing is rounded
 * again here), and write it in the style the literal already had ("2Gi" stays a string with a binary
 * suffix, 2048 stays an int, "500m" stays millicores, 0.5 stays a float).
 */
import { ECS_UNITS_PER_CORE, type SizingTarget, targetSize } from "../common/sizing-policy.js";
import {
  formatBytes,
  MiB,
  parseKubernetesQuantity,
  quantityPattern,
  quantitySuffixFactors,
} from "../common/units.js";

export { parseKubernetesQuantity };

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

export const ecsUnitsPerCore = ECS_UNITS_PER_CORE;

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

/** Which platform a declaration in this unit sizes: ECS job variables are Fargate's, the rest Kubernetes-like. */
export function targetOf(unit: QuantityUnit): SizingTarget {
  return unit === "ecs-cpu-units" || unit === "MiB" ? "ecs-fargate" : "kubernetes";
}

/**
 * The value a declaration in `unit` holds for a recommendation of `cores` and `bytes`: the sizing
 * policy's value for its target (Fargate sizes pair CPU with memory, so both are needed).
 */
export function targetValue(unit: QuantityUnit, cores: number, bytes: number): number {
  const size = targetSize(targetOf(unit), cores, bytes);
  return isCpuUnit(unit) ? size.cores : size.bytes;
}

/** The value a declaration in `unit` holds for one resource alone (a limit scaled from its request). */
export function targetValueOf(unit: QuantityUnit, value: number): number {
  return isCpuUnit(unit) ? targetValue(unit, value, 0) : targetValue(unit, 0, value);
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

/** Writes `value` (already in the literal's own unit) in the number style of `text`. */
function writeNumber(text: string, value: number, fractionDigits: number): string {
  const exponent = /([eE][+-]?\d+)$/.exec(text.trim())?.[1] ?? null;
  if (exponent) {
    const power = Number(exponent.slice(1));
    return `${decimal(value / 10 ** power, 3)}${exponent}`;
  }
  const integer = !/[.eE]/.test(text);
  if (integer) return Number.isInteger(value) ? String(value) : decimal(value, fractionDigits);
  return asFloat(decimal(value, fractionDigits));
}

/** Binary memory suffixes, largest first; a decimal suffix stands for the binary one of its rank. */
const binarySuffixes = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"];
const binaryOfDecimal: Record<string, string> = { k: "Ki", M: "Mi", G: "Gi", T: "Ti", P: "Pi", E: "Ei" };

/**
 * A count of a suffix that is whole up to float error. An absolute bound: one relative to the count let
 * 155,960,999,936 bytes pass as a whole 155961M, 64 bytes more than the value.
 */
function whole(value: number): boolean {
  return Math.abs(value - Math.round(value)) < 1e-6;
}

/**
 * Memory with a suffix, as people write it: the file's own suffix when the value is a whole number of
 * it (`2Gi`, `3000M`), else the largest binary suffix at or below the file's that gives a whole number
 * (`768Mi` where the file had `Gi`), never a fraction of a larger unit (`0.75Gi`).
 */
function memoryWithSuffix(suffix: string, bytes: number): string {
  const own = quantitySuffixFactors[suffix]!;
  if (whole(bytes / own)) return `${Math.round(bytes / own)}${suffix}`;
  const binary = binaryOfDecimal[suffix] ?? suffix;
  for (const candidate of binarySuffixes.slice(binarySuffixes.indexOf(binary))) {
    const count = bytes / quantitySuffixFactors[candidate]!;
    if (whole(count)) return `${Math.round(count)}${candidate}`;
  }
  return String(Math.ceil(bytes - 1e-6));
}

/**
 * Writes `value` (cores or bytes, the target's value) as the text of a new literal in the style of
 * `original`: the same kind (number or string), the same suffix or exponent where it holds the value
 * exactly, integer or float. For strings the result is the text between the quotes.
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
      const memory = unit === "k8s-memory";
      if (original.kind === "number") return writeNumber(original.text, value, memory ? 0 : 3);
      const match = quantityPattern.exec(original.text.trim());
      const suffix = match?.[3];
      const exponent = match?.[2];
      if (suffix && memory && quantitySuffixFactors[suffix]! >= 1) return memoryWithSuffix(suffix, value);
      // CPU with a suffix: millicores (or finer) are written whole at Kubernetes' 1m precision.
      if (suffix && !memory) return `${Math.ceil(value / quantitySuffixFactors[suffix]! - 1e-6)}${suffix}`;
      if (exponent) return writeNumber(`1${exponent}`, value, 3);
      const text = match?.[1] ?? original.text;
      return writeNumber(text, value, memory ? 0 : 3);
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
