/**
 * What live per-task metrics export costs the collector (target: within the collector's ≤ 0.5 % of a
 * core). 50 running tasks each get one sample row a second, as the sampler hands them to the writer;
 * the exporters run on their real timers against real receivers on loopback (an OTLP/HTTP server, a UDP
 * socket). Floor: the same rows to the writer alone. The cost is this process's CPU time over the run's
 * wall time, so timers, serialisation and sockets all count. Run length: BENCH_SECONDS (default 30).
 */
import { randomUUID } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { observeSink } from "../collector/export/observe-sink.js";
import { startTaskMetricsExport } from "../collector/export/task-metrics.js";
import type { SampleSink } from "../collector/tracking/sampler.js";
import { silentLogger } from "../common/logger.js";
import type { NewExecution } from "../db/queries/executions.js";
import type { NewSample } from "../db/queries/samples.js";

const tasks = 50;
const seconds = Number(process.env.BENCH_SECONDS ?? 30);

/** The writer's buffering, without a database: rows are kept a tick, then let go. */
class BufferingSink implements SampleSink {
  rows = 0;
  execution(_row: NewExecution): void {}
  samples(rows: NewSample[]): void {
    this.rows += rows.length;
  }
  processes(): void {}
}

async function measure(
  label: string,
  env: NodeJS.ProcessEnv | null,
): Promise<{ label: string; cpuPercent: number }> {
  const writer = new BufferingSink();
  // The OTLP exporter reads its endpoint from the process environment, as in the collector.
  if (env) Object.assign(process.env, env);
  const exporter = env
    ? startTaskMetricsExport({
        config: {
          statsd: { host: "127.0.0.1", port: Number(env.STATSD_PORT) },
          statsdTags: "dogstatsd",
          statsdPrefix: "airflow",
          statsdIntervalMs: 5000,
          runIds: false,
        },
        hostName: "bench",
        logger: silentLogger,
      })
    : null;
  const sink = observeSink(writer, exporter?.sink ?? null, silentLogger);
  const ids = Array.from({ length: tasks }, () => randomUUID());
  ids.forEach((id, index) =>
    sink.execution({
      id,
      orchestrator: "airflow",
      pipeline: `dag_${index % 10}`,
      task: `task_${index}`,
      runId: "scheduled__2026-11-29",
      tryNumber: 1,
      mapIndex: -1,
      hostId: "bench",
      attribution: "airflow-log",
      startedAt: new Date(),
      requestCpuCores: 2,
      requestMemoryBytes: 4 * 1024 ** 3,
    }),
  );
  const started = process.cpuUsage();
  const wallStart = performance.now();
  let tick = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const ts = new Date();
      sink.samples(
        ids.map((executionId) => ({
          executionId,
          ts,
          intervalSeconds: 1,
          cpuCores: Math.random(),
          rssBytes: 200_000_000 + tick,
          diskReadBytes: 4096,
          diskWriteBytes: 8192,
          processesAlive: 3,
          wallOnCpuSeconds: 0.6,
          wallCpuWaitSeconds: 0.1,
          wallDiskWaitSeconds: 0.1,
          wallNetWaitSeconds: 0.1,
          wallChildWaitSeconds: 0,
          wallIdleSeconds: 0.1,
        })),
      );
      if (++tick >= seconds) {
        clearInterval(timer);
        resolve();
      }
    }, 1000);
  });
  const cpu = process.cpuUsage(started);
  const wall = performance.now() - wallStart;
  await exporter?.close();
  return { label, cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100 };
}

export async function run(): Promise<void> {
  let requests = 0;
  const receiver = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      requests++;
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const statsd = createSocket("udp4");
  let datagrams = 0;
  statsd.on("message", () => datagrams++);
  await new Promise<void>((resolve) => statsd.bind(0, "127.0.0.1", resolve));
  const env = {
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/metrics`,
    OTEL_METRIC_EXPORT_INTERVAL: "1000",
    STATSD_PORT: String((statsd.address() as AddressInfo).port),
  };
  const floor = await measure("rows to the writer only (floor)", null);
  const both = await measure("+ OTLP every 1 s and StatsD every 5 s", env);
  const otlp60 = await measure("+ OTLP every 60 s (the SDK's default) and StatsD every 5 s", {
    ...env,
    OTEL_METRIC_EXPORT_INTERVAL: "60000",
  });
  receiver.close();
  statsd.close();
  process.stdout.write(`${tasks} live tasks, one sample row each per second, ${seconds} s per case\n\n`);
  process.stdout.write("| case | CPU, % of a core | export's own cost |\n|---|---|---|\n");
  for (const row of [floor, both, otlp60])
    process.stdout.write(
      `| ${row.label} | ${row.cpuPercent.toFixed(3)} | ${row === floor ? "–" : `${(row.cpuPercent - floor.cpuPercent).toFixed(3)}`} |\n`,
    );
  process.stdout.write(`\nOTLP requests received: ${requests}; StatsD datagrams: ${datagrams}\n`);
}
