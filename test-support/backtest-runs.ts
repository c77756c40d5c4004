/**
 * Finished runs with a chosen memory peak, for the backtest's tests on a real database: 60 one-second
 * samples whose cores wobble around `cores` and whose memory climbs to `peakMiB`, spaced 6 hours apart and
 * ending an hour before the window's end, with a 2-core, 2 GiB request (source `flag`).
 */
import { randomUUID } from "node:crypto";
import { MiB } from "../common/units.js";
import type { Db } from "../db/client.js";
import { upsertExecution } from "../db/queries/executions.js";
import { insertSamples, type NewSample } from "../db/queries/samples.js";

export interface SeededRun {
  /** orchestrator/pipeline/task; the task is what follows the last slash, so it may hold anything else. */
  task: string;
  /** 0 for the oldest of `runs`. */
  index: number;
  runs: number;
  peakMiB: number;
  cores: number;
  windowEnd: string;
}

/** Records one finished run of `run.task` on host `host-a` (which must exist), with its samples. */
export async function seedRun(db: Db, run: SeededRun): Promise<void> {
  const { task, index, runs, peakMiB, cores } = run;
  const id = randomUUID();
  const endedAt = new Date(Date.parse(run.windowEnd) - 3_600_000 - (runs - 1 - index) * 6 * 3_600_000);
  const startedAt = new Date(endedAt.getTime() - 60_000);
  const first = task.indexOf("/");
  const last = task.lastIndexOf("/");
  await upsertExecution(db, {
    id,
    orchestrator: task.slice(0, first),
    pipeline: task.slice(first + 1, last),
    task: task.slice(last + 1),
    runId: `scheduled__${startedAt.toISOString()}`,
    tryNumber: 1,
    hostId: "host-a",
    attribution: "env",
    startedAt,
    endedAt,
    exitCode: 0,
    status: "succeeded",
    requestCpuCores: 2,
    cpuSource: "flag",
    requestMemoryBytes: 2048 * MiB,
    memorySource: "flag",
  });
  const rows: NewSample[] = [];
  let cumulative = 0;
  for (let tick = 0; tick < 60; tick++) {
    const used = cores + ((tick * 7 + index) % 10) / 50;
    cumulative += used;
    rows.push({
      executionId: id,
      ts: new Date(startedAt.getTime() + (tick + 1) * 1000),
      intervalSeconds: 1,
      cpuCores: used,
      cpuSecondsTotal: cumulative,
      rssBytes: Math.round((peakMiB - 60 + tick + 1) * MiB),
      diskReadBytes: 0,
      diskWriteBytes: 0,
      netRxBytes: null,
      netTxBytes: null,
      onCpuSeconds: used,
      cpuWaitSeconds: 0,
      diskWaitSeconds: 0,
      netWaitSeconds: 0,
      childWaitSeconds: 0,
      idleSeconds: 0,
      threads: 2,
      processesAlive: 1,
      processesStarted: tick === 0 ? 1 : 0,
      throttledPeriods: null,
      totalPeriods: null,
      oomKills: 0,
      hostLoad1: 1,
    });
  }
  await insertSamples(db, rows);
}
