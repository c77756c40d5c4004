/**
 * Whether metrics export is configured, without loading the exporters: `run` and `collect` import the
 * OpenTelemetry SDK and the StatsD client only when it is (common/telemetry.ts).
 */
import type { Config } from "./config.js";

/**
 * Whether OTLP metrics are configured, by the variables of the OpenTelemetry specification
 * ("OpenTelemetry Environment Variable Specification" and "OTLP Exporter Configuration"): an endpoint is
 * set, the SDK is not disabled, and the metrics exporter is not `none`.
 */
export function otlpConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_METRICS_EXPORTER ?? "otlp").split(",").map((name) => name.trim());
  if (!exporters.includes("otlp")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/**
 * OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT in ms (spec defaults 60000 and 30000). The timeout is capped
 * below the interval, as the SDK requires.
 */
export function exportTiming(env: NodeJS.ProcessEnv = process.env): {
  intervalMs: number;
  timeoutMs: number;
} {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isFinite(value) && value > 0 && value <= 2_147_483_647 ? value : fallback;
  };
  const intervalMs = read("OTEL_METRIC_EXPORT_INTERVAL", 60_000);
  return { intervalMs, timeoutMs: Math.min(read("OTEL_METRIC_EXPORT_TIMEOUT", 30_000), intervalMs) };
}

/** Whether `collect`/`run` export live task metrics at all. */
export function metricsExportConfigured(
  config: Config["metrics"],
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return otlpConfigured(env) || config.statsd !== null;
}

/**
 * The Prometheus name an OpenTelemetry metric gets on its way through the OpenTelemetry Collector's
 * Prometheus exporter ("Prometheus and OpenMetrics Compatibility" in the OpenTelemetry specification;
 * opentelemetry-collector-contrib pkg/translator/prometheus): dots become `_`, the unit is appended
 * (`By` → `bytes`, `s` → `seconds`, annotations in braces dropped), and monotonic counters end in `_total`.
 */
export function prometheusName(name: string, unit: string, kind: "gauge" | "counter"): string {
  const units: Record<string, string> = {
    By: "bytes",
    s: "seconds",
    ms: "milliseconds",
    "1": kind === "gauge" ? "ratio" : "",
  };
  const suffix = unit.startsWith("{") ? "" : (units[unit] ?? unit.replace(/[^A-Za-z0-9]/g, "_"));
  let metric = name.replace(/[^A-Za-z0-9_:]/g, "_");
  if (suffix && !metric.endsWith(`_${suffix}`)) metric += `_${suffix}`;
  if (kind === "counter") metric += "_total";
  return metric;
}
