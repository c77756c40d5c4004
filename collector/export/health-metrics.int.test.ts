/**
 * The collector's `/metrics` as scrapers see it: the built `rightsize collect --metrics-listen`
 * (`npm run build`) against the real Postgres, scraped with Prometheus' own `Accept` header and with
 * none. The text answer goes through promtool (`promtool check metrics`, Debian's `prometheus` package).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { useCollectorTestBed, waitUntil } from "../../test-support/collector-tests.js";
import { freePort } from "../../test-support/services.js";

const bed = useCollectorTestBed("rightsize-health-metrics-");

/** What Prometheus 2.x sends when it scrapes (scrape/scrape.go `scrapeAcceptHeader`). */
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/** Sample names each metric type may write in OpenMetrics 1.0 (its "Metric types" section). */
const OPENMETRICS_SUFFIXES: Record<string, string[]> = {
  counter: ["_total", "_created"],
  gauge: [""],
  histogram: ["_bucket", "_sum", "_count", "_created"],
};

/**
 * What is wrong with an OpenMetrics exposition, by the rules promtool does not check (it reads only the
 * 0.0.4 text format): every family has HELP and TYPE, every sample belongs to a declared family under a
 * name its type allows, and the text ends with `# EOF`.
 */
function openMetricsProblems(text: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.at(-1) !== "# EOF") problems.push("does not end with # EOF");
  for (const line of lines.slice(0, -1)) {
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") types.set(comment[2]!, comment[3]!);
      else helped.add(comment[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? \S+$/.exec(line);
    if (!sample) {
      problems.push(`not a sample: ${line}`);
      continue;
    }
    const name = sample[1]!;
    const family = [...types.keys()].find((family) =>
      (OPENMETRICS_SUFFIXES[types.get(family)!] ?? [""]).some((suffix) => name === `${family}${suffix}`),
    );
    if (family === undefined) problems.push(`sample ${name} belongs to no declared family`);
  }
  for (const family of types.keys()) if (!helped.has(family)) problems.push(`${family} has no HELP`);
  return problems;
}

describe("/metrics", () => {
  it("answers OpenMetrics to a scraper that asks for it, the 0.0.4 text format to others, and promtool passes the text", async () => {
    const port = await freePort();
    const collector = await bed.startCollector({
      hostId: "metrics-host",
      args: ["--metrics-listen", `127.0.0.1:${port}`],
    });
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      const scrape = async (accept?: string) => {
        const response = await fetch(url, { headers: accept === undefined ? {} : { accept } });
        return { type: response.headers.get("content-type"), text: await response.text() };
      };
      // Once a tick ran, every counter has a value worth reading.
      await waitUntil(
        () => scrape(),
        ({ text }) => /^rightsize_collector_ticks_total [1-9]/m.test(text),
      );

      const openMetrics = await scrape(PROMETHEUS_ACCEPT);
      expect(openMetrics.type).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
      expect(openMetricsProblems(openMetrics.text)).toEqual([]);
      expect(openMetrics.text).toMatch(/^# TYPE rightsize_collector_ticks counter$/m);
      expect(openMetrics.text).toMatch(/^rightsize_collector_ticks_total [1-9]/m);
      expect((await scrape("application/openmetrics-text")).type).toBe(openMetrics.type);

      for (const accept of [undefined, "*/*", "text/plain", "text/plain;version=0.0.4", "application/json"]) {
        const text = await scrape(accept);
        expect(text.type, `Accept: ${accept}`).toBe("text/plain; version=0.0.4; charset=utf-8");
        expect(text.text, `Accept: ${accept}`).not.toContain("# EOF");
      }
      const text = await scrape("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5");
      expect(text.type).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(text.text).toMatch(/^# TYPE rightsize_collector_ticks_total counter$/m);
      expect(text.text).toMatch(/^# HELP rightsize_collector_ticks_total \S/m);
      expect(text.text).toMatch(/^rightsize_collector_ticks_total [1-9]/m);
      // The CPU self-check's histogram (collector/tracking/cpu-self-check.ts), in both formats.
      for (const answer of [text, openMetrics]) {
        expect(answer.text).toMatch(/^# TYPE rightsize_collector_cpu_relative_error histogram$/m);
        expect(answer.text).toMatch(/^rightsize_collector_cpu_relative_error_bucket\{le="0\.02"\} \d+$/m);
      }

      const promtool = spawnSync("promtool", ["check", "metrics"], { input: text.text, encoding: "utf8" });
      expect(promtool.error, "promtool (Debian package prometheus) must be installed").toBeUndefined();
      expect(`${promtool.stdout}${promtool.stderr}`).toBe("");
      expect(promtool.status).toBe(0);
    } finally {
      expect(await collector.stop()).toBe(0);
    }
  });
});
