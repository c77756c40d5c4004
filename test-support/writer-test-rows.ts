/**
 * Synthetic rows shaped like the sampler's, for the writer's tests and the ingest benchmark: every column
 * filled with a plausible value, one sample per execution per tick.
 */
import { randomUUID } from "node:crypto";
import type { NewExecution, NewHost, NewProcess, NewSample } from "../collector/storage/writer.js";

export function testHost(id = `host-${randomUUID().slice(0, 8)}`): NewHost {
  return {
    id,
    hostname: id,
    cores: 2,
    memoryBytes: 24 * 1024 ** 3,
    os: "linux",
    kernel: "6.1",
    cgroupVersion: 2,
  };
}

export function testExecution(hostId: string, overrides: Partial<NewExecution> = {}): NewExecution {
  return {
    id: randomUUID(),
    orchestrator: "airflow",
    pipeline: "etl_daily",
    task: "load_orders",
    runId: `scheduled__${new Date().toISOString()}`,
    hostId,
    attribution: "env",
    rootPid: 4242,
    rootStartTicks: 123_456,
    startedAt: new Date(),
    status: "running",
    ...overrides,
  };
}

/** The sample of tick `tick` (1 s apart from `start`). */
export function testSample(executionId: string, start: Date, tick: number): NewSample {
  return {
    executionId,
    ts: new Date(start.getTime() + tick * 1000),
    intervalSeconds: 1,
    cpuCores: 0.5 + (tick % 7) / 10,
    cpuSecondsTotal: tick * 0.8,
    rssBytes: 100_000_000 + tick * 4096,
    diskReadBytes: tick * 10,
    diskWriteBytes: tick * 20,
    netRxBytes: null,
    netTxBytes: null,
    onCpuSeconds: 0.5,
    cpuWaitSeconds: 0.05,
    diskWaitSeconds: 0.1,
    netWaitSeconds: 0.2,
    childWaitSeconds: 0,
    idleSeconds: 0.15,
    threads: 4,
    processesAlive: 3,
    processesStarted: tick % 3,
    throttledPeriods: 0,
    totalPeriods: 10,
    throttledSeconds: 0,
    oomKills: 0,
    psiCpuSome: 1.5,
    psiMemorySome: 0,
    psiIoSome: 0.25,
    hostLoad1: 1.25,
  };
}

export function testProcess(executionId: string, pid: number, seen: Date, cpuSeconds: number): NewProcess {
  return {
    executionId,
    pid,
    startTicks: 1000 + pid,
    ppid: 1,
    command: "python",
    argv: "python load.py --password ***",
    firstSeen: seen,
    lastSeen: seen,
    cpuSeconds,
    peakRssBytes: 50_000_000,
    readBytes: 0,
    writeBytes: 0,
    exited: false,
  };
}
