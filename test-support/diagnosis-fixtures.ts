/**
 * A slowed run with a known cause, for the diagnosis's integration tests: a task that usually takes two
 * minutes, mostly on a CPU, whose latest run takes six, blocked on disk in bursts while a neighbour on the
 * same host writes in the same bursts; a second neighbour on that host burns CPU steadily, and a third
 * execution writes on another host at the same time. Written through the db/ query modules as the
 * collector would, unsummarized (the diagnosis summarizes what it reads). Deterministic.
 */
import { createHash } from "node:crypto";
import type { TaskKey } from "../common/task-key.js";
import { MiB } from "../common/units.js";
import type { Db } from "../db/client.js";
import { upsertExecution } from "../db/queries/executions.js";
import { insertHostSamples } from "../db/queries/host-samples.js";
import { upsertHost } from "../db/queries/hosts.js";
import { upsertProcesses } from "../db/queries/processes.js";
import { insertSamples, type NewSample } from "../db/queries/samples.js";

export const slowedTask: TaskKey = { orchestrator: "airflow", pipeline: "etl_daily", task: "load_orders" };
export const writerTask: TaskKey = { orchestrator: "airflow", pipeline: "maintenance", task: "bulk_write" };
export const burnerTask: TaskKey = { orchestrator: "airflow", pipeline: "reports", task: "render_charts" };
export const farTask: TaskKey = { orchestrator: "airflow", pipeline: "elsewhere", task: "copy_files" };

/** Usual runs before the slowed one. */
export const USUAL_RUNS = 8;
export const USUAL_SECONDS = 120;
export const SLOW_SECONDS = 360;

function uuidOf(text: string): string {
  const hex = createHash("sha1").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Bursts of 20 s: on, off, on… */
const burst = (tick: number) => (Math.floor(tick / 20) % 2 === 0 ? 1 : 0);
/** A deterministic wobble in [0, 0.1). */
const wobble = (tick: number) => ((tick * 37) % 10) / 100;

interface Tick {
  cores: number;
  onCpu: number;
  cpuWait: number;
  diskWait: number;
  idle: number;
  read: number;
  write: number;
  /** Blocked on a socket. @defaultValue 0 */
  netWait?: number;
}

async function writeExecution(
  db: Db,
  key: TaskKey,
  run: string,
  host: string,
  startedAt: Date,
  seconds: number,
  tickOf: (tick: number) => Tick,
  command: string,
  endpoints: Array<{ endpoint: string; waitSeconds: number }> | null = null,
): Promise<string> {
  const id = uuidOf(`${key.pipeline}/${key.task}/${run}/${host}`);
  const endedAt = new Date(startedAt.getTime() + seconds * 1000);
  await upsertExecution(db, {
    id,
    ...key,
    runId: run,
    tryNumber: 1,
    hostId: host,
    attribution: "env",
    startedAt,
    endedAt,
    exitCode: 0,
    status: "succeeded",
    endpoints,
  });
  const rows: NewSample[] = [];
  let cumulative = 0;
  for (let tick = 0; tick < seconds; tick++) {
    const shape = tickOf(tick);
    cumulative += shape.cores;
    const netWait = shape.netWait ?? 0;
    const waits = shape.onCpu + shape.cpuWait + shape.diskWait + netWait + shape.idle;
    rows.push({
      executionId: id,
      ts: new Date(startedAt.getTime() + (tick + 1) * 1000),
      intervalSeconds: 1,
      cpuCores: shape.cores,
      cpuSecondsTotal: cumulative,
      rssBytes: 200 * MiB,
      diskReadBytes: shape.read,
      diskWriteBytes: shape.write,
      onCpuSeconds: shape.onCpu,
      cpuWaitSeconds: shape.cpuWait,
      diskWaitSeconds: shape.diskWait,
      netWaitSeconds: netWait,
      childWaitSeconds: 0,
      idleSeconds: shape.idle,
      wallOnCpuSeconds: shape.onCpu / waits,
      wallCpuWaitSeconds: shape.cpuWait / waits,
      wallDiskWaitSeconds: shape.diskWait / waits,
      wallNetWaitSeconds: netWait / waits,
      wallChildWaitSeconds: 0,
      wallIdleSeconds: shape.idle / waits,
      threads: 1,
      processesAlive: 1,
      processesStarted: tick === 0 ? 1 : 0,
    });
  }
  await insertSamples(db, rows);
  await upsertProcesses(db, [
    {
      executionId: id,
      pid: 100,
      startTicks: 1,
      command,
      firstSeen: startedAt,
      lastSeen: endedAt,
      cpuSeconds: cumulative,
      peakRssBytes: 200 * MiB,
      exited: true,
    },
  ]);
  return id;
}

/**
 * Writes the scenario; the slowed run starts an hour before `windowEnd`, on `host` with its two neighbours.
 * Returns the slowed run's id.
 */
export async function seedSlowedRun(
  db: Db,
  windowEnd: Date,
  host = "worker-1",
): Promise<{ slowedRunId: string; slowedExecutionId: string }> {
  await upsertHost(db, { id: host, hostname: host, cores: 4 });
  await upsertHost(db, { id: "worker-2", hostname: "worker-2", cores: 4 });
  const usual = (tick: number): Tick => ({
    cores: 0.85 + wobble(tick),
    onCpu: 0.85,
    cpuWait: 0.02,
    diskWait: 0.08,
    idle: 0.05,
    read: 4 * MiB,
    write: MiB,
  });
  for (let day = USUAL_RUNS; day >= 1; day--) {
    const startedAt = new Date(windowEnd.getTime() - day * 86_400_000 - 3_600_000);
    await writeExecution(
      db,
      slowedTask,
      `scheduled__day-${day}`,
      host,
      startedAt,
      USUAL_SECONDS + day,
      usual,
      "python",
    );
  }
  const slowStart = new Date(windowEnd.getTime() - 3_600_000);
  // Blocked on disk whenever the writer writes: 80 % of those ticks, 10 % of the others.
  const slowed = (tick: number): Tick => {
    const disk = 0.1 + 0.7 * burst(tick) + wobble(tick) / 2;
    return {
      cores: 0.85 - disk * 0.8,
      onCpu: 0.85 - disk * 0.8,
      cpuWait: 0.02,
      diskWait: disk,
      idle: 0.05,
      read: 4 * MiB,
      write: MiB,
    };
  };
  const slowedExecutionId = await writeExecution(
    db,
    slowedTask,
    "scheduled__today",
    host,
    slowStart,
    SLOW_SECONDS,
    slowed,
    "python",
  );
  const quiet: Tick = { cores: 0, onCpu: 0, cpuWait: 0, diskWait: 0, idle: 1, read: 0, write: 0 };
  // The writer starts 30 s before the slowed run and writes 200 MiB/s in the bursts.
  await writeExecution(
    db,
    writerTask,
    "manual__purge",
    host,
    new Date(slowStart.getTime() - 30_000),
    SLOW_SECONDS + 60,
    (tick) => ({ ...quiet, cores: 0.2, onCpu: 0.2, idle: 0.8, write: (burst(tick - 30) * 200 + 1) * MiB }),
    "dd",
  );
  // The burner uses 1.5 cores throughout, unrelated to the bursts.
  await writeExecution(
    db,
    burnerTask,
    "scheduled__today",
    host,
    slowStart,
    SLOW_SECONDS,
    (tick) => ({ ...quiet, cores: 1.5 + wobble(tick * 3), onCpu: 1, idle: 0, write: ((tick * 7) % 5) * MiB }),
    "node",
  );
  // On another host: writes in the same bursts, and must not be named.
  await writeExecution(
    db,
    farTask,
    "scheduled__today",
    "worker-2",
    slowStart,
    SLOW_SECONDS,
    (tick) => ({ ...quiet, write: (burst(tick) * 400 + 1) * MiB }),
    "rsync",
  );
  return { slowedRunId: "scheduled__today", slowedExecutionId };
}

export const endpointTask: TaskKey = { orchestrator: "airflow", pipeline: "etl_daily", task: "fetch_rates" };

/**
 * A task that waits a little on two endpoints every run, whose latest run waits ten times as long on one
 * of them (`rates.example.com:443`) and takes three times as long.
 */
export async function seedSlowEndpoint(db: Db, windowEnd: Date): Promise<void> {
  await upsertHost(db, { id: "worker-1", hostname: "worker-1", cores: 4 });
  const tick =
    (netWait: number) =>
    (index: number): Tick => ({
      cores: 0.3 + wobble(index),
      onCpu: 0.3,
      cpuWait: 0,
      diskWait: 0,
      netWait,
      idle: 0.7 - netWait,
      read: 0,
      write: 0,
    });
  for (let day = USUAL_RUNS; day >= 1; day--) {
    const seconds = 100 + day;
    await writeExecution(
      db,
      endpointTask,
      `scheduled__day-${day}`,
      "worker-1",
      new Date(windowEnd.getTime() - day * 86_400_000 - 7_200_000),
      seconds,
      tick(0.3),
      "python",
      [
        { endpoint: "rates.example.com:443", waitSeconds: seconds * 0.15 },
        { endpoint: "db.internal:5432", waitSeconds: seconds * 0.15 },
      ],
    );
  }
  await writeExecution(
    db,
    endpointTask,
    "scheduled__today",
    "worker-1",
    new Date(windowEnd.getTime() - 7_200_000),
    300,
    tick(0.69),
    "python",
    [
      { endpoint: "rates.example.com:443", waitSeconds: 300 * 0.62 },
      { endpoint: "db.internal:5432", waitSeconds: 300 * 0.07 },
    ],
  );
}

export const crowdedTask: TaskKey = { orchestrator: "airflow", pipeline: "etl_daily", task: "score_models" };
/** Cores the host's untracked processes use in the bursts of {@link seedUntrackedContention}. */
export const UNTRACKED_CORES = 1.6;

/**
 * A run slowed by waiting for a CPU on worker-3 whenever something no collector tracks burns 1.6 cores
 * (the host's own samples say so), beside a tracked neighbour that burns steadily and lines up with
 * nothing. The host's samples add both tasks' use and the untracked bursts, as /proc/stat would.
 */
export async function seedUntrackedContention(db: Db, windowEnd: Date): Promise<void> {
  await upsertHost(db, { id: "worker-3", hostname: "worker-3", cores: 4 });
  const usual = (tick: number): Tick => ({
    cores: 0.9 + wobble(tick),
    onCpu: 0.9,
    cpuWait: 0.02,
    diskWait: 0.03,
    idle: 0.05,
    read: MiB,
    write: MiB,
  });
  for (let day = USUAL_RUNS; day >= 1; day--) {
    const startedAt = new Date(windowEnd.getTime() - day * 86_400_000 - 3_600_000);
    await writeExecution(
      db,
      crowdedTask,
      `scheduled__day-${day}`,
      "worker-3",
      startedAt,
      USUAL_SECONDS + day,
      usual,
      "python",
    );
  }
  const slowStart = new Date(windowEnd.getTime() - 3_600_000);
  const victim = (tick: number): Tick => {
    const wait = 0.05 + 0.7 * burst(tick) + wobble(tick) / 2;
    return {
      cores: 0.9 - wait * 0.8,
      onCpu: 0.9 - wait * 0.8,
      cpuWait: wait,
      diskWait: 0.03,
      idle: 0.05,
      read: MiB,
      write: MiB,
    };
  };
  await writeExecution(
    db,
    crowdedTask,
    "scheduled__today",
    "worker-3",
    slowStart,
    SLOW_SECONDS,
    victim,
    "python",
  );
  const steady = (tick: number): Tick => ({
    cores: 1 + wobble(tick * 3),
    onCpu: 1,
    cpuWait: 0,
    diskWait: 0,
    idle: 0,
    read: 0,
    write: 0,
  });
  await writeExecution(
    db,
    burnerTask,
    "scheduled__today",
    "worker-3",
    slowStart,
    SLOW_SECONDS,
    steady,
    "node",
  );
  await insertHostSamples(
    db,
    Array.from({ length: SLOW_SECONDS + 30 }, (_, index) => {
      const tick = index - 15;
      const inRun = tick >= 0 && tick < SLOW_SECONDS;
      const tracked = inRun ? victim(tick).cores + steady(tick).cores : 0;
      return {
        hostId: "worker-3",
        ts: new Date(slowStart.getTime() + (tick + 1) * 1000),
        intervalSeconds: 1,
        cpuBusyCores: tracked + 0.1 + UNTRACKED_CORES * burst(tick),
        cpuIowaitCores: 0,
        diskBusyShare: 0.05,
        diskReadBytes: inRun ? 2 * MiB : 0,
        diskWriteBytes: inRun ? MiB : 0,
      };
    }),
  );
}
