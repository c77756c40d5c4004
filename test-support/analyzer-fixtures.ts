/**
 * Synthetic task behaviour for the analyzer's tests: per-run summaries for the pure functions, and a
 * seeder that writes executions, samples and processes through the db/ query modules, exactly as the
 * collector would. Deterministic: the same arguments write the same rows.
 */
import { createHash } from "node:crypto";
import type { TaskKey } from "../common/task-key.js";
import { MiB } from "../common/units.js";
import type { Db } from "../db/client.js";
import type { RunSummary } from "../db/queries/task-histories.js";
import { upsertExecution } from "../db/queries/executions.js";
import { upsertHost } from "../db/queries/hosts.js";
import { upsertProcesses } from "../db/queries/processes.js";
import { insertSamples, type NewSample } from "../db/queries/samples.js";

/** A run summary with plausible defaults: 10 minutes, 1 core busy, 400 MiB peak, no request. */
export function syntheticRun(overrides: Partial<RunSummary> = {}, index = 0): RunSummary {
  const startedAt = new Date(Date.UTC(2026, 10, 1 + index, 1, 0, 0));
  const durationSeconds = overrides.durationSeconds ?? 600;
  return {
    executionId: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
    runId: `run-${index}`,
    tryNumber: 1,
    hostId: "host-a",
    hostCores: 4,
    startedAt,
    endedAt: new Date(startedAt.getTime() + durationSeconds * 1000),
    durationSeconds,
    exitCode: 0,
    status: "succeeded",
    requestCpuCores: null,
    limitCpuCores: null,
    cpuSource: null,
    requestMemoryBytes: null,
    limitMemoryBytes: null,
    memorySource: null,
    endpoints: null,
    ticks: durationSeconds,
    sampledSeconds: durationSeconds,
    cpuP50: 1,
    cpuP95: 1,
    cpuMax: 1,
    cpuSeconds: durationSeconds,
    coresQuantiles: null,
    peakRssBytes: 400 * MiB,
    diskReadBytes: 0,
    diskWriteBytes: 0,
    netRxBytes: null,
    netTxBytes: null,
    onCpuSeconds: durationSeconds,
    cpuWaitSeconds: 0,
    diskWaitSeconds: 0,
    netWaitSeconds: 0,
    childWaitSeconds: 0,
    idleSeconds: 0,
    wall: null,
    oomKills: 0,
    throttledPeriods: null,
    totalPeriods: null,
    processesMax: 1,
    processesStarted: 1,
    hostLoadAvg: 1,
    ...overrides,
  };
}

/** `count` runs, each from `make(index)`, on consecutive days. */
export function syntheticRuns(
  count: number,
  make: (index: number) => Partial<RunSummary> = () => ({}),
): RunSummary[] {
  return Array.from({ length: count }, (_, index) => syntheticRun(make(index), index));
}

/** The behaviours the seeder cycles through; each should land in the bottleneck class it is named for. */
export const seededKinds = [
  "cpu",
  "network-wait",
  "disk-io",
  "idle",
  "cpu-contention",
  "cpu-throttled",
  "memory",
  "single-threaded",
  "balanced",
  "no-request",
] as const;
export type SeededKind = (typeof seededKinds)[number];

export interface SeedOptions {
  tasks: number;
  runsPerTask: number;
  ticksPerRun: number;
  /** Runs end before this; the last run ends an hour before it. */
  windowEnd: Date;
  /** Hours between a task's runs. @defaultValue 12 */
  spacingHours?: number;
}

/** A deterministic uuid from a text, so seeding twice writes the same ids. */
function uuidOf(text: string): string {
  const hex = createHash("sha1").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function seededTaskKey(index: number): TaskKey & { kind: SeededKind } {
  const kind = seededKinds[index % seededKinds.length]!;
  return {
    orchestrator: "airflow",
    pipeline: `etl_${Math.floor(index / 10)}`,
    task: `${kind}_${index}`,
    kind,
  };
}

interface TickShape {
  cores: number;
  rss: number;
  onCpu: number;
  cpuWait: number;
  diskWait: number;
  netWait: number;
  idle: number;
  diskRead: number;
  diskWrite: number;
  netRx: number | null;
  throttled: number | null;
  load: number;
}

function tickOf(kind: SeededKind, run: number, tick: number): TickShape {
  // A small deterministic wobble so percentiles differ between ticks and runs.
  const wobble = ((run * 7 + tick * 13) % 10) / 100;
  const base: TickShape = {
    cores: 0.5 + wobble,
    rss: (300 + run * 3 + (tick % 20)) * MiB,
    onCpu: 0.5 + wobble,
    cpuWait: 0.05,
    diskWait: 0.1,
    netWait: 0.1,
    idle: 0.3,
    diskRead: 1024,
    diskWrite: 1024,
    netRx: 2048,
    throttled: null,
    load: 1.2,
  };
  switch (kind) {
    case "cpu":
      return {
        ...base,
        cores: 1.8 + wobble,
        onCpu: 1.8 + wobble,
        cpuWait: 0.05,
        diskWait: 0.02,
        netWait: 0.02,
        idle: 0.1,
      };
    case "network-wait":
      return { ...base, cores: 0.15 + wobble / 10, onCpu: 0.15, netWait: 0.8, diskWait: 0.02, idle: 0.05 };
    case "disk-io":
      return {
        ...base,
        cores: 0.3 + wobble,
        onCpu: 0.3,
        diskWait: 0.7,
        netWait: 0.02,
        idle: 0.05,
        diskRead: 50 * MiB,
      };
    case "idle":
      return { ...base, cores: 0.01, onCpu: 0.01, cpuWait: 0, diskWait: 0, netWait: 0, idle: 0.99 };
    case "cpu-contention":
      return {
        ...base,
        cores: 0.9 + wobble,
        onCpu: 0.9,
        cpuWait: 0.6,
        diskWait: 0.02,
        netWait: 0.02,
        idle: 0.05,
        load: 7.9,
      };
    case "cpu-throttled":
      return { ...base, cores: 0.98, onCpu: 0.98, cpuWait: 0.02, idle: 0.05, throttled: 3 };
    case "memory":
      return { ...base, rss: (480 + (tick % 30)) * MiB };
    case "single-threaded":
      return {
        ...base,
        cores: 0.9 + wobble,
        onCpu: 0.95,
        cpuWait: 0.01,
        diskWait: 0.01,
        netWait: 0.01,
        idle: 0.02,
      };
    case "balanced":
      return {
        ...base,
        cores: 0.4 + wobble,
        onCpu: 0.4,
        cpuWait: 0.05,
        diskWait: 0.25,
        netWait: 0.25,
        idle: 0.1,
      };
    case "no-request":
      return { ...base, cores: 1.2 + wobble, onCpu: 1.2, idle: 0.1 };
  }
}

function requestsOf(kind: SeededKind) {
  switch (kind) {
    case "no-request":
      return {};
    case "cpu-throttled":
      return {
        requestCpuCores: 1,
        limitCpuCores: 1,
        cpuSource: "cgroup",
        requestMemoryBytes: 1024 * MiB,
        memorySource: "cgroup",
      };
    case "memory":
      return {
        requestCpuCores: 1,
        cpuSource: "cgroup",
        requestMemoryBytes: 512 * MiB,
        limitMemoryBytes: 512 * MiB,
        memorySource: "cgroup",
      };
    default:
      return { requestCpuCores: 4, cpuSource: "flag", requestMemoryBytes: 2048 * MiB, memorySource: "flag" };
  }
}

/** Writes `tasks` × `runsPerTask` finished executions with `ticksPerRun` one-second samples each. */
export async function seedTasks(
  db: Db,
  options: SeedOptions,
): Promise<{ executions: number; samples: number }> {
  await upsertHost(db, { id: "host-a", hostname: "host-a", cores: 4, memoryBytes: 16 * 1024 * MiB });
  const spacingMs = (options.spacingHours ?? 12) * 3_600_000;
  let samples = 0;
  for (let index = 0; index < options.tasks; index++) {
    const key = seededTaskKey(index);
    const rows: NewSample[] = [];
    const processes = [];
    for (let run = 0; run < options.runsPerTask; run++) {
      const id = uuidOf(`${key.pipeline}/${key.task}/${run}`);
      const endedAt = new Date(
        options.windowEnd.getTime() - 3_600_000 - (options.runsPerTask - 1 - run) * spacingMs,
      );
      const startedAt = new Date(endedAt.getTime() - options.ticksPerRun * 1000);
      await upsertExecution(db, {
        id,
        orchestrator: key.orchestrator,
        pipeline: key.pipeline,
        task: key.task,
        runId: `scheduled__${startedAt.toISOString()}`,
        tryNumber: 1,
        hostId: "host-a",
        attribution: "env",
        startedAt,
        endedAt,
        exitCode: key.kind === "memory" && run === options.runsPerTask - 2 ? 137 : 0,
        status: key.kind === "memory" && run === options.runsPerTask - 2 ? "failed" : "succeeded",
        endpoints:
          key.kind === "network-wait"
            ? [{ endpoint: "127.0.0.1:5432", waitSeconds: options.ticksPerRun * 0.7 }]
            : null,
        ...requestsOf(key.kind),
      });
      let cumulative = 0;
      for (let tick = 0; tick < options.ticksPerRun; tick++) {
        const shape = tickOf(key.kind, run, tick);
        cumulative += shape.cores;
        const oom =
          key.kind === "memory" && run === options.runsPerTask - 2 && tick === options.ticksPerRun - 1;
        rows.push({
          executionId: id,
          ts: new Date(startedAt.getTime() + (tick + 1) * 1000),
          intervalSeconds: 1,
          cpuCores: shape.cores,
          cpuSecondsTotal: cumulative,
          rssBytes: Math.round(shape.rss),
          diskReadBytes: shape.diskRead,
          diskWriteBytes: shape.diskWrite,
          netRxBytes: shape.netRx,
          netTxBytes: shape.netRx === null ? null : shape.netRx / 2,
          onCpuSeconds: shape.onCpu,
          cpuWaitSeconds: shape.cpuWait,
          diskWaitSeconds: shape.diskWait,
          netWaitSeconds: shape.netWait,
          childWaitSeconds: 0,
          idleSeconds: shape.idle,
          threads: 2,
          processesAlive: 1,
          processesStarted: tick === 0 ? 1 : 0,
          throttledPeriods: shape.throttled,
          totalPeriods: shape.throttled === null ? null : 10,
          oomKills: oom ? 1 : 0,
          hostLoad1: shape.load,
        });
      }
      processes.push({
        executionId: id,
        pid: 1000 + run,
        startTicks: 1,
        command: key.kind === "disk-io" ? "gzip" : "python",
        firstSeen: startedAt,
        lastSeen: endedAt,
        cpuSeconds: cumulative,
        peakRssBytes: 300 * MiB,
        exited: true,
      });
      samples += options.ticksPerRun;
    }
    // insertSamples binds every value: a few thousand rows per statement stays under Postgres' 65,535.
    for (let start = 0; start < rows.length; start += 2000)
      await insertSamples(db, rows.slice(start, start + 2000));
    await upsertProcesses(db, processes);
  }
  return { executions: options.tasks * options.runsPerTask, samples };
}
