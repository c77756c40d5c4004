/**
 * Live per-task metrics from a real `rightsize collect` watching a real CPU burner: an OTLP/HTTP receiver
 * and a UDP StatsD listener on loopback record what arrives, and the values are checked against what the
 * test itself reads of the burner's processes in /proc (their CPU over the same wall clock, their
 * resident memory), not against what the collector stored. The burner loops below a `timeout` that waits
 * for it, under the task's shell: the work sits two levels below the root. The OTLP receiver is down for
 * the first seconds. Needs `npm run build`.
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../db/client.js";
import { useCollectorTestBed } from "../../test-support/collector-tests.js";
import {
  median,
  procCpuSeconds,
  procRssBytes,
  processTree,
  relativeError,
} from "../../test-support/process-workloads.js";

interface OtlpPoint {
  name: string;
  attributes: Record<string, string | number>;
  value: number;
}

/** Flattens OTLP/JSON ExportMetricsServiceRequest bodies (opentelemetry-proto, JSON encoding) into points. */
function pointsOf(bodies: string[]): OtlpPoint[] {
  type AnyValue = {
    stringValue?: string;
    intValue?: string | number;
    doubleValue?: number;
    boolValue?: boolean;
  };
  type DataPoint = {
    attributes?: Array<{ key: string; value: AnyValue }>;
    asDouble?: number;
    asInt?: string | number;
  };
  const points: OtlpPoint[] = [];
  for (const body of bodies) {
    const request = JSON.parse(body) as {
      resourceMetrics: Array<{
        scopeMetrics: Array<{
          metrics: Array<{
            name: string;
            gauge?: { dataPoints: DataPoint[] };
            sum?: { dataPoints: DataPoint[] };
          }>;
        }>;
      }>;
    };
    for (const resource of request.resourceMetrics)
      for (const scope of resource.scopeMetrics)
        for (const metric of scope.metrics)
          for (const point of (metric.gauge ?? metric.sum)?.dataPoints ?? []) {
            const attributes: Record<string, string | number> = {};
            for (const { key, value } of point.attributes ?? [])
              attributes[key] =
                value.stringValue ?? Number(value.intValue ?? value.doubleValue ?? Number.NaN);
            points.push({ name: metric.name, attributes, value: Number(point.asDouble ?? point.asInt) });
          }
  }
  return points;
}

const bed = useCollectorTestBed("rightsize-metrics-test-");
let receiver: Server | null = null;
let statsd: Socket;
let burner: ChildProcess;
const bodies: string[] = [];
const datagrams: string[] = [];

beforeAll(async () => {
  statsd = createSocket("udp4");
  statsd.on("message", (message) => datagrams.push(message.toString("utf8")));
  await new Promise<void>((resolve) => statsd.bind(0, "127.0.0.1", resolve));
});

/** Kills the burner's process group: the shell, the timeout and the loop. */
function killBurner(): void {
  try {
    if (burner?.pid) process.kill(-burner.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

afterAll(async () => {
  killBurner();
  receiver?.close();
  statsd?.close();
});

function listen(port: number): Promise<Server> {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      if (request.url === "/v1/metrics") bodies.push(body);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("per-task metrics export", () => {
  it("sends a real task's CPU and memory over OTLP and StatsD, and rides out a receiver that is down", async () => {
    const dag = `metrics_dag_${randomUUID().slice(0, 8)}`;
    const hostId = `metrics-test-${randomUUID().slice(0, 8)}`;
    // A free port, closed again: the receiver starts on it only after the collector has tried it.
    const probe = await listen(0);
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    // The task's shell waits for `timeout`, which waits for the looping shell (GNU timeout forks the
    // command and waits for it): the only CPU is two levels below the root.
    burner = bed.start("/bin/sh", ["-c", '/usr/bin/timeout 300 /bin/sh -c "while :; do :; done"; true'], {
      RIGHTSIZE_ORCHESTRATOR: "airflow",
      RIGHTSIZE_PIPELINE: dag,
      RIGHTSIZE_TASK: "burn",
      RIGHTSIZE_RUN: "manual__1",
      RIGHTSIZE_TRY: "2",
    });
    // Not awaited: the reading below comes before the collector's first look.
    const collector = await bed.startCollector({
      hostId,
      args: ["--duration", "90s"],
      env: {
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
        OTEL_METRIC_EXPORT_INTERVAL: "1000",
        RIGHTSIZE_STATSD: `127.0.0.1:${(statsd.address() as AddressInfo).port}`,
        RIGHTSIZE_STATSD_TAGS: "dogstatsd",
        RIGHTSIZE_STATSD_INTERVAL: "1s",
      },
      awaitStart: false,
    });
    // The loop is the tree's last process; its CPU now, before the collector could have counted any.
    const tree = await treeOf(burner.pid!);
    const loop = tree.at(-1)!;
    const cpuAtStart = procCpuSeconds(loop)!;
    const until = async (what: string, done: () => boolean) => {
      for (let waited = 0; !done(); waited += 100) {
        if (waited > 60_000)
          throw new Error(`gave up waiting for ${what}; collector said: ${collector.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // The receiver comes up only once the collector found it down; the collector stops after three
    // exports have arrived since.
    await until("a failed export", () => collector.stderr().includes("OTLP metrics export failed"));
    receiver = await listen(port);
    // The reference: the loop's cores over the time the received exports span, and the tree's memory.
    const cpuAtReceiver = procCpuSeconds(loop)!;
    const receiverAtMs = Date.now();
    await until("three exports", () => bodies.length >= 3);
    const cpuAtThird = procCpuSeconds(loop)!;
    const loopCores = (cpuAtThird - cpuAtReceiver) / ((Date.now() - receiverAtMs) / 1000);
    const treeRss = tree.reduce((sum, pid) => sum + (procRssBytes(pid) ?? 0), 0);
    const treeReadBytes = tree.reduce((sum, pid) => sum + readBytesOf(pid), 0);
    const code = await collector.stop();
    const cpuAtStop = procCpuSeconds(loop)!;
    killBurner();
    expect(code, collector.stderr()).toBe(0);
    expect(loopCores, "the loop's own cores").toBeGreaterThan(0.2);

    // The outage was noticed and said (above), and cost no sample.
    const [execution] = await queryRows<{ id: string }>(
      bed.database.handle.db,
      sql`select id from task_executions where pipeline = ${dag} and host_id = ${hostId}`,
    );
    expect(execution).toBeDefined();
    const stored = await queryRows<{ ts: Date | string }>(
      bed.database.handle.db,
      sql`select ts from samples where execution_id = ${execution!.id} order by ts`,
    );
    // Ticks kept their 500-ms pace through the outage: no gap near an export timeout (1 s) or more,
    // with room for a loaded machine.
    expect(stored.length).toBeGreaterThanOrEqual(4);
    const gaps = stored
      .slice(1)
      .map((row, index) => new Date(row.ts).getTime() - new Date(stored[index]!.ts).getTime());
    expect(Math.max(...gaps)).toBeLessThan(2500);

    const ours = pointsOf(bodies).filter((point) => point.attributes["airflow.dag_id"] === dag);
    const cpu = ours.filter((point) => point.name === "rightsize.task.cpu.usage");
    expect(cpu.length).toBeGreaterThan(0);
    expect(cpu[0]!.attributes).toMatchObject({
      "airflow.task_id": "burn",
      "airflow.try_number": 2,
      "host.name": hostId,
      "rightsize.orchestrator": "airflow",
    });
    expect(cpu[0]!.attributes["airflow.run_id"]).toBeUndefined();
    // Each export holds the last tick's cores; most of them the loop's (20 % for a shared host's
    // tick-to-tick swings).
    const exportedCores = median(cpu.map((point) => point.value));
    expect
      .soft(relativeError(exportedCores, loopCores), `exported ${exportedCores} cores, loop ${loopCores}`)
      .toBeLessThan(0.2);
    // The tree's resident memory: the three processes' VmRSS, which hardly moves in a shell loop. The
    // collector reads /proc/PID/stat's rss, the kernel's per-CPU counters without their unflushed
    // batches (VmRSS adds them): for these ~1.7-MB shells it reads up to a few hundred KiB low (a shell
    // here: stat 1,636 kB, VmRSS 1,740 kB), so 10 % or one batch (32 pages) per CPU per process.
    const memory = ours.filter((point) => point.name === "rightsize.task.memory.usage");
    expect(memory.length).toBeGreaterThan(0);
    const exportedRss = median(memory.map((point) => point.value));
    const batches = tree.length * availableParallelism() * 32 * 4096;
    expect
      .soft(Math.abs(exportedRss - treeRss), `exported ${exportedRss} B, tree VmRSS ${treeRss} B`)
      .toBeLessThanOrEqual(Math.max(0.1 * treeRss, batches));
    // Counters are cumulative from the collector's first look: never more than the tree read since it
    // started (its processes' read_bytes).
    const read = ours.filter(
      (point) => point.name === "rightsize.task.disk.io" && point.attributes["disk.io.direction"] === "read",
    );
    expect(read.length).toBeGreaterThan(0);
    for (const point of read) expect(point.value).toBeLessThanOrEqual(treeReadBytes);
    // Time on a CPU, cumulative: at most the loop's CPU while the collector ran, at least its CPU from
    // the receiver's start to the third export less one 500-ms tick (the export's last tick may be that
    // old; 20 % more for a late timer).
    const onCpu = ours.filter(
      (point) =>
        point.name === "rightsize.task.time" && point.attributes["rightsize.time.state"] === "on_cpu",
    );
    expect(onCpu.length).toBeGreaterThan(0);
    const last = Math.max(...onCpu.map((point) => point.value));
    const figures = `exported ${last} s on a CPU, loop ${cpuAtThird - cpuAtReceiver} s from the receiver's start to the third export, ${cpuAtStop - cpuAtStart} s while the collector ran`;
    expect.soft(last, figures).toBeGreaterThanOrEqual(cpuAtThird - cpuAtReceiver - 0.5 * 1.2);
    expect.soft(last, figures).toBeLessThanOrEqual(cpuAtStop - cpuAtStart + 0.02);

    // StatsD, DogStatsD style: Airflow 2.10's names and units (percent of one core), tagged by DAG and task.
    const lines = datagrams
      .flatMap((datagram) => datagram.split("\n"))
      .filter((line) => line.includes(`dag_id:${dag}`));
    const cpuLines = lines.filter((line) => line.startsWith("airflow.task.cpu_usage:"));
    expect(cpuLines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.startsWith("airflow.task.mem_usage:"))).toBe(true);
    for (const line of cpuLines) expect(line).toMatch(/\|g\|#.*task_id:burn/);
    const percent = median(cpuLines.map((line) => Number(/^[^:]+:([^|]+)\|/.exec(line)![1])));
    expect
      .soft(relativeError(percent, loopCores * 100), `StatsD ${percent} %, loop ${loopCores * 100} %`)
      .toBeLessThan(0.2);
  });
});

/** The burner's processes once the loop runs: the shell, the timeout and the loop. */
async function treeOf(root: number): Promise<number[]> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const tree = processTree(root);
    if (tree.length >= 3) return tree;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the burner's tree did not reach three processes: ${processTree(root).join(", ")}`);
}

/** A process's read_bytes (block-device reads since it started), 0 once it is gone. */
function readBytesOf(pid: number): number {
  try {
    return Number(/read_bytes:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
