/** Maps what the collector keeps about an execution and its processes to table rows (pure). */
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewHostSample } from "../../db/queries/host-samples.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { HostReading } from "../procfs/host-reading.js";
import { CLOCK_TICKS_PER_SECOND } from "../procfs/procfs-parse.js";
import { finishCpuCheck } from "./cpu-self-check.js";
import type { ExecutionState, ProcessRecord } from "./execution-state.js";
import { topEndpoints } from "./thread-state.js";

export function executionRow(execution: ExecutionState, hostId: string): NewExecution {
  const attribution = execution.attribution;
  return {
    id: execution.id,
    orchestrator: attribution.orchestrator,
    pipeline: attribution.pipeline,
    task: attribution.task,
    runId: execution.runId,
    tryNumber: attribution.tryNumber ?? 1,
    mapIndex: attribution.mapIndex ?? -1,
    hostId,
    attribution: attribution.source,
    rootPid: execution.rootPid,
    rootStartTicks: execution.rootStartTicks,
    cgroupPath: execution.cgroup?.path ?? null,
    podUid: execution.pod?.podUid ?? null,
    startedAt: execution.startedAt,
    endedAt: execution.endedAt,
    exitCode: execution.exitCode,
    status: execution.status,
    ...execution.resources,
    endpoints: execution.endpoints.size > 0 ? topEndpoints(execution.endpoints) : null,
    uid: execution.uid,
    // Only once ended: a row written while it runs never clears the stored figures.
    ...(execution.endedAt === null ? {} : (finishCpuCheck(execution.cpuCheck) ?? {})),
  };
}

/** `redact` is applied to argv before it leaves the collector (collector/storage/redact.ts). */
export function processRow(
  execution: ExecutionState,
  record: ProcessRecord,
  redact: (argv: string[]) => string[],
): NewProcess {
  return {
    executionId: execution.id,
    pid: record.pid,
    startTicks: record.startTicks,
    ppid: record.ppid,
    command: record.comm,
    argv: record.argv ? redact(record.argv).join(" ") : null,
    firstSeen: new Date(record.firstSeenMs),
    lastSeen: new Date(record.lastSeenMs),
    cpuSeconds: record.creditedSeconds ?? record.ownTicks / CLOCK_TICKS_PER_SECOND,
    peakRssBytes: record.peakRssBytes,
    readBytes: record.readBytes,
    writeBytes: record.writeBytes,
    exited: !record.alive,
  };
}

/** The host's own sample of a tick (db/schema.ts hostSamples), from the tick's host-wide readings. */
export function hostSampleRow(hostId: string, nowMs: number, host: HostReading): NewHostSample | null {
  const usage = host.usage;
  if (!usage) return null;
  const share = (stalledUs: number | null) =>
    stalledUs === null ? null : Math.min(Math.max(stalledUs / 1e6 / usage.intervalSeconds, 0), 1);
  return {
    hostId,
    ts: new Date(nowMs),
    intervalSeconds: usage.intervalSeconds,
    cpuBusyCores: usage.cpuBusyCores,
    cpuIowaitCores: usage.cpuIowaitCores,
    cpuStealCores: usage.cpuStealCores,
    diskBusyShare: usage.diskBusyShare,
    diskReadBytes: usage.diskReadBytes,
    diskWriteBytes: usage.diskWriteBytes,
    psiCpuSome: share(host.pressure.cpu),
    psiMemorySome: share(host.pressure.memory),
    psiIoSome: share(host.pressure.io),
    load1: host.load1,
  };
}
