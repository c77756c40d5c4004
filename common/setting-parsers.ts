/**
 * The parsers of configuration settings (common/settings.ts): small plain functions rather than zod
 * schemas, because `rightsize run` loads the settings table around every task it wraps and importing
 * zod cost about 55 ms of CPU there (BENCHMARKS.md "wrapper").
 */
import { parseBytes, parseDurationMs } from "./units.js";

/**
 * Turns a raw value (a YAML scalar, list or mapping, or an environment variable's text) into a setting's
 * value; throws {@link InvalidSettingValue} when it is not one. The loader turns that into an error naming
 * the key, the value, where it came from and what the setting expects.
 */
export type SettingParser<T = unknown> = (raw: unknown) => T;

/**
 * A raw value a setting's parser refused; the loader says which setting and what it expects, and adds
 * the message when there is one (which entry of a list, which field).
 */
export class InvalidSettingValue extends Error {
  override name = "InvalidSettingValue";
}

/** Largest byte count stored exactly (int8 columns, JavaScript numbers: Number.MAX_SAFE_INTEGER). */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

function refuse(why?: string): never {
  throw new InvalidSettingValue(why);
}

/** `parser`, then `accept` on its result. */
export function where<T>(parser: SettingParser<T>, accept: (value: T) => boolean): SettingParser<T> {
  return (raw) => {
    const value = parser(raw);
    return accept(value) ? value : refuse();
  };
}

/**
 * `parser`, then `convert` its result. Not named `then`: a module exporting `then` is a thenable, and
 * `await import()` of it never settles.
 */
export function converted<T, U>(parser: SettingParser<T>, convert: (value: T) => U): SettingParser<U> {
  return (raw) => convert(parser(raw));
}

export const string: SettingParser<string> = (raw) => (typeof raw === "string" ? raw : refuse());
export const text = where(string, (value) => value.length > 0);
/** A string; empty or absent (YAML `key:`): unset. */
export const optionalText: SettingParser<string | null> = (raw) =>
  raw === null ? null : string(raw) === "" ? null : (raw as string);
export const matching = (pattern: RegExp) => where(string, (value) => pattern.test(value));
export const oneOf = <T extends string>(...values: T[]): SettingParser<T> =>
  where(string, (value) => (values as string[]).includes(value)) as SettingParser<T>;

/** A finite number: YAML gives numbers, the environment decimal text. */
export const numeric: SettingParser<number> = (raw) => {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : refuse();
  const value = string(raw).trim();
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : refuse();
};
export const inRange = (min: number, max: number) => where(numeric, (value) => value >= min && value <= max);
/** A duration in ms: text such as `500ms` or `14d`, or a number of seconds. */
export const duration = where<number>(
  (raw) => (typeof raw === "number" ? raw * 1000 : parseDurationMs(string(raw))),
  (ms) => Number.isFinite(ms) && ms > 0,
);
/** Durations a time window or retention may span: up to 100 years (Date arithmetic stays exact). */
export const days = converted(
  where(duration, (ms) => ms <= 100 * 365 * 86_400_000),
  (ms) => ms / 86_400_000,
);
/** A size in bytes: text such as `512MiB`, or a number of bytes. */
export const bytes = where<number>(
  (raw) => (typeof raw === "number" ? raw : parseBytes(string(raw))),
  (value) => Number.isFinite(value) && value >= 0 && value <= MAX_BYTES,
);
export const fraction = inRange(0, 5);
export const positiveInt = where(numeric, (value) => Number.isInteger(value) && value > 0);
export const percentile = inRange(1, 100);
export const price = where(numeric, (value) => value >= 0);
/** A YAML list of strings, or comma-separated text. */
export const list: SettingParser<string[]> = (raw) => {
  if (Array.isArray(raw)) return raw.every((item) => typeof item === "string") ? raw : refuse();
  return string(raw)
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
};
export const boolean: SettingParser<boolean> = (raw) => {
  if (typeof raw === "boolean") return raw;
  const value = string(raw).trim().toLowerCase();
  if (["true", "1", "yes"].includes(value)) return true;
  return ["false", "0", "no"].includes(value) ? false : refuse();
};
/** Where a folder of the worker's image (absolute) comes from in the repository (relative, inside it). */
export interface ImagePath {
  image: string;
  repository: string;
}

/** `IMAGE_FOLDER=REPOSITORY_FOLDER` pairs (a list): absolute image folders, repository folders inside it. */
export const imagePaths: SettingParser<ImagePath[]> = (raw) =>
  list(raw).map((pair) => {
    const at = pair.indexOf("=");
    const image = pair.slice(0, at).trim().replace(/\/+$/, "");
    const repository = pair
      .slice(at + 1)
      .trim()
      .replace(/^\.\/|\/+$/g, "");
    const parts = repository.split("/");
    if (at < 1 || !image.startsWith("/") || repository.startsWith("/") || parts.includes("..")) refuse();
    return { image, repository: repository === "." ? "" : repository };
  });

/** `host:port` (a bracketed IPv6 host allowed); empty: unset. */
export const hostPort: SettingParser<{ host: string; port: number } | null> = (raw) => {
  const value = optionalText(raw);
  if (value === null) return null;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value)) refuse();
  const at = value.lastIndexOf(":");
  const port = Number(value.slice(at + 1));
  return port > 0 && port < 65_536 ? { host: value.slice(0, at).replace(/^\[|\]$/g, ""), port } : refuse();
};
export const url = (schemes: string[]) =>
  where(optionalText, (value) => value === null || schemes.some((scheme) => value.startsWith(scheme)));
/**
 * An IANA time zone, as Intl knows it. UTC, the default, is taken as is: the first Intl.DateTimeFormat
 * loads ICU's zone data, about 12 ms of CPU every `run` would pay for a zone only the nightly job uses
 * (`node -e` timing the first construction, BENCHMARKS.md "wrapper").
 */
export const timezone = where(string, (zone) => {
  if (zone === "UTC") return true;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
});
/** A field of a YAML mapping, parsed when present. */
function optionalField<T>(
  object: Record<string, unknown>,
  name: string,
  parser: SettingParser<T>,
): T | undefined {
  return object[name] === undefined ? undefined : parser(object[name]);
}

/** A declared request from configuration, for tasks whose DAG/flow files declare none. */
export interface ConfiguredRequest {
  orchestrator?: string;
  pipeline: string;
  /** Omitted: every task of the pipeline. */
  task?: string;
  cpuCores?: number;
  /** `memory` in the file, a size such as `2GiB`. */
  memoryBytes?: number;
}

/** `analysis.requests`: a list of { pipeline, task?, orchestrator?, cpuCores?, memory? }. */
export const requests: SettingParser<ConfiguredRequest[]> = (raw) => {
  if (!Array.isArray(raw)) refuse();
  return (raw as unknown[]).map((item) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) refuse();
    const object = item as Record<string, unknown>;
    const fields = {
      orchestrator: optionalField(object, "orchestrator", string),
      pipeline: string(object.pipeline),
      task: optionalField(object, "task", string),
      cpuCores: optionalField(
        object,
        "cpuCores",
        where(numeric, (value) => value > 0),
      ),
      memoryBytes: optionalField(object, "memory", bytes),
    };
    // Keys it does not name are dropped; absent ones stay absent.
    return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as {
      pipeline: string;
    };
  });
};

/** An entry of `pricing.history` (common/pricing.ts): the prices it names, from the day it took effect. */
export interface ConfiguredPriceChange {
  from: Date;
  cpuHourUsd?: number;
  memoryGibHourUsd?: number;
}

const priceChangeFields = ["from", "cpuHourUsd", "memoryGibHourUsd"];

/**
 * `pricing.history`: a list of { from: DATE, cpuHourUsd?, memoryGibHourUsd? }, dates in increasing order,
 * each entry naming at least one price. A field it does not know is refused, so a misspelt price is never
 * silently left at the old one.
 */
export const priceHistory: SettingParser<ConfiguredPriceChange[]> = (raw) => {
  if (raw === null || raw === "") return [];
  if (!Array.isArray(raw)) refuse("not a list");
  let previous: Date | null = null;
  return (raw as unknown[]).map((item, index) => {
    const entry = `entry ${index + 1}`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) refuse(`${entry} is not a mapping`);
    const object = item as Record<string, unknown>;
    const unknown = Object.keys(object).find((key) => !priceChangeFields.includes(key));
    if (unknown !== undefined)
      refuse(`${entry}: unknown field '${unknown}', expected ${priceChangeFields.join(", ")}`);
    const fromRaw = object.from;
    const from =
      fromRaw instanceof Date
        ? fromRaw
        : typeof fromRaw === "string" &&
            /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(fromRaw)
          ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(fromRaw) ? `${fromRaw}T00:00:00Z` : fromRaw)
          : null;
    if (from === null || Number.isNaN(from.getTime()))
      refuse(`${entry}: from must be a date such as 2026-11-01`);
    if (previous !== null && from.getTime() <= previous.getTime())
      refuse(`${entry}: from must come after the entry before it`);
    previous = from;
    const priceField = (name: "cpuHourUsd" | "memoryGibHourUsd") => {
      if (object[name] === undefined) return undefined;
      try {
        return price(object[name]);
      } catch {
        return refuse(`${entry}: ${name} must be a price in USD of 0 or more`);
      }
    };
    const change: ConfiguredPriceChange = { from };
    const cpu = priceField("cpuHourUsd");
    const memory = priceField("memoryGibHourUsd");
    if (cpu === undefined && memory === undefined)
      refuse(`${entry}: names no price (cpuHourUsd or memoryGibHourUsd)`);
    if (cpu !== undefined) change.cpuHourUsd = cpu;
    if (memory !== undefined) change.memoryGibHourUsd = memory;
    return change;
  });
};
