/**
 * The night's results as metrics (docs/metrics.md): per task, the recommendation, the request, the
 * bottleneck class and the monthly saving, pushed once after each published analysis so a dashboard can
 * show waste over time. Same destinations as the collector's live metrics: OTLP/HTTP from the standard
 * OTEL_EXPORTER_OTLP_* variables, StatsD from `metrics.statsd`. Never throws: a report is never held
 * back by a metrics receiver.
 */
import type { Attributes } from "@opentelemetry/api";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { bottleneckClasses } from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { metricsExportConfigured } from "../common/telemetry-config.js";

/** Instrument names (OpenTelemetry naming), all gauges: each night replaces the last. */
export const ANALYSIS_INSTRUMENTS = {
  recommendedCpu: { name: "rightsize.recommendation.cpu", unit: "{cpu}" },
  recommendedMemory: { name: "rightsize.recommendation.memory", unit: "By" },
  requestCpu: { name: "rightsize.request.cpu", unit: "{cpu}" },
  requestMemory: { name: "rightsize.request.memory", unit: "By" },
  monthlySavings: { name: "rightsize.savings.monthly", unit: "{USD}" },
  bottleneck: { name: "rightsize.bottleneck", unit: "{task}" },
} as const;

/** The values one task contributes, null where unknown (no point is sent then). */
export function analysisValues(task: TaskAnalysis): Record<keyof typeof ANALYSIS_INSTRUMENTS, number | null> {
  return {
    recommendedCpu: task.recommendation.cpuCores,
    recommendedMemory: task.recommendation.memoryBytes,
    requestCpu: task.cpu.requestCores,
    requestMemory: task.memory.requestBytes,
    monthlySavings: task.recommendation.monthlySavingsUsd,
    bottleneck: 1,
  };
}

function attributesOf(task: TaskAnalysis): Attributes {
  return {
    "rightsize.orchestrator": task.orchestrator,
    "rightsize.pipeline": task.pipeline,
    "rightsize.task": task.task,
    "rightsize.severity": task.recommendation.severity,
    "rightsize.confidence": task.recommendation.confidence,
  };
}

async function pushOtlp(document: AnalysisDocument, config: Config, logger: Logger): Promise<void> {
  const { createOtlpMetrics } = await import("../common/telemetry.js");
  const otlp = createOtlpMetrics({
    serviceName: "rightsize-analyzer",
    hostName: config.collector.hostId,
    logger,
  });
  if (!otlp) return;
  const instruments = Object.fromEntries(
    Object.entries(ANALYSIS_INSTRUMENTS).map(([key, spec]) => [
      key,
      otlp.meter.createObservableGauge(spec.name, { unit: spec.unit }),
    ]),
  ) as Record<keyof typeof ANALYSIS_INSTRUMENTS, ReturnType<typeof otlp.meter.createObservableGauge>>;
  otlp.meter.addBatchObservableCallback((result) => {
    for (const task of document.tasks) {
      const attributes = attributesOf(task);
      for (const [key, value] of Object.entries(analysisValues(task))) {
        if (value === null || !Number.isFinite(value)) continue;
        // The class is the attribute of a constant 1, so a dashboard can count tasks per class.
        const extra = key === "bottleneck" ? { "rightsize.bottleneck.class": task.bottleneck } : {};
        result.observe(instruments[key as keyof typeof ANALYSIS_INSTRUMENTS], value, {
          ...attributes,
          ...extra,
        });
      }
    }
  }, Object.values(instruments));
  // Shutting the provider down exports what it holds once more, and then no timer is left behind.
  await otlp.shutdown();
  if (otlp.stats.failed > 0) throw new Error("the OTLP receiver refused the night's metrics");
}

async function pushStatsd(document: AnalysisDocument, config: Config, logger: Logger): Promise<void> {
  const { createStatsd, statsdNamePart } = await import("../common/telemetry.js");
  const statsd = createStatsd(config.metrics, logger);
  if (!statsd) return;
  const prefix = statsd.prefix ? `${statsd.prefix}.` : "";
  const names: Record<keyof typeof ANALYSIS_INSTRUMENTS, string> = {
    recommendedCpu: "rightsize.recommendation.cpu_cores",
    recommendedMemory: "rightsize.recommendation.memory_bytes",
    requestCpu: "rightsize.request.cpu_cores",
    requestMemory: "rightsize.request.memory_bytes",
    monthlySavings: "rightsize.savings.monthly_usd",
    bottleneck: "rightsize.bottleneck",
  };
  for (const task of document.tasks) {
    const suffix = `${statsdNamePart(task.pipeline)}.${statsdNamePart(task.task)}`;
    const tags = { orchestrator: task.orchestrator, dag_id: task.pipeline, task_id: task.task };
    for (const [key, value] of Object.entries(analysisValues(task))) {
      if (value === null || !Number.isFinite(value)) continue;
      const name = names[key as keyof typeof ANALYSIS_INSTRUMENTS];
      if (key === "bottleneck") {
        // One gauge per class (1 for the task's class, 0 for the others), so a class change shows.
        for (const bottleneck of bottleneckClasses) {
          const on = bottleneck === task.bottleneck ? 1 : 0;
          if (statsd.tags === "none") statsd.client.gauge(`${prefix}${name}.${bottleneck}.${suffix}`, on);
          else statsd.client.gauge(`${prefix}${name}`, on, { ...tags, bottleneck });
        }
      } else if (statsd.tags === "none") statsd.client.gauge(`${prefix}${name}.${suffix}`, value);
      else statsd.client.gauge(`${prefix}${name}`, value, tags);
    }
  }
  await statsd.close();
}

/** Pushes the night's per-task results where metrics are configured; logs what it did, never throws. */
export async function exportAnalysisMetrics(
  document: AnalysisDocument,
  config: Config,
  logger: Logger,
): Promise<void> {
  if (!metricsExportConfigured(config.metrics)) return;
  for (const [name, push] of [
    ["OTLP", pushOtlp],
    ["StatsD", pushStatsd],
  ] as const) {
    try {
      await push(document, config, logger);
    } catch (error) {
      logger.warn({ err: coerceError(error) }, `the night's metrics were not sent over ${name}`);
    }
  }
  logger.info({ tasks: document.tasks.length }, "the night's results pushed as metrics");
}
