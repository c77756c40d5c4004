/** Bounds on what a user gives: a value a timer, a column or a size cannot hold is a clear error. */
import { describe, expect, it } from "vitest";
import { defaultSpoolDir, loadConfig } from "./config.js";

describe("configuration bounds", () => {
  it.each([
    ["RIGHTSIZE_INTERVAL", "25d", "collector.interval"],
    ["RIGHTSIZE_INTERVAL", "10ms", "collector.interval"],
    ["RIGHTSIZE_SPOOL_MAX", "9999999PiB", "collector.spoolMaxBytes"],
    ["RIGHTSIZE_WINDOW", "100000000d", "analysis.window"],
    ["RIGHTSIZE_TRUST", "everybody", "collector.trust"],
    ["RIGHTSIZE_METRICS_LISTEN", "127.0.0.1:99999", "collector.metricsListen"],
    ["RIGHTSIZE_METRICS_LISTEN", "9464", "collector.metricsListen"],
  ])("%s=%s is refused naming %s", (variable, value, key) => {
    expect(() => loadConfig({ env: { [variable]: value } })).toThrow(
      new RegExp(`^config: ${key.replace(".", "\\.")} `),
    );
  });

  it("accepts the largest tick a timer holds and a listen address", () => {
    const config = loadConfig({
      env: {
        RIGHTSIZE_INTERVAL: "24d",
        RIGHTSIZE_METRICS_LISTEN: "[::1]:9464",
        RIGHTSIZE_TRUST: "root,uid:50000,user:airflow",
      },
    });
    expect(config.collector.intervalMs).toBe(24 * 86_400_000);
    expect(config.collector.metricsListen).toBe("[::1]:9464");
    expect(config.collector.trust).toEqual(["root", "uid:50000", "user:airflow"]);
  });
});

describe("spool folder default", () => {
  it("is absolute: /var/lib/rightsize/spool for root, the XDG state folder for anyone else", () => {
    expect(defaultSpoolDir({}, 0)).toBe("/var/lib/rightsize/spool");
    expect(defaultSpoolDir({ XDG_STATE_HOME: "/home/ann/.state", HOME: "/home/ann" }, 1000)).toBe(
      "/home/ann/.state/rightsize/spool",
    );
    expect(defaultSpoolDir({ XDG_STATE_HOME: "relative", HOME: "/home/ann" }, 1000)).toBe(
      "/home/ann/.local/state/rightsize/spool",
    );
  });

  it("is one folder per embedded database, the shared one for Postgres, and as given when set", () => {
    const base = defaultSpoolDir({ HOME: "/home/ann" });
    const one = loadConfig({ env: { HOME: "/home/ann", DATABASE_URL: "/srv/a/.rightsize/db" } });
    const same = loadConfig({ env: { HOME: "/home/ann", DATABASE_URL: "pglite:///srv/a/.rightsize/db" } });
    const other = loadConfig({ env: { HOME: "/home/ann", DATABASE_URL: "/srv/b/.rightsize/db" } });
    expect(one.collector.spoolDir).toMatch(new RegExp(`^${base}/embedded/[0-9a-f]{16}$`));
    expect(same.collector.spoolDir).toBe(one.collector.spoolDir);
    expect(other.collector.spoolDir).not.toBe(one.collector.spoolDir);
    const server = loadConfig({ env: { HOME: "/home/ann", DATABASE_URL: "postgres://u@db:5432/r" } });
    expect(server.collector.spoolDir).toBe(base);
    const given = loadConfig({
      env: { HOME: "/home/ann", DATABASE_URL: "/srv/a/.rightsize/db", RIGHTSIZE_SPOOL_DIR: "/var/spool/rs" },
    });
    expect(given.collector.spoolDir).toBe("/var/spool/rs");
  });

  it("a relative folder from the environment is made absolute once, at start", () => {
    const config = loadConfig({ env: { RIGHTSIZE_SPOOL_DIR: "rel/spool" } });
    expect(config.collector.spoolDir).toBe(`${process.cwd()}/rel/spool`);
  });
});
