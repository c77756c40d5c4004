import type { TaskMetricsExport } from "../collector/export/task-metrics.js";
import { metricsExportConfigured } from "../common/telemetry-config.js";
import type { Runtime } from "./runtime.js";

/**
 * Live per-task metrics for `collect` and `run` when OTLP or StatsD is configured (docs/metrics.md);
 * the exporters' modules are loaded only then, so an unconfigured `run` stays light.
 */
export async function startMetricsExport(runtime: Runtime): Promise<TaskMetricsExport | null> {
  const { config, logger } = runtime;
  if (!metricsExportConfigured(config.metrics)) return null;
  const { startTaskMetricsExport } = await import("../collector/export/task-metrics.js");
  return startTaskMetricsExport({ config: config.metrics, hostName: config.collector.hostId, logger });
}
