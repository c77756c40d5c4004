/**
 * Configuration: defaults, overridden by an optional YAML file, overridden by environment variables.
 * Parsed and validated once at the entry point (`loadConfig`), then passed down as plain data.
 *
 * Every setting is one row of the settings table (common/settings.ts): its key in the YAML file, its
 * environment variable, its default, what it means and its parser. This module reads the sources and
 * layers them.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, hostname } from "node:os";
import { createHash } from "node:crypto";
import { isAbsolute, join, resolve } from "node:path";
import type { Node as YamlNode } from "yaml";
import { ConfigError } from "./errors.js";
import { maskValue } from "./mask-secrets.js";
import { InvalidSettingValue } from "./setting-parsers.js";
import { type ParsedSettings, type Setting, settings } from "./settings.js";

export { type ConfiguredRequest, MAX_BYTES } from "./setting-parsers.js";
export {
  LISTEN_ADDRESS,
  MAX_TIMER_MS,
  type Setting,
  settings,
  settingsTable,
  TRUST_ENTRY,
} from "./settings.js";

/** Where each setting's value was read from, for error messages. */
type Origin =
  { kind: "default" } | { kind: "env"; name: string } | { kind: "file"; file: string; line: number };

function describeOrigin(origin: Origin): string {
  if (origin.kind === "env") return `from ${origin.name}`;
  if (origin.kind === "file") return `at ${origin.file}:${origin.line}`;
  return "default";
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function closestKey(key: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  const best = settings
    .map((setting) => ({ key: setting.key, score: distance(key, setting.key) }))
    .sort((a, b) => a.score - b.score)[0];
  return best && best.score <= 3 ? best.key : undefined;
}

/** Flattens the YAML file into dotted keys with the line each value stands on. */
function readFile(file: string): Map<string, { value: unknown; line: number }> {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`config: cannot read ${file}: ${(error as Error).message}`);
  }
  // Loaded only when there is a file to read: the yaml package cost about 35 ms of CPU on every `run`
  // (BENCHMARKS.md "wrapper"), and most commands are configured by the environment alone.
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = createRequire(import.meta.url)(
    "yaml",
  ) as typeof import("yaml");
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const line = lineCounter.linePos(firstError.pos[0]).line;
    throw new ConfigError(`config: ${file}:${line}: not valid YAML: ${firstError.message.split("\n")[0]}`);
  }
  const values = new Map<string, { value: unknown; line: number }>();
  const lineOf = (node: YamlNode | null | undefined) =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const known = new Set(settings.map((setting) => setting.key));
  const walk = (node: unknown, prefix: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const key = prefix ? `${prefix}.${name}` : name;
      if (known.has(key)) {
        const valueNode = pair.value as YamlNode | null;
        values.set(key, {
          value:
            isMap(valueNode) || isSeq(valueNode)
              ? valueNode.toJSON()
              : isScalar(valueNode)
                ? valueNode.value
                : null,
          line: lineOf((valueNode ?? pair.key) as YamlNode),
        });
      } else if (isMap(pair.value) && settings.some((setting) => setting.key.startsWith(`${key}.`))) {
        walk(pair.value, key);
      } else {
        const hint = closestKey(key);
        throw new ConfigError(
          `config: ${file}:${lineOf(pair.key as YamlNode)}: unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}`,
        );
      }
    }
  };
  if (document.contents !== null) {
    if (!isMap(document.contents)) throw new ConfigError(`config: ${file}:1: expected a mapping of settings`);
    walk(document.contents, "");
  }
  return values;
}

/**
 * The spool's default: absolute, never under the working directory. Root (the `collect` daemon, `run`
 * under sudo) uses /var/lib/rightsize/spool (the FHS's /var/lib, as systemd's StateDirectory=rightsize);
 * any other user their XDG state folder ($XDG_STATE_HOME, else ~/.local/state: XDG Base Directory
 * Specification 0.8), which only they can write.
 */
export function defaultSpoolDir(env: NodeJS.ProcessEnv, euid = process.geteuid?.() ?? 0): string {
  if (euid === 0) return "/var/lib/rightsize/spool";
  const state = env.XDG_STATE_HOME;
  const base = state && isAbsolute(state) ? state : join(env.HOME || homedir(), ".local", "state");
  return join(base, "rightsize", "spool");
}

/**
 * The default spool of an embedded database: a folder of its own under the default spool, named by a hash
 * of the database folder's absolute path. Every `run` without a live owner spools there (db/embedded.ts),
 * and whichever command next opens that database replays it: rows meant for one folder never go into
 * another. A Postgres database keeps the shared default (a host's collectors write to one server).
 */
export function embeddedSpoolDir(spoolDir: string, databaseUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(databaseUrl) && !databaseUrl.startsWith("pglite://")) return spoolDir;
  const folder = resolve(databaseUrl.replace(/^pglite:\/\//, ""));
  return join(spoolDir, "embedded", createHash("sha256").update(folder).digest("hex").slice(0, 16));
}

function defaultValue(setting: Setting, env: NodeJS.ProcessEnv): unknown {
  if (setting.key === "collector.hostId") return hostname();
  if (setting.key === "collector.spoolDir") return defaultSpoolDir(env);
  return setting.default;
}

/**
 * A value as an error message shows it: a secret setting's value masked whole, a URL's password masked
 * (also in a malformed URL, which is when it is shown), so a bad `SMTP_URL` never prints its password.
 */
function showValue(setting: Setting, raw: unknown): string {
  const masked = [setting.key, setting.env ?? ""].reduce<unknown>(
    (value, name) => (typeof value === "string" && name !== "" ? maskValue(name, value) : value),
    typeof raw === "string" ? raw : JSON.stringify(raw),
  );
  return typeof raw === "string" ? JSON.stringify(masked) : String(masked);
}

/**
 * Reads the configuration once: defaults, then `file` (YAML), then `env`. Throws {@link ConfigError} with
 * one line naming the key, the value, where it came from and what is expected.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = options.env ?? process.env;
  const fromFile = options.file
    ? readFile(options.file)
    : new Map<string, { value: unknown; line: number }>();
  const result: Record<string, unknown> = {};
  let spoolDirFromDefault = false;
  for (const setting of settings) {
    let raw: unknown = defaultValue(setting, env);
    let origin: Origin = { kind: "default" };
    const fileValue = fromFile.get(setting.key);
    if (fileValue) {
      raw = fileValue.value;
      origin = { kind: "file", file: options.file!, line: fileValue.line };
    }
    const envValue = setting.env ? env[setting.env] : undefined;
    if (setting.env && envValue !== undefined && envValue !== "") {
      raw = envValue;
      origin = { kind: "env", name: setting.env };
    }
    let parsed: unknown;
    try {
      parsed = setting.parse(raw);
    } catch (error) {
      if (!(error instanceof InvalidSettingValue)) throw error;
      throw new ConfigError(
        `config: ${setting.key} = ${showValue(setting, raw)} (${describeOrigin(origin)}): expected ${setting.expected}${error.message ? ` (${error.message})` : ""}`,
      );
    }
    setPath(result, setting.key, parsed);
    if (setting.key === "collector.spoolDir") spoolDirFromDefault = origin.kind === "default";
  }
  // Each row of the table set its own `section.name` once, to its parser's value: the shape
  // ParsedSettings derives from the same rows.
  const config = toConfig(result as ParsedSettings);
  if (spoolDirFromDefault)
    config.collector.spoolDir = embeddedSpoolDir(config.collector.spoolDir, config.database.url);
  checkRetention(config.retention);
  return config;
}

/**
 * A run is deleted with its summary and rollup after retention.runs: its samples, per-process rows and
 * host samples must be gone by then, or they would outlive the run they belong to.
 */
function checkRetention(retention: Config["retention"]): void {
  const shorter = (
    [
      ["retention.days", retention.days],
      ["retention.processes", retention.processesDays],
      ["retention.hostSamples", retention.hostSamplesDays],
    ] as const
  ).find(([, days]) => days > retention.runsDays);
  if (shorter)
    throw new ConfigError(
      `config: retention.runs = ${retention.runsDays}d is shorter than ${shorter[0]} = ${shorter[1]}d: expected retention.runs at least as long, so a run outlives its rows`,
    );
}

/** The configuration every command receives: the parsed settings, a few named for their units. */
export type Config = ReturnType<typeof toConfig>;

/** Renames the few settings whose user-facing names carry a unit the typed config spells out. */
function toConfig(parsed: ParsedSettings) {
  const { interval, ...collector } = parsed.collector;
  const { window, ...analysis } = parsed.analysis;
  const { partitionsAhead, processes, hostSamples, runs, ...retention } = parsed.retention;
  const { statsdInterval, ...metrics } = parsed.metrics;
  const { minMemory, ...check } = parsed.check;
  // The history apart from the base prices: every reader of `config.pricing` (the night's cost, the
  // analysis document's prices) keeps its two numbers; common/pricing.ts `pricingSettingsOf` joins them.
  const { history, ...pricing } = parsed.pricing;
  return {
    ...parsed,
    pricing,
    priceHistory: history,
    collector: { ...collector, intervalMs: interval },
    analysis: { windowDays: window, ...analysis },
    retention: {
      ...retention,
      partitionsAheadDays: partitionsAhead,
      processesDays: processes,
      hostSamplesDays: hostSamples,
      runsDays: runs,
    },
    metrics: { ...metrics, statsdIntervalMs: statsdInterval },
    check: { ...check, minMemoryBytes: minMemory },
  };
}
