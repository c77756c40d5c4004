/**
 * The sample arithmetic (pure): a tree's totals from its processes' counters, continuity across exits,
 * and one sample from two readings. No /proc access here: the Sampler reads, this computes, so every
 * rule below is tested over arbitrary inputs (sample-math.test.ts).
 */
import type { NewSample } from "../db/queries/samples.js";
import type { CgroupCounters } from "./cgroup.js";
import type { ThreadSeconds } from "./thread-state.js";

/** USER_HZ: clock ticks per second in /proc times; 100 on every Linux architecture in use (man 5 proc). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Gaps under 10 ms (a final tick right after a regular one) would give noisy rates and a duplicate ts:
 * no sample is made from them.
 */
export const MIN_SAMPLE_GAP_MS = 10;

/** The counters of one process that the tree's totals are made of. */
export interface ProcessCounters {
  pid: number;
  ppid: number;
  alive: boolean;
  /** Own utime+stime, ticks. */
  ownTicks: number;
  /** cutime+cstime: reaped children, ticks. */
  childTicks: number;
  rssBytes: number;
  readBytes: number | null;
  writeBytes: number | null;
}

/** Times and I/O of exited processes that no live process of the tree keeps any more. */
export interface Carry {
  ticks: number;
  readBytes: number;
  writeBytes: number;
}

export function emptyCarry(): Carry {
  return { ticks: 0, readBytes: 0, writeBytes: 0 };
}

/**
 * Continuity across an exit. A reaped child's times and I/O move into its parent's cutime/cstime and
 * io (man 5 proc: cutime counts "waited-for children"), so while the parent lives they are not lost;
 * a process whose parent is outside the tree (the root, or an orphan reparented away) takes them with
 * it, and the tree must carry them. Returns the new carry.
 */
export function carryOnExit(carry: Carry, exited: ProcessCounters, parentAlive: boolean): Carry {
  if (parentAlive) return carry;
  return {
    ticks: carry.ticks + exited.ownTicks + exited.childTicks,
    readBytes: carry.readBytes + (exited.readBytes ?? 0),
    writeBytes: carry.writeBytes + (exited.writeBytes ?? 0),
  };
}

/** A tree's cumulative counters: live processes (own + reaped children) plus what exits carried. */
export interface TreeTotals {
  ticks: number;
  readBytes: number | null;
  writeBytes: number | null;
  rssBytes: number;
  alive: number;
}

export function treeTotals(processes: Iterable<ProcessCounters>, carry: Carry): TreeTotals {
  const totals: TreeTotals = {
    ticks: carry.ticks,
    readBytes: carry.readBytes,
    writeBytes: carry.writeBytes,
    rssBytes: 0,
    alive: 0,
  };
  for (const record of processes) {
    if (!record.alive) continue;
    totals.alive++;
    totals.ticks += record.ownTicks + record.childTicks;
    totals.rssBytes += record.rssBytes;
    // One process whose io could not be read makes the tree's bytes unknown, not smaller.
    if (record.readBytes === null || totals.readBytes === null) totals.readBytes = null;
    else totals.readBytes += record.readBytes;
    if (record.writeBytes === null || totals.writeBytes === null) totals.writeBytes = null;
    else totals.writeBytes += record.writeBytes;
  }
  return totals;
}

/** One reading of a tree's cumulative counters at one instant: a sample is the change between two. */
export interface TreeReading {
  atMs: number;
  cpuSeconds: number;
  readBytes: number | null;
  writeBytes: number | null;
  net: { rxBytes: number; txBytes: number } | null;
  counters: CgroupCounters | null;
}

/** A reading of zero at the task's start: a task first seen young is counted from its start. */
export function zeroReading(atMs: number): TreeReading {
  return { atMs, cpuSeconds: 0, readBytes: 0, writeBytes: 0, net: null, counters: null };
}

/** Cumulative CPU of a tree: its own cgroup's when it has one (exact), else the processes' ticks. */
export function readingCpuSeconds(totals: TreeTotals, counters: CgroupCounters | null): number {
  return counters?.cpuSeconds ?? totals.ticks / CLOCK_TICKS_PER_SECOND;
}

/** What a sample needs beside the two readings. */
export interface SampleContext {
  /** Cumulative CPU reported so far: the series never goes back. */
  reportedCpuSeconds: number;
  totals: Pick<TreeTotals, "rssBytes" | "alive">;
  /** Thread-seconds per state over the interval, and how many threads were read. */
  threadSeconds: ThreadSeconds;
  /**
   * The tree's wall-clock seconds per state over the interval (thread-state.ts wallClockSplit); null
   * when no thread of the tree was left to read (it ended within the interval: gone, not idle).
   */
  wallSeconds: ThreadSeconds | null;
  threads: number;
  processesStarted: number;
  /** Host-wide pressure stall over the interval, µs (null: unknown). */
  hostPressureUs: { cpu: number | null; memory: number | null; io: number | null };
  hostLoad1: number | null;
}

export type SampleValues = Omit<NewSample, "executionId">;

/** A non-negative difference of two counters, or null when either is unknown. */
export function counterDelta(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined ? null : Math.max(a - b, 0);
}

/**
 * One sample from two readings. Returns null when the gap is too short to make one (see
 * MIN_SAMPLE_GAP_MS). CPU never goes back: a counter that fell (an exited process whose parent had not
 * yet reaped it) adds nothing, and the cumulative series rises by the non-negative delta only.
 */
export function sampleBetween(
  previous: TreeReading,
  current: TreeReading,
  context: SampleContext,
): { sample: SampleValues; reportedCpuSeconds: number } | null {
  if (current.atMs - previous.atMs < MIN_SAMPLE_GAP_MS) return null;
  const intervalSeconds = (current.atMs - previous.atMs) / 1000;
  const cpuDelta = Math.max(current.cpuSeconds - previous.cpuSeconds, 0);
  const reportedCpuSeconds = context.reportedCpuSeconds + cpuDelta;
  const counters = current.counters;
  const pressureOf = (name: "cpu" | "memory" | "io"): number | null => {
    const own = counters?.pressure[name]?.some?.totalUs;
    const before = previous.counters?.pressure[name]?.some?.totalUs;
    const stalledUs = own !== undefined && before !== undefined ? own - before : context.hostPressureUs[name];
    return stalledUs === null ? null : Math.min(Math.max(stalledUs / 1e6 / intervalSeconds, 0), 1);
  };
  const throttling = counters?.throttling;
  const previousThrottling = previous.counters?.throttling;
  const times = context.threadSeconds;
  return {
    reportedCpuSeconds,
    sample: {
      ts: new Date(current.atMs),
      intervalSeconds,
      cpuCores: cpuDelta / intervalSeconds,
      cpuSecondsTotal: reportedCpuSeconds,
      rssBytes: context.totals.alive > 0 ? context.totals.rssBytes : null,
      diskReadBytes: counterDelta(current.readBytes, previous.readBytes),
      diskWriteBytes: counterDelta(current.writeBytes, previous.writeBytes),
      netRxBytes: counterDelta(current.net?.rxBytes, previous.net?.rxBytes),
      netTxBytes: counterDelta(current.net?.txBytes, previous.net?.txBytes),
      onCpuSeconds: times.onCpu,
      cpuWaitSeconds: times.cpuWait,
      diskWaitSeconds: times.disk,
      netWaitSeconds: times.net,
      childWaitSeconds: times.child,
      idleSeconds: times.idle,
      wallOnCpuSeconds: context.wallSeconds?.onCpu ?? null,
      wallCpuWaitSeconds: context.wallSeconds?.cpuWait ?? null,
      wallDiskWaitSeconds: context.wallSeconds?.disk ?? null,
      wallNetWaitSeconds: context.wallSeconds?.net ?? null,
      wallChildWaitSeconds: context.wallSeconds?.child ?? null,
      wallIdleSeconds: context.wallSeconds?.idle ?? null,
      threads: context.threads,
      processesAlive: context.totals.alive,
      processesStarted: context.processesStarted,
      throttledPeriods: counterDelta(throttling?.throttledPeriods, previousThrottling?.throttledPeriods),
      totalPeriods: counterDelta(throttling?.periods, previousThrottling?.periods),
      throttledSeconds: counterDelta(throttling?.throttledSeconds, previousThrottling?.throttledSeconds),
      oomKills: counterDelta(counters?.oomKills, previous.counters?.oomKills),
      psiCpuSome: pressureOf("cpu"),
      psiMemorySome: pressureOf("memory"),
      psiIoSome: pressureOf("io"),
      hostLoad1: context.hostLoad1,
    },
  };
}

/**
 * Children that lived and died between two polls were never seen. The host's pid counter says how many
 * pids were handed out; what no tree accounts for is charged to the one tree that had churn this tick
 * (and to none when several did: then it is unknown which). Returns the unseen starts to charge, or 0.
 */
export function unseenStarts(input: {
  previousLastPid: number | null;
  lastPid: number | null;
  /** Pids the collector saw go to tracked trees (adopted children) since the last tick. */
  knownAllocations: number;
  /** Pids the collector knows went elsewhere (its own threads, discovered host processes). */
  otherAllocations: number;
  /** Trees with churn this tick. */
  churningTrees: number;
}): number {
  const { previousLastPid, lastPid } = input;
  if (previousLastPid === null || lastPid === null) return 0;
  if (lastPid < previousLastPid) return 0; // wrapped: unknown
  if (input.churningTrees !== 1) return 0;
  return Math.max(lastPid - previousLastPid - input.knownAllocations - input.otherAllocations, 0);
}
