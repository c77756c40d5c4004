/**
 * Live per-task metrics from `collect` and `run`, for the metrics stack a team already runs
 * (docs/metrics.md): OpenTelemetry over OTLP/HTTP and StatsD with the names Airflow 2.10 used.
 *
 * It watches the rows the sampler hands the writer (a {@link SampleSink} beside the writer), so the tick
 * does nothing more than update one small record per execution. The exporters read those records on
 * their own timers: a slow or absent receiver never reaches the tick.
 */
import { totalmem } from "node:os";
import type { Attributes, Observable } from "@opentelemetry/api";
import type { Config } from "../../common/config.js";
import { coerceError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import {
  createOtlpMetrics,
  createStatsd,
  type ExportStats,
  type OtlpMetrics,
  type StatsdMetrics,
  statsdNamePart,
} from "../../common/telemetry.js";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { NewSample } from "../../db/queries/samples.js";
import type { SampleSink } from "../tracking/sampler.js";

/** Where a task's wall-clock time went, as the samples' wall_* columns split it. */
export const WALL_STATES = {
  on_cpu: "wallOnCpuSeconds",
  cpu_wait: "wallCpuWaitSeconds",
  disk_wait: "wallDiskWaitSeconds",
  net_wait: "wallNetWaitSeconds",
  child_wait: "wallChildWaitSeconds",
  idle: "wallIdleSeconds",
} as const satisfies Record<string, keyof NewSample>;
type WallState = keyof typeof WALL_STATES;

/** An execution's attribute sets, made once: the SDK is handed the same objects every export. */
export interface TaskAttributeSets {
  base: Attributes;
  diskRead: Attributes;
  diskWrite: Attributes;
  netReceive: Attributes;
  netTransmit: Attributes;
  time: Record<WallState, Attributes>;
}

function attributeSets(base: Attributes): TaskAttributeSets {
  // Attribute names as the semantic conventions' process.disk.io / process.network.io have them.
  return {
    base,
    diskRead: { ...base, "disk.io.direction": "read" },
    diskWrite: { ...base, "disk.io.direction": "write" },
    netReceive: { ...base, "network.io.direction": "receive" },
    netTransmit: { ...base, "network.io.direction": "transmit" },
    time: Object.fromEntries(
      Object.keys(WALL_STATES).map((state) => [state, { ...base, "rightsize.time.state": state }]),
    ) as unknown as Record<WallState, Attributes>,
  };
}

/** One running (or just ended) execution, as the exporters read it. */
export interface LiveTask {
  attributes: TaskAttributeSets;
  /** StatsD: the Airflow-style name suffix (`DAG.TASK`) and tags. */
  statsdSuffix: string;
  statsdTags: Record<string, string>;
  cpuCores: number | null;
  rssBytes: number | null;
  processes: number | null;
  requestCpuCores: number | null;
  limitCpuCores: number | null;
  requestMemoryBytes: number | null;
  limitMemoryBytes: number | null;
  /** Cumulative since the execution was first seen. */
  diskReadBytes: number;
  diskWriteBytes: number;
  netRxBytes: number | null;
  netTxBytes: number | null;
  wallSeconds: Record<WallState, number> | null;
  /** Exporters that still owe the ended execution its last report; removed once empty. */
  finalReports: Set<"otlp" | "statsd"> | null;
}

/**
 * The attributes of an execution's metrics: OpenTelemetry semantic conventions where they exist
 * (`host.name`, `k8s.pod.uid`, `process.pid`), orchestrator attributes under the orchestrator's name
 * with its own field names (`airflow.dag_id`, `prefect.flow.name`, …; chosen, listed in docs/metrics.md).
 * Run ids (and the root pid) only when asked: each adds one series per run.
 */
export function taskAttributes(row: NewExecution, options: { runIds: boolean }): Attributes {
  const attributes: Attributes = {
    "host.name": row.hostId,
    "rightsize.orchestrator": row.orchestrator,
    "rightsize.pipeline": row.pipeline,
    "rightsize.task": row.task,
  };
  if (row.podUid) attributes["k8s.pod.uid"] = row.podUid;
  if (row.orchestrator === "airflow") {
    attributes["airflow.dag_id"] = row.pipeline;
    attributes["airflow.task_id"] = row.task;
    attributes["airflow.try_number"] = row.tryNumber ?? 1;
    if (row.mapIndex !== undefined && row.mapIndex >= 0) attributes["airflow.map_index"] = row.mapIndex;
    if (options.runIds) attributes["airflow.run_id"] = row.runId;
  } else if (row.orchestrator === "prefect") {
    // FLOW/DEPLOYMENT (docs/architecture.md "Task key"); Prefect refuses `/` in flow and deployment names
    // (src/prefect/_internal/schemas/validators.py, BANNED_CHARACTERS), so the first `/` splits them.
    const slash = row.pipeline.indexOf("/");
    attributes["prefect.flow.name"] = slash < 0 ? row.pipeline : row.pipeline.slice(0, slash);
    if (slash >= 0) attributes["prefect.deployment.name"] = row.pipeline.slice(slash + 1);
    if (options.runIds) attributes["prefect.flow_run.id"] = row.runId;
  } else if (options.runIds) {
    attributes["rightsize.run_id"] = row.runId;
  }
  if (options.runIds && row.rootPid != null) attributes["process.pid"] = row.rootPid;
  return attributes;
}

/** The live records, fed by the sampler's rows. Pure bookkeeping: no I/O. */
export class LiveTasks implements SampleSink {
  readonly tasks = new Map<string, LiveTask>();

  constructor(private readonly options: { runIds: boolean; exporters: Array<"otlp" | "statsd"> }) {}

  execution(row: NewExecution): void {
    const previous = this.tasks.get(row.id);
    if (row.endedAt) {
      if (previous) previous.finalReports = new Set(this.options.exporters);
      return;
    }
    const attributes = attributeSets(taskAttributes(row, this.options));
    const tags: Record<string, string> = {
      orchestrator: row.orchestrator,
      dag_id: row.pipeline,
      task_id: row.task,
    };
    if (this.options.runIds) tags.run_id = row.runId;
    this.tasks.set(row.id, {
      cpuCores: null,
      rssBytes: null,
      processes: null,
      diskReadBytes: 0,
      diskWriteBytes: 0,
      netRxBytes: null,
      netTxBytes: null,
      wallSeconds: null,
      finalReports: null,
      ...previous,
      attributes,
      statsdSuffix: `${statsdNamePart(row.pipeline)}.${statsdNamePart(row.task)}`,
      statsdTags: tags,
      requestCpuCores: row.requestCpuCores ?? null,
      limitCpuCores: row.limitCpuCores ?? null,
      requestMemoryBytes: row.requestMemoryBytes ?? null,
      limitMemoryBytes: row.limitMemoryBytes ?? null,
    });
  }

  samples(rows: NewSample[]): void {
    for (const sample of rows) {
      const task = this.tasks.get(sample.executionId);
      if (!task) continue;
      task.cpuCores = sample.cpuCores ?? null;
      task.rssBytes = sample.rssBytes ?? null;
      task.processes = sample.processesAlive ?? null;
      task.diskReadBytes += sample.diskReadBytes ?? 0;
      task.diskWriteBytes += sample.diskWriteBytes ?? 0;
      if (sample.netRxBytes != null) task.netRxBytes = (task.netRxBytes ?? 0) + sample.netRxBytes;
      if (sample.netTxBytes != null) task.netTxBytes = (task.netTxBytes ?? 0) + sample.netTxBytes;
      if (sample.wallOnCpuSeconds != null) {
        task.wallSeconds ??= { on_cpu: 0, cpu_wait: 0, disk_wait: 0, net_wait: 0, child_wait: 0, idle: 0 };
        for (const [state, column] of Object.entries(WALL_STATES) as Array<[WallState, keyof NewSample]>)
          task.wallSeconds[state] += Number(sample[column] ?? 0);
      }
    }
  }

  processes(_rows: NewProcess[]): void {}

  /** Marks that `exporter` reported every task; ended tasks every exporter has reported are dropped. */
  reported(exporter: "otlp" | "statsd"): void {
    for (const [id, task] of this.tasks) {
      if (!task.finalReports) continue;
      task.finalReports.delete(exporter);
      if (task.finalReports.size === 0) this.tasks.delete(id);
    }
  }
}

/** Instrument names (OpenTelemetry naming: dotted, unit apart), with their kind and unit. */
export const TASK_INSTRUMENTS = {
  cpuUsage: { name: "rightsize.task.cpu.usage", kind: "gauge", unit: "{cpu}" },
  cpuRequest: { name: "rightsize.task.cpu.request", kind: "gauge", unit: "{cpu}" },
  cpuLimit: { name: "rightsize.task.cpu.limit", kind: "gauge", unit: "{cpu}" },
  memoryUsage: { name: "rightsize.task.memory.usage", kind: "gauge", unit: "By" },
  memoryRequest: { name: "rightsize.task.memory.request", kind: "gauge", unit: "By" },
  memoryLimit: { name: "rightsize.task.memory.limit", kind: "gauge", unit: "By" },
  processes: { name: "rightsize.task.processes", kind: "gauge", unit: "{process}" },
  diskIo: { name: "rightsize.task.disk.io", kind: "counter", unit: "By" },
  networkIo: { name: "rightsize.task.network.io", kind: "counter", unit: "By" },
  time: { name: "rightsize.task.time", kind: "counter", unit: "s" },
} as const;

/** Registers the task instruments on `otlp`'s meter; one batch callback reads every live task per export. */
function observeTasks(otlp: OtlpMetrics, live: LiveTasks): void {
  const meter = otlp.meter;
  const i = TASK_INSTRUMENTS;
  const gauge = (spec: { name: string; unit: string }, description: string) =>
    meter.createObservableGauge(spec.name, { unit: spec.unit, description });
  const counter = (spec: { name: string; unit: string }, description: string) =>
    meter.createObservableCounter(spec.name, { unit: spec.unit, description });
  const cpu = gauge(
    i.cpuUsage,
    "CPU cores the task's process tree used over the last tick (1 = one core busy)",
  );
  const cpuRequest = gauge(i.cpuRequest, "CPU cores the task requested, where known");
  const cpuLimit = gauge(i.cpuLimit, "CPU core limit of the task, where known");
  const memory = gauge(i.memoryUsage, "Resident memory of the task's process tree");
  const memoryRequest = gauge(i.memoryRequest, "Memory the task requested, where known");
  const memoryLimit = gauge(i.memoryLimit, "Memory limit of the task, where known");
  const processes = gauge(i.processes, "Processes alive in the task's tree");
  const disk = counter(i.diskIo, "Bytes the task's processes read from and wrote to storage");
  const network = counter(i.networkIo, "Bytes the task received and sent (own network namespace only)");
  const time = counter(i.time, "Wall-clock seconds of the task by where the time went");
  meter.addBatchObservableCallback(
    (result) => {
      const put = (instrument: Observable, value: number | null, attributes: Attributes) => {
        if (value !== null && Number.isFinite(value)) result.observe(instrument, value, attributes);
      };
      for (const task of live.tasks.values()) {
        const sets = task.attributes;
        const a = sets.base;
        put(cpu, task.cpuCores, a);
        put(cpuRequest, task.requestCpuCores, a);
        put(cpuLimit, task.limitCpuCores, a);
        put(memory, task.rssBytes, a);
        put(memoryRequest, task.requestMemoryBytes, a);
        put(memoryLimit, task.limitMemoryBytes, a);
        put(processes, task.processes, a);
        put(disk, task.diskReadBytes, sets.diskRead);
        put(disk, task.diskWriteBytes, sets.diskWrite);
        put(network, task.netRxBytes, sets.netReceive);
        put(network, task.netTxBytes, sets.netTransmit);
        if (task.wallSeconds)
          for (const state of Object.keys(WALL_STATES) as WallState[])
            put(time, task.wallSeconds[state], sets.time[state]);
      }
      live.reported("otlp");
    },
    [cpu, cpuRequest, cpuLimit, memory, memoryRequest, memoryLimit, processes, disk, network, time],
  );
}

/**
 * Sends Airflow 2.10's task gauges for every live task: `task.cpu_usage` (psutil's cpu_percent: 100 =
 * one core busy) and `task.mem_usage` (psutil's memory_percent: RSS as a percentage of physical
 * memory), named `PREFIX.task.cpu_usage.DAG.TASK` as Airflow's StandardTaskRunner._read_task_utilization
 * did (airflow/task/task_runner/standard_task_runner.py, 2.10), or `PREFIX.task.cpu_usage` with
 * dag_id/task_id tags in the DogStatsD and Telegraf styles.
 */
export function sendStatsdGauges(statsd: StatsdMetrics, live: LiveTasks, memoryBytes = totalmem()): void {
  const prefix = statsd.prefix ? `${statsd.prefix}.` : "";
  for (const task of live.tasks.values()) {
    const values = {
      cpu_usage: task.cpuCores === null ? null : task.cpuCores * 100,
      mem_usage: task.rssBytes === null ? null : (task.rssBytes / memoryBytes) * 100,
    };
    for (const [name, value] of Object.entries(values)) {
      if (value === null || !Number.isFinite(value)) continue;
      const rounded = Math.round(value * 1000) / 1000;
      if (statsd.tags === "none") statsd.client.gauge(`${prefix}task.${name}.${task.statsdSuffix}`, rounded);
      else statsd.client.gauge(`${prefix}task.${name}`, rounded, task.statsdTags);
    }
  }
  live.reported("statsd");
}

export interface TaskMetricsExport {
  /** Feed it the sampler's rows (see {@link observeSink}). */
  sink: SampleSink;
  stats(): { otlp: ExportStats | null; statsdSendErrors: number | null; liveTasks: number };
  close(): Promise<void>;
}

/** Starts the configured exporters; null when neither OTLP nor StatsD is configured. */
export function startTaskMetricsExport(options: {
  config: Config["metrics"];
  hostName: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}): TaskMetricsExport | null {
  const { config, logger } = options;
  const otlp = createOtlpMetrics(
    { serviceName: "rightsize-collector", hostName: options.hostName, logger },
    options.env,
  );
  const statsd = createStatsd(config, logger);
  if (!otlp && !statsd) return null;
  const exporters: Array<"otlp" | "statsd"> = [];
  if (otlp) exporters.push("otlp");
  if (statsd) exporters.push("statsd");
  const live = new LiveTasks({ runIds: config.runIds, exporters });
  if (otlp) observeTasks(otlp, live);
  const timer = statsd
    ? setInterval(() => {
        try {
          sendStatsdGauges(statsd, live);
        } catch (error) {
          logger.warn({ err: coerceError(error) }, "StatsD gauges not sent");
        }
      }, config.statsdIntervalMs)
    : null;
  timer?.unref();
  logger.info(
    {
      otlp: otlp
        ? (process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT)
        : null,
      statsd: config.statsd ? `${config.statsd.host}:${config.statsd.port}` : null,
      statsdTags: statsd ? config.statsdTags : undefined,
    },
    "per-task metrics export on",
  );
  return {
    sink: live,
    stats: () => ({
      otlp: otlp?.stats ?? null,
      statsdSendErrors: statsd?.stats.sendErrors ?? null,
      liveTasks: live.tasks.size,
    }),
    close: async () => {
      if (timer) clearInterval(timer);
      // A last report of what the final tick wrote, then the clients go.
      if (statsd) {
        sendStatsdGauges(statsd, live);
        await statsd.close();
      }
      if (otlp) await otlp.shutdown();
    },
  };
}
