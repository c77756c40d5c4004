/**
 * Live per-task metrics from a real `rightsize collect` watching a real CPU burner: an OTLP/HTTP receiver
 * and a UDP StatsD listener on loopback record what arrives, and the values are checked against what the
 * same collector stored in Postgres. The OTLP receiver is down for the first seconds. Needs `npm run build`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../db/client.js";
import { sql } from "drizzle-orm";
import { cliPath } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";

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

let database: TestDatabase;
let folder: string;
let receiver: Server | null = null;
let statsd: Socket;
let burner: ChildProcess;
const bodies: string[] = [];
const datagrams: string[] = [];

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-metrics-test-"));
  statsd = createSocket("udp4");
  statsd.on("message", (message) => datagrams.push(message.toString("utf8")));
  await new Promise<void>((resolve) => statsd.bind(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  burner?.kill("SIGKILL");
  receiver?.close();
  statsd?.close();
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
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

    burner = spawn("sh", ["-c", "while :; do :; done"], {
      stdio: "ignore",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        RIGHTSIZE_ORCHESTRATOR: "airflow",
        RIGHTSIZE_PIPELINE: dag,
        RIGHTSIZE_TASK: "burn",
        RIGHTSIZE_RUN: "manual__1",
        RIGHTSIZE_TRY: "2",
      },
    });
    const collector = spawn(
      process.execPath,
      [cliPath, "--db", database.url, "collect", "--interval", "500ms", "--duration", "90s"],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          RIGHTSIZE_HOST_ID: hostId,
          RIGHTSIZE_SPOOL_DIR: join(folder, "spool"),
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
          OTEL_METRIC_EXPORT_INTERVAL: "1000",
          RIGHTSIZE_STATSD: `127.0.0.1:${(statsd.address() as AddressInfo).port}`,
          RIGHTSIZE_STATSD_TAGS: "dogstatsd",
          RIGHTSIZE_STATSD_INTERVAL: "1s",
          LOG_LEVEL: "warn",
        },
      },
    );
    let stderr = "";
    collector.stderr!.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => collector.on("close", resolve));
    const until = async (what: string, done: () => boolean) => {
      for (let waited = 0; !done(); waited += 100) {
        if (waited > 60_000) throw new Error(`gave up waiting for ${what}; collector said: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // The receiver comes up only once the collector found it down; the collector stops after three
    // exports have arrived since.
    await until("a failed export", () => stderr.includes("OTLP metrics export failed"));
    receiver = await listen(port);
    await until("three exports", () => bodies.length >= 3);
    collector.kill("SIGTERM");
    const code = await exited;
    burner.kill("SIGKILL");
    expect(code, stderr).toBe(0);

    // The outage was noticed and said (above), and cost no sample.
    const [execution] = await queryRows<{ id: string }>(
      database.handle.db,
      sql`select id from task_executions where pipeline = ${dag} and host_id = ${hostId}`,
    );
    expect(execution).toBeDefined();
    const stored = await queryRows<{
      cpu_cores: number | null;
      rss_bytes: string | null;
      disk_read_bytes: string | null;
      wall_on_cpu_seconds: number | null;
      ts: Date | string;
    }>(
      database.handle.db,
      sql`select ts, cpu_cores, rss_bytes, disk_read_bytes, wall_on_cpu_seconds from samples where execution_id = ${execution!.id} order by ts`,
    );
    // Ticks kept their 500-ms pace through the outage: no gap near an export timeout (1 s) or more,
    // with room for a loaded machine.
    expect(stored.length).toBeGreaterThanOrEqual(4);
    const gaps = stored
      .slice(1)
      .map((row, index) => new Date(row.ts).getTime() - new Date(stored[index]!.ts).getTime());
    expect(Math.max(...gaps)).toBeLessThan(2500);
    const cores = stored.map((row) => Number(row.cpu_cores)).filter(Number.isFinite);
    const rss = new Set(stored.map((row) => Number(row.rss_bytes)));

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
    for (const point of cpu) {
      expect(point.value).toBeGreaterThanOrEqual(Math.min(...cores) - 1e-6);
      expect(point.value).toBeLessThanOrEqual(Math.max(...cores) + 1e-6);
    }
    const memory = ours.filter((point) => point.name === "rightsize.task.memory.usage");
    expect(memory.length).toBeGreaterThan(0);
    for (const point of memory) expect(rss).toContain(point.value);
    // Counters are cumulative: what arrives after the outage still counts from the task's start.
    const read = ours.filter(
      (point) => point.name === "rightsize.task.disk.io" && point.attributes["disk.io.direction"] === "read",
    );
    expect(read.length).toBeGreaterThan(0);
    const readTotal = stored.reduce((sum, row) => sum + Number(row.disk_read_bytes ?? 0), 0);
    for (const point of read) expect(point.value).toBeLessThanOrEqual(readTotal);
    const onCpu = ours.filter(
      (point) =>
        point.name === "rightsize.task.time" && point.attributes["rightsize.time.state"] === "on_cpu",
    );
    const wallTotal = stored.reduce((sum, row) => sum + Number(row.wall_on_cpu_seconds ?? 0), 0);
    if (stored.some((row) => row.wall_on_cpu_seconds !== null)) {
      expect(onCpu.length).toBeGreaterThan(0);
      const last = Math.max(...onCpu.map((point) => point.value));
      expect(last).toBeGreaterThan(0);
      expect(last).toBeLessThanOrEqual(wallTotal + 1e-6);
    } else {
      expect(onCpu).toEqual([]);
    }

    // StatsD, DogStatsD style: Airflow 2.10's names and units (percent of one core), tagged by DAG and task.
    const lines = datagrams
      .flatMap((datagram) => datagram.split("\n"))
      .filter((line) => line.includes(`dag_id:${dag}`));
    const cpuLines = lines.filter((line) => line.startsWith("airflow.task.cpu_usage:"));
    expect(cpuLines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.startsWith("airflow.task.mem_usage:"))).toBe(true);
    for (const line of cpuLines) {
      expect(line).toMatch(/\|g\|#.*task_id:burn/);
      const value = Number(/^[^:]+:([^|]+)\|/.exec(line)![1]);
      expect(value).toBeGreaterThanOrEqual(Math.min(...cores) * 100 - 0.01);
      expect(value).toBeLessThanOrEqual(Math.max(...cores) * 100 + 0.01);
    }
  });
});
