/**
 * Run timelines for tests and the benchmark, shaped like what db/queries/timelines.ts returns for real
 * runs: phases (start-up, a middle that works through batches with a memory climb and a peak, a
 * write-out), jitter per bucket, and the wall-clock split of each bucket. Deterministic (seeded), like test-support/report-fixtures.ts.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import { type RunTimeline, TIMELINE_BUCKETS, type TimelineBucket } from "../db/queries/timelines.js";
import { seededRandom } from "./report-fixtures.js";

export interface TimelineShape {
  durationSeconds: number;
  peakCores: number;
  peakBytes: number;
  latest: boolean;
  worst: boolean;
  /** Samples written before the wall-clock columns existed: the split comes from thread-time. */
  threadTimeOnly?: boolean;
  topEndpoint?: string | null;
  seed?: number;
}

export function syntheticTimeline(
  key: { orchestrator: string; pipeline: string; task: string },
  shape: TimelineShape,
  buckets = TIMELINE_BUCKETS,
): RunTimeline {
  const random = seededRandom(shape.seed ?? 7);
  const count = Math.min(buckets, Math.max(1, Math.ceil(shape.durationSeconds)));
  const seconds = shape.durationSeconds / count;
  const list: TimelineBucket[] = [];
  // The working middle goes batch by batch: each batch fetches over the network, computes, and sometimes
  // spills to disk, and holds its rows until it ends. So from one step to the next the state that took
  // most of the time changes (the band breaks into many runs, its most expensive shape) and memory climbs
  // and drops with every batch (no two steps on one straight line, so no path segment merges).
  let batchLeft = 0;
  let batchLength = 1;
  for (let index = 0; index < count; index++) {
    const phase = index / count;
    // Start-up reads (disk), the middle works through batches, the end writes.
    const computing = phase > 0.1 && phase < 0.8;
    if (batchLeft === 0) {
      batchLength = 2 + Math.floor(random() * 4);
      batchLeft = batchLength;
    }
    const batchFill = (batchLength - batchLeft + 1) / batchLength;
    batchLeft--;
    const activity = random();
    const fetching = computing && activity > 0.6 && activity <= 0.85;
    const spilling = computing && activity > 0.85;
    const cpuShare = !computing
      ? 0.15 + random() * 0.1
      : fetching || spilling
        ? 0.15 + random() * 0.15
        : 0.55 + random() * 0.3;
    const diskShare = spilling ? 0.45 + random() * 0.15 : computing ? random() * 0.05 : 0.4 + random() * 0.2;
    const netShare = fetching ? 0.45 + random() * 0.2 : computing ? random() * 0.08 : random() * 0.05;
    const cpuWaitShare = computing ? random() * 0.08 : 0;
    const rest = Math.max(0, 1 - cpuShare - diskShare - netShare - cpuWaitShare);
    const mean = shape.peakCores * (computing ? 0.6 + random() * 0.2 : 0.1 + random() * 0.1);
    const climb = Math.min(1, 0.3 + phase * 0.8);
    const held = computing ? 0.6 + 0.3 * batchFill : 0.85;
    list.push({
      index,
      ticks: Math.max(1, Math.round(seconds)),
      seconds,
      cpuMin: mean * 0.5,
      // Every other bucket stays under the one-bucket peak, so the peak is the run's maximum.
      cpuMax:
        index === Math.floor(count * 0.6)
          ? shape.peakCores
          : Math.min(shape.peakCores * 0.95, mean * (1.1 + random() * 0.3)),
      cpuMean: mean,
      rssMax: Math.round(
        shape.peakBytes * (index === Math.floor(count * 0.7) ? 1 : climb * (held + random() * 0.05)),
      ),
      states: {
        cpu: cpuShare * seconds,
        cpuWait: cpuWaitShare * seconds,
        diskWait: diskShare * seconds,
        networkWait: netShare * seconds,
        childWait: rest * 0.3 * seconds,
        idle: rest * 0.7 * seconds,
      },
    });
  }
  const startedAt = new Date(Date.UTC(2026, 10, 20, 2)).toISOString();
  return {
    executionId: `00000000-0000-4000-8000-${String(shape.seed ?? 0).padStart(12, "0")}`,
    ...key,
    runId: `scheduled__2026-11-20T02:00:00+00:00`,
    tryNumber: 1,
    startedAt,
    endedAt: new Date(Date.parse(startedAt) + shape.durationSeconds * 1000).toISOString(),
    durationSeconds: shape.durationSeconds,
    latest: shape.latest,
    worst: shape.worst,
    bucketCount: count,
    requestCores: null,
    limitCores: null,
    requestBytes: null,
    limitBytes: null,
    topEndpoint: shape.topEndpoint ?? null,
    threadTimeTicks: shape.threadTimeOnly ? list.reduce((sum, bucket) => sum + bucket.ticks, 0) : 0,
    buckets: list,
  };
}

/**
 * Every task of a document with a latest run and a separate worst run of `worstSeconds` (10 hours by
 * default, the long run of docs/reports.md and BENCHMARKS.md "reports"): the largest a report's timelines get.
 */
export function syntheticTimelines(
  document: AnalysisDocument,
  worstSeconds = 10 * 3600,
): Map<string, RunTimeline[]> {
  const byTask = new Map<string, RunTimeline[]>();
  document.tasks.forEach((task, index) => {
    const peakCores = task.cpu.max;
    const peakBytes = task.memory.peakBytes.max;
    const endpoint = task.endpoints?.[0]?.endpoint ?? null;
    byTask.set(taskKeyString(task), [
      syntheticTimeline(task, {
        durationSeconds: task.durationSeconds.p50,
        peakCores: peakCores * 0.9,
        peakBytes: peakBytes * 0.9,
        latest: true,
        worst: false,
        topEndpoint: endpoint,
        seed: index * 2 + 1,
      }),
      syntheticTimeline(task, {
        durationSeconds: worstSeconds,
        peakCores,
        peakBytes,
        latest: false,
        worst: true,
        topEndpoint: endpoint,
        seed: index * 2 + 2,
      }),
    ]);
  });
  return byTask;
}
