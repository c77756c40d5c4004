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

/** A tracked process found gone at a tick, with what tells who reaped it. */
export interface Departure extends ProcessCounters {
  /** Its parent when it exited, from its accounting record; null when unknown. */
  exitPpid: number | null;
  /** A thread of it was blocked in wait4/waitid at its last reading. */
  waitingForChild: boolean;
}

/** What the exits of one tick leave to the tree. */
export interface DepartureSettlement {
  /** The carry with these exits' kept times and I/O added. */
  carry: Carry;
  /** Own ticks to record per departed pid: the root's exact final where its readings fall short. */
  ownTicks: Map<number, number>;
  /** Ticks carried for the root's chain when the root left (what `run`'s exact total settles against). */
  rootCarriedTicks: number | null;
}

/**
 * Continuity across the exits of one tick. A reaped child's times and I/O move into its reaper's cutime,
 * cstime and io (man 5 proc: cutime counts "waited-for children"; kernel/exit.c wait_task_zombie), so an
 * exit reaped by a tracked process that lives on loses nothing. Exits chain: a waiting parent that left in
 * the same tick reaped its child first (its accounting record names that parent, or the parent sat in
 * wait4/waitid at its last reading), and the chain ends at the first member whose reaper is a live
 * member (nothing to carry: its cutime will show the whole chain) or is outside the tree (the root's
 * parent, or init for an orphan): then the chain's times are the tree's to carry. They are the root's
 * exact final total when its parent's reaped-children times told it (rootFinalTicks), else the
 * members' last readings: a lower bound, short of what they used since the last tick. (Accounting
 * records' own CPU is no better there: sampled by the scheduler tick, a busy stress-ng worker's record
 * said 2.78 s where its parent's rusage said 2.43 s, docs/collector.md "Accuracy".)
 */
export function settleDepartures(input: {
  carry: Carry;
  departures: readonly Departure[];
  /** Whether a pid is a tracked process still alive after this tick's walk. */
  liveTracked: (pid: number) => boolean;
  rootPid: number;
  /**
   * The rise of the root's parent's reaped-children times over the tick, with the time since the root's
   * last reading: the root's exact final total when rootFinalTicks accepts it. Null: not known.
   */
  rootParentRise: { before: number; after: number; elapsedMs: number; cpus: number } | null;
}): DepartureSettlement {
  const byPid = new Map(input.departures.map((departure) => [departure.pid, departure]));
  const reaperOf = (departure: Departure): Departure | "live" | "outside" => {
    const parent = byPid.get(departure.ppid);
    if (parent) {
      const reaped = departure.exitPpid !== null ? departure.exitPpid === parent.pid : parent.waitingForChild;
      return reaped ? parent : "outside";
    }
    return input.liveTracked(departure.ppid) ? "live" : "outside";
  };
  const chains = new Map<Departure, Departure[]>();
  const ownTicks = new Map<number, number>();
  for (const departure of input.departures) {
    let top = departure;
    let reaper = reaperOf(departure);
    for (let steps = 0; typeof reaper === "object" && steps < input.departures.length; steps++) {
      top = reaper;
      reaper = reaperOf(top);
    }
    if (reaper === "live") continue;
    const chain = chains.get(top) ?? [];
    chain.push(departure);
    chains.set(top, chain);
  }
  const carry = { ...input.carry };
  let rootCarriedTicks: number | null = null;
  for (const [top, chain] of chains) {
    let ticks = 0;
    for (const member of chain) {
      ticks += member.ownTicks + member.childTicks;
      carry.readBytes += member.readBytes ?? 0;
      carry.writeBytes += member.writeBytes ?? 0;
    }
    if (top.pid === input.rootPid) {
      const rise = input.rootParentRise;
      const exact =
        rise === null
          ? null
          : rootFinalTicks({
              parentBefore: rise.before,
              parentAfter: rise.after,
              chainLast: ticks,
              chainSize: chain.length,
              elapsedMs: rise.elapsedMs,
              cpus: rise.cpus,
            });
      if (exact !== null) {
        // What the chain's readings do not explain ran in its last moments: the root's row gets it.
        ownTicks.set(top.pid, top.ownTicks + exact - ticks);
        ticks = exact;
      }
      rootCarriedTicks = ticks;
    }
    carry.ticks += ticks;
  }
  return { carry, ownTicks, rootCarriedTicks };
}

/**
 * A departing root's exact final CPU, ticks, from its parent's reaped-children times: their rise over
 * the tick when the root alone explains it, else null. The root's final total (own + reaped children)
 * holds its whole chain of members that left with it (settleDepartures), so the rise is at least their
 * last readings; and since those readings they ran at most `cpus` cores for the elapsed time (+1 tick
 * each side of every reading for the tick counters' rounding). A rise outside those bounds means the
 * parent reaped others too, and says nothing exact about the root.
 */
export function rootFinalTicks(input: {
  parentBefore: number;
  parentAfter: number;
  /** The last readings (own + reaped children) of the root and the members that left with it, ticks. */
  chainLast: number;
  chainSize: number;
  elapsedMs: number;
  cpus: number;
}): number | null {
  const rise = input.parentAfter - input.parentBefore;
  const used = Math.ceil((Math.max(input.elapsedMs, 0) / 1000) * CLOCK_TICKS_PER_SECOND * input.cpus);
  return rise >= input.chainLast && rise <= input.chainLast + used + 2 * input.chainSize ? rise : null;
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
