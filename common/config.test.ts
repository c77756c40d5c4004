import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, settings } from "./config.js";
import { ConfigError } from "./errors.js";

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "rightsize-config-")), "rightsize.yaml");
  writeFileSync(file, text);
  return file;
}

describe("loadConfig", () => {
  it("documents a default for every setting and loads them with no file and no environment", () => {
    const config = loadConfig({ env: {} });
    expect(config.database.url).toBe("./.rightsize/db");
    expect(config.redis.url).toBeNull();
    expect(config.collector.intervalMs).toBe(1000);
    expect(config.collector.spoolMaxBytes).toBe(1024 ** 3);
    expect(config.analysis.windowDays).toBe(14);
    expect(config.analysis.maxRuns).toBe(100);
    expect(config.analysis.cpuBuffer).toBe(0.15);
    expect(config.pricing).toEqual({ cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 });
    expect(config.retention).toEqual({
      days: 30,
      partitionsAheadDays: 7,
      processesDays: 14,
      hostSamplesDays: 30,
      runsDays: 400,
    });
    expect(config.check.minMemoryBytes).toBe(512 * 1024 ** 2);
    expect(config.email.to).toEqual([]);
    for (const setting of settings) {
      expect(setting.description.length, setting.key).toBeGreaterThan(10);
      expect(setting.expected.length, setting.key).toBeGreaterThan(3);
    }
  });

  it("layers file under environment", () => {
    const file = yamlFile(
      [
        "collector:",
        "  interval: 500ms",
        "analysis:",
        "  window: 7d",
        "  requests:",
        "    - pipeline: etl_daily",
        "      task: load",
        "      cpuCores: 2",
        "      memory: 4GiB",
        "email:",
        "  to: [a@example.com, b@example.com]",
      ].join("\n"),
    );
    const config = loadConfig({
      file,
      env: { RIGHTSIZE_WINDOW: "3d", RIGHTSIZE_EMAIL_TO: "ops@example.com, x@y.z" },
    });
    expect(config.collector.intervalMs).toBe(500);
    expect(config.analysis.windowDays).toBe(3);
    expect(config.analysis.requests).toEqual([
      { pipeline: "etl_daily", task: "load", cpuCores: 2, memoryBytes: 4 * 1024 ** 3 },
    ]);
    expect(config.email.to).toEqual(["ops@example.com", "x@y.z"]);
  });

  it("names key, value, origin and expectation for a bad environment value", () => {
    expect(() => loadConfig({ env: { RIGHTSIZE_INTERVAL: "soon" } })).toThrow(
      new ConfigError(
        'config: collector.interval = "soon" (from RIGHTSIZE_INTERVAL): expected a duration such as 1s or 500ms',
      ),
    );
    expect(() => loadConfig({ env: { REDIS_URL: "localhost:6379" } })).toThrow(
      /redis\.url .*expected redis:\/\//,
    );
    expect(() => loadConfig({ env: { RIGHTSIZE_TZ: "Mars/Olympus" } })).toThrow(/schedule\.timezone/);
    expect(() => loadConfig({ env: { RIGHTSIZE_PRICE_CPU_HOUR: "-1" } })).toThrow(
      /pricing\.cpuHourUsd = "-1"/,
    );
  });

  it("names file and line for a bad file value, a typo'd key and broken YAML", () => {
    const bad = yamlFile("log:\n  level: info\nanalysis:\n  maxRuns: many\n");
    expect(() => loadConfig({ file: bad, env: {} })).toThrow(
      `config: analysis.maxRuns = "many" (at ${bad}:4): expected a whole number above 0`,
    );
    const typo = yamlFile("collector:\n  intervl: 1s\n");
    expect(() => loadConfig({ file: typo, env: {} })).toThrow(
      `config: ${typo}:2: unknown key 'collector.intervl' (did you mean 'collector.interval'?)`,
    );
    const broken = yamlFile("collector:\n  interval: [1s\n");
    expect(() => loadConfig({ file: broken, env: {} })).toThrow(new RegExp(`${broken}:\\d+: not valid YAML`));
    expect(() => loadConfig({ file: "/nonexistent/rightsize.yaml", env: {} })).toThrow(
      /cannot read \/nonexistent\/rightsize.yaml/,
    );
  });

  it("reads every retention, names a typo'd one, and refuses runs kept shorter than their rows", () => {
    const file = yamlFile("retention:\n  processes: 7d\n  hostSamples: 10d\n  runs: 90d\n");
    expect(loadConfig({ file, env: {} }).retention).toEqual({
      days: 30,
      partitionsAheadDays: 7,
      processesDays: 7,
      hostSamplesDays: 10,
      runsDays: 90,
    });
    const typo = yamlFile("retention:\n  proceses: 7d\n");
    expect(() => loadConfig({ file: typo, env: {} })).toThrow(
      `config: ${typo}:2: unknown key 'retention.proceses' (did you mean 'retention.processes'?)`,
    );
    expect(() => loadConfig({ env: { RIGHTSIZE_RETENTION_PROCESSES: "a week" } })).toThrow(
      /config: retention.processes = "a week" \(from RIGHTSIZE_RETENTION_PROCESSES\): expected a duration such as 14d/,
    );
    expect(() => loadConfig({ env: { RIGHTSIZE_RETENTION_RUNS: "20d" } })).toThrow(
      "config: retention.runs = 20d is shorter than retention.days = 30d",
    );
  });
});

describe("README configuration reference", () => {
  it("is the settings table, so every documented setting exists and every setting is documented", async () => {
    const { readFileSync } = await import("node:fs");
    const { settingsTable } = await import("./config.js");
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(settingsTable());
  });
});

describe("setting parsers", () => {
  it("read YAML's own types and the environment's text alike", () => {
    const file = yamlFile(
      [
        "metrics:",
        "  runIds: true",
        "  statsd: '[::1]:8125'",
        "collector:",
        "  interval: 2",
        "  trust: [root, 'uid:1000']",
        "analysis:",
        "  requests:",
        "    - { pipeline: p, cpuCores: '1.5', memory: 512Mi, note: ignored }",
        "schedule:",
        "  timezone: Europe/Berlin",
      ].join("\n"),
    );
    const config = loadConfig({ file, env: { RIGHTSIZE_PRICE_CPU_HOUR: " 0.5 " } });
    expect(config.metrics.runIds).toBe(true);
    expect(config.metrics.statsd).toEqual({ host: "::1", port: 8125 });
    expect(config.collector.intervalMs).toBe(2000);
    expect(config.collector.trust).toEqual(["root", "uid:1000"]);
    expect(config.analysis.requests).toEqual([
      { pipeline: "p", cpuCores: 1.5, memoryBytes: 512 * 1024 ** 2 },
    ]);
    expect(Object.keys(config.analysis.requests[0]!)).toEqual(["pipeline", "cpuCores", "memoryBytes"]);
    expect(config.schedule.timezone).toBe("Europe/Berlin");
    expect(config.pricing.cpuHourUsd).toBe(0.5);
    expect(loadConfig({ env: { RIGHTSIZE_METRICS_RUN_IDS: "No" } }).metrics.runIds).toBe(false);
    expect(loadConfig({ env: { RIGHTSIZE_STATSD: "" } }).metrics.statsd).toBeNull();
  });

  it.each([
    ["analysis:\n  maxRuns: .inf\n", "analysis.maxRuns"],
    ["analysis:\n  cpuBuffer: 6\n", "analysis.cpuBuffer"],
    ["analysis:\n  maxRuns: 2.5\n", "analysis.maxRuns"],
    ["collector:\n  trust: [root, 7]\n", "collector.trust"],
    ["collector:\n  trust: []\n", "collector.trust"],
    ["collector:\n  hostId: 42\n", "collector.hostId"],
    ["analysis:\n  requests:\n    - task: t\n", "analysis.requests"],
    ["analysis:\n  requests:\n    - { pipeline: p, cpuCores: 0 }\n", "analysis.requests"],
    ["analysis:\n  requests: p\n", "analysis.requests"],
    ["metrics:\n  statsd: 'h:0'\n", "metrics.statsd"],
    ["metrics:\n  runIds: maybe\n", "metrics.runIds"],
    ["log:\n  level: loud\n", "log.level"],
    ["collector:\n  spoolMaxBytes: -1\n", "collector.spoolMaxBytes"],
    ["pricing:\n  history: { from: 2026-01-01 }\n", "pricing.history"],
  ])("refuses %j naming %s and its line", (text, key) => {
    const file = yamlFile(text);
    expect(() => loadConfig({ file, env: {} })).toThrow(
      new RegExp(`^config: ${key.replace(".", "\\.")} = .* \\(at ${file}:\\d+\\): expected `),
    );
  });
});

describe("pricing.history", () => {
  it("reads each price change with the day it took effect, oldest first", () => {
    const file = yamlFile(
      "pricing:\n  cpuHourUsd: 0.03\n  history:\n    - { from: 2026-09-01, cpuHourUsd: 0.04 }\n    - from: 2026-11-01T12:00:00Z\n      memoryGibHourUsd: 0.005\n      cpuHourUsd: 0.045\n",
    );
    const config = loadConfig({ file, env: {} });
    expect(config.pricing).toEqual({ cpuHourUsd: 0.03, memoryGibHourUsd: 0.004237 });
    expect(config.priceHistory).toEqual([
      { from: new Date("2026-09-01T00:00:00Z"), cpuHourUsd: 0.04 },
      { from: new Date("2026-11-01T12:00:00Z"), cpuHourUsd: 0.045, memoryGibHourUsd: 0.005 },
    ]);
    expect(loadConfig({ env: {} }).priceHistory).toEqual([]);
  });

  it.each([
    ["    - { from: 2026-11-01, cpuHourUSD: 0.04 }\n", "entry 1: unknown field 'cpuHourUSD'"],
    ["    - { from: 2026-11-01 }\n", "entry 1: names no price"],
    ["    - { from: soon, cpuHourUsd: 0.04 }\n", "entry 1: from must be a date such as 2026-11-01"],
    [
      "    - { from: 2026-11-01, cpuHourUsd: -1 }\n",
      "entry 1: cpuHourUsd must be a price in USD of 0 or more",
    ],
    [
      "    - { from: 2026-11-01, cpuHourUsd: 0.04 }\n    - { from: 2026-10-01, cpuHourUsd: 0.05 }\n",
      "entry 2: from must come after the entry before it",
    ],
  ])("refuses %j naming the setting, its line and the entry", (entries, why) => {
    const file = yamlFile(`pricing:\n  history:\n${entries}`);
    expect(() => loadConfig({ file, env: {} })).toThrow(
      new RegExp(`^config: pricing\\.history = .* \\(at ${file}:3\\): expected a list of .*\\(${why}`),
    );
  });
});
