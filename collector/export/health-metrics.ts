/**
 * The collector's own health, as a Prometheus endpoint (prom-client): what an operator of a host agent
 * expects to scrape and alert on. Off by default (`collect --metrics-listen HOST:PORT`,
 * `collector.metricsListen`). Values are read from the writer's and the sampler's counters when
 * scraped, so the per-tick path only bumps two numbers. Names, types and units: docs/collector-storage.md
 * "The collector's own health". OpenMetrics is answered only to a scraper that asks for it (Prometheus
 * does), the Prometheus text format 0.0.4 otherwise, as node_exporter negotiates.
 *
 * Also `/healthz` (liveness: a tick ran within three intervals, at least 30 s) and `/readyz`
 * (readiness: the loop started); both answer 200 or 503 with one line of text.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from "prom-client";
import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { WriterStats } from "../storage/writer.js";
import { type CpuCheck, relativeCpuError } from "../tracking/cpu-self-check.js";

/** What the metrics read when scraped. */
export interface HealthSources {
  writer: () => WriterStats;
  /** Executions being followed now. */
  openExecutions: () => number;
  /** Task-shaped processes the trust model refused, since start. */
  untrustedRoots: () => number;
  /** Spool segments on disk. */
  spoolSegments: () => number;
  /** Entries quarantined in the spool folder, since start. */
  spoolQuarantined: () => number;
}

/** The two exposition formats `/metrics` answers in. */
export type MetricsFormat = "openmetrics" | "text";

/** The `Content-Type` of each format (prom-client's; the same strings as Prometheus' expfmt). */
export const METRICS_CONTENT_TYPE: Record<MetricsFormat, string> = {
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
  text: Registry.PROMETHEUS_CONTENT_TYPE,
};

/**
 * The format to answer a scrape in, from its `Accept` header, as node_exporter chooses (prometheus/common
 * expfmt/encode.go `NegotiateIncludingOpenMetrics`): media ranges by falling quality (`q`, 1 when absent;
 * 0 is "not acceptable", RFC 9110 §12.5.1), the more specific first among equals; the first that is
 * `text/plain` (version 0.0.4 or none) or `application/openmetrics-text` (version 1.0.0 or none, the only
 * OpenMetrics prom-client writes) decides. Anything else (no header, `*` ranges, protobuf) gets the text
 * format.
 */
export function negotiateMetricsFormat(accept: string | undefined): MetricsFormat {
  const ranges = (accept ?? "")
    .split(",")
    .map((part, order) => {
      const [range = "", ...parameters] = part.split(";").map((piece) => piece.trim());
      const values = new Map<string, string>();
      for (const parameter of parameters) {
        const equals = parameter.indexOf("=");
        if (equals <= 0) continue;
        const value = parameter.slice(equals + 1).trim();
        values.set(parameter.slice(0, equals).trim().toLowerCase(), value.replace(/^"(.*)"$/, "$1"));
      }
      const quality = values.has("q") ? Number(values.get("q")) : 1;
      const wildcards = range.split("*").length - 1;
      return { range: range.toLowerCase(), version: values.get("version") ?? "", quality, wildcards, order };
    })
    .filter((entry) => entry.range !== "" && entry.quality > 0)
    .sort((a, b) => b.quality - a.quality || a.wildcards - b.wildcards || a.order - b.order);
  for (const { range, version } of ranges) {
    if (range === "text/plain" && (version === "" || version === "0.0.4")) return "text";
    if (range === "application/openmetrics-text" && (version === "" || version === "1.0.0")) {
      return "openmetrics";
    }
  }
  return "text";
}

export class CollectorHealth {
  /**
   * One registry per format, each with its own metric objects: prom-client renames a counter in place
   * when it writes OpenMetrics (`x_total` becomes the family `x`), so an object shared by both would lose
   * its `_total` in the text format after the first OpenMetrics scrape.
   */
  private readonly registries: Record<MetricsFormat, Registry<RegistryContentType>> = {
    openmetrics: new Registry<RegistryContentType>(),
    text: new Registry<RegistryContentType>(),
  };
  /** The CPU self-check's histogram, once per registry. */
  private readonly cpuErrors: Histogram[] = [];
  private ticks = 0;
  private tickCpuSeconds = 0;
  private lastTickAtMs: number | null = null;
  private started = false;
  private method = "unknown";
  private readonly startedAtMs = Date.now();

  constructor(
    private readonly sources: HealthSources,
    private readonly intervalMs: number,
  ) {
    this.registries.openmetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.define(this.registries.openmetrics);
    this.define(this.registries.text);
  }

  /**
   * The metrics, in `registry`. Counters are named with their `_total`, as the text format (and promtool)
   * wants them; prom-client writes an OpenMetrics counter as the family `x` with the sample `x_total`.
   */
  private define(registry: Registry<RegistryContentType>): void {
    const sources = this.sources;
    const registers = [registry];
    const self = this;
    const writer = () => sources.writer();
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    counter("rightsize_collector_ticks_total", "Sampling ticks run since start.", () => self.ticks);
    counter(
      "rightsize_collector_tick_cpu_seconds_total",
      "CPU time (user + system) the collector process used in its ticks, seconds.",
      () => self.tickCpuSeconds,
    );
    gauge("rightsize_collector_executions_open", "Task executions being followed now.", () =>
      sources.openExecutions(),
    );
    counter("rightsize_collector_samples_written_total", "Sample rows committed to the database.", () =>
      Math.max(0, writer().writtenSamples - writer().duplicateSamples),
    );
    counter(
      "rightsize_collector_samples_spooled_total",
      "Sample rows that went to the disk spool (database unreachable).",
      () => writer().spooledSamples,
    );
    counter(
      "rightsize_collector_batches_replayed_total",
      "Spooled batches written to the database later.",
      () => writer().replayedBatches,
    );
    counter(
      "rightsize_collector_samples_set_aside_total",
      "Sample rows the database refused (or beyond a column's bounds), kept in the spool's rejected/ file.",
      () => writer().setAsideSamples,
    );
    counter(
      "rightsize_collector_samples_dropped_total",
      "Sample rows lost: the spool was full or the disk refused them.",
      () => writer().droppedSamples,
    );
    counter(
      "rightsize_collector_samples_invalid_total",
      "Sample rows refused at the door (no execution id, invalid time).",
      () => writer().invalidSamples,
    );
    counter(
      "rightsize_collector_untrusted_processes_total",
      "Task-shaped processes ignored because collector.trust does not trust their uid or cgroup.",
      () => sources.untrustedRoots(),
    );
    gauge("rightsize_collector_spool_bytes", "Bytes waiting in the spool.", () => writer().spoolBytes);
    gauge("rightsize_collector_spool_segments", "Segment files in the spool.", () => sources.spoolSegments());
    counter(
      "rightsize_collector_spool_quarantined_total",
      "Spool entries moved to quarantine/ (links, FIFOs, folders, other users' files, unreadable).",
      () => sources.spoolQuarantined(),
    );
    gauge("rightsize_collector_database_up", "1 when the last database write succeeded, else 0.", () =>
      writer().databaseUp ? 1 : 0,
    );
    gauge(
      "rightsize_collector_seconds_since_last_write",
      "Seconds since the last batch was committed (since start when none yet).",
      () => (Date.now() - (writer().lastWriteAtMs ?? self.startedAtMs)) / 1000,
    );
    this.cpuErrors.push(
      new Histogram({
        name: "rightsize_collector_cpu_relative_error",
        help: "Ended executions by how far the process tree's CPU sum was from the exact figure (own cgroup or wait4), |tree - reference| / reference; references of 1 s or more.",
        // Chosen values: fine below and around the 2 % an execution is logged at (cpu-self-check.ts).
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
        registers,
      }),
    );
    new Gauge({
      name: "rightsize_collector_accounting_method",
      help: "How exited processes are accounted: acct or poll (1 for the method in use).",
      labelNames: ["method"],
      registers,
      collect() {
        this.reset();
        this.set({ method: self.method }, 1);
      },
    });
  }

  /** The exposition in `format`, as `/metrics` answers it. */
  metrics(format: MetricsFormat): Promise<string> {
    return this.registries[format].metrics();
  }

  /** Records one tick and the process CPU time it took (from process.cpuUsage deltas, microseconds). */
  tick(cpuMicros: number): void {
    this.ticks++;
    this.tickCpuSeconds += cpuMicros / 1e6;
    this.lastTickAtMs = Date.now();
    this.started = true;
  }

  /** An ended execution's CPU self-check (collector/tracking/cpu-self-check.ts): its error, when judged. */
  observeCpuCheck(check: CpuCheck): void {
    const error = relativeCpuError(check.treeCpuSeconds, check.referenceCpuSeconds);
    if (error !== null) for (const histogram of this.cpuErrors) histogram.observe(Math.abs(error));
  }

  /** How exited processes are accounted (`acct` or `poll`, collector/procfs/process-accounting.ts), shown as a label. */
  setAccountingMethod(method: string): void {
    this.method = method;
  }

  /**
   * Alive: a tick ran within three intervals, and never less than 30 s (chosen value: a host loaded far
   * past its cores delays timers by seconds, and a restart would only add to the load), or the loop has
   * not started yet.
   */
  live(): boolean {
    const allowedMs = Math.max(3 * this.intervalMs, 30_000);
    return Date.now() - (this.lastTickAtMs ?? this.startedAtMs) < allowedMs;
  }

  ready(): boolean {
    return this.started;
  }

  /**
   * Serves /metrics, /healthz and /readyz on `address` (HOST:PORT). Resolves once listening; a bind
   * failure rejects (the caller exits 1: a requested endpoint that is not there is a failed start).
   */
  async listen(address: string, logger: Logger): Promise<Server> {
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(colon + 1));
    const server = createServer((request, response) => {
      const path = (request.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        const format = negotiateMetricsFormat(request.headers.accept);
        this.metrics(format)
          .then((text) => {
            response.writeHead(200, { "content-type": METRICS_CONTENT_TYPE[format] });
            response.end(text);
          })
          .catch((error) => {
            logger.error({ err: describeError(error) }, "metrics scrape failed");
            response.writeHead(500).end();
          });
        return;
      }
      if (path === "/healthz" || path === "/readyz") {
        const ok = path === "/healthz" ? this.live() : this.ready();
        response.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
        response.end(ok ? "ok\n" : path === "/healthz" ? "no tick lately\n" : "not started\n");
        return;
      }
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    logger.info({ address }, "metrics endpoint listening");
    return server;
  }
}
