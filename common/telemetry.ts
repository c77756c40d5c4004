/**
 * Where rightsize sends metrics a team already watches: OpenTelemetry over OTLP/HTTP and StatsD. Both are
 * off unless configured. This module only builds the clients from configuration; what is sent lives with
 * its producer (collector/export/task-metrics.ts live per task, reports/analysis-metrics.ts after each night).
 *
 * Exporting never blocks the caller: OTLP exports run on the SDK's own timer and a failed export is
 * dropped and counted (cumulative counters carry their totals into the next export, so only gauge points
 * of the outage are lost); StatsD is fire-and-forget UDP.
 */
// The API's global provider stays untouched: the meter is passed explicitly to whoever records.
import type { Meter } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  MeterProvider,
  type PushMetricExporter,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import StatsDClient, { type StatsD } from "hot-shots";
import type { Config } from "./config.js";
import { coerceError } from "./errors.js";
import type { Logger } from "./logger.js";
import { packageVersion } from "./package-root.js";
import { exportTiming, otlpConfigured } from "./telemetry-config.js";

/** Export outcomes since start, for the collector's own health metrics and logs. */
export interface ExportStats {
  exports: number;
  failed: number;
  /** Data points in failed exports: what the outage cost. */
  droppedPoints: number;
}

function pointsOf(batch: ResourceMetrics): number {
  let points = 0;
  for (const scope of batch.scopeMetrics)
    for (const metric of scope.metrics) points += metric.dataPoints.length;
  return points;
}

/** Counts exports and drops; a failure is logged once, then every 10th time, so an outage does not flood logs. */
function countingExporter(inner: PushMetricExporter, stats: ExportStats, logger: Logger): PushMetricExporter {
  return {
    export(batch, done) {
      stats.exports++;
      inner.export(batch, (result) => {
        if (result.code !== 0) {
          stats.failed++;
          stats.droppedPoints += pointsOf(batch);
          if (stats.failed === 1 || stats.failed % 10 === 0)
            logger.warn(
              { err: result.error ? coerceError(result.error) : undefined, failed: stats.failed },
              "OTLP metrics export failed; its points are dropped (cumulative counters keep their totals)",
            );
        }
        done(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
}

function bounded(work: Promise<void>, ms: number, what: string, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      logger.warn({ ms }, `OTLP metrics ${what} did not finish in time; what it held is dropped`);
      resolve();
    }, ms);
    timer.unref();
  });
  return Promise.race([
    work.catch((error: unknown) => {
      logger.warn({ err: coerceError(error) }, `OTLP metrics ${what} failed`);
    }),
    deadline,
  ]).finally(() => clearTimeout(timer));
}

export interface OtlpMetrics {
  meter: Meter;
  stats: ExportStats;
  /** Exports what is pending now (the night's one-shot push). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * A MeterProvider exporting over OTLP/HTTP (JSON) to the endpoint and headers of the standard
 * OTEL_EXPORTER_OTLP_* variables, which the exporter reads itself. Null when OTLP is not configured.
 */
export function createOtlpMetrics(
  options: { serviceName: string; hostName: string; logger: Logger },
  env: NodeJS.ProcessEnv = process.env,
): OtlpMetrics | null {
  if (!otlpConfigured(env)) return null;
  const stats: ExportStats = { exports: 0, failed: 0, droppedPoints: 0 };
  const { intervalMs, timeoutMs } = exportTiming(env);
  const reader = new PeriodicExportingMetricReader({
    // Retries of a refused export stop within the export timeout (the OTLP transport retries retryable
    // failures until its own timeout), so an absent receiver costs one bounded attempt per interval. The
    // standard OTEL_EXPORTER_OTLP_*TIMEOUT variables still win when set.
    exporter: countingExporter(
      new OTLPMetricExporter(
        env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT || env.OTEL_EXPORTER_OTLP_TIMEOUT
          ? {}
          : { timeoutMillis: timeoutMs },
      ),
      stats,
      options.logger,
    ),
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      "service.name": options.serviceName,
      "service.version": packageVersion(),
      "host.name": options.hostName,
    }),
    readers: [reader],
  });
  return {
    meter: provider.getMeter("rightsize", packageVersion()),
    stats,
    flush: () => bounded(provider.forceFlush(), timeoutMs, "flush", options.logger),
    // Shutting down exports what is held once more; a receiver that does not answer is not waited for
    // beyond one export timeout, so a stopping collector exits promptly.
    shutdown: () => bounded(provider.shutdown(), timeoutMs, "shutdown", options.logger),
  };
}

export type StatsdTagStyle = Config["metrics"]["statsdTags"];

export interface StatsdMetrics {
  client: StatsD;
  tags: StatsdTagStyle;
  prefix: string;
  stats: { sendErrors: number };
  close(): Promise<void>;
}

/** A StatsD client on UDP for `metrics.statsd` (`host:port`); null when unset. Send errors are counted, never thrown. */
export function createStatsd(config: Config["metrics"], logger: Logger): StatsdMetrics | null {
  if (!config.statsd) return null;
  const { host, port } = config.statsd;
  const stats = { sendErrors: 0 };
  const client = new StatsDClient({
    host,
    port,
    protocol: "udp",
    telegraf: config.statsdTags === "telegraf",
    // Lines are batched into datagrams of up to 1,432 bytes (hot-shots' advice for Ethernet MTU) and
    // flushed every second: one send per second instead of one per gauge.
    maxBufferSize: 1432,
    bufferFlushInterval: 1000,
    errorHandler: (error) => {
      stats.sendErrors++;
      if (stats.sendErrors === 1 || stats.sendErrors % 100 === 0)
        logger.warn({ err: coerceError(error), sendErrors: stats.sendErrors }, "StatsD send failed");
    },
  });
  return {
    client,
    tags: config.statsdTags,
    prefix: config.statsdPrefix,
    stats,
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}

/**
 * A StatsD name part as Airflow's validator allows it (letters, digits, `_`, `.`, `-`; airflow/metrics/
 * validators.py ALLOWED_CHARACTERS): anything else becomes `_`, so a hostile task name cannot add a
 * metric type, a sample rate or tags to the line.
 */
export function statsdNamePart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 200);
}
