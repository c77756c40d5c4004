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
  /** A zombie at its last reading: exited, not reaped then (its parent may leave without reaping it). */
  zombie: boolean;
}

/** What the exits of one tick leave to the tree. */
export interface DepartureSettlement {
  /** The carry with these exits' kept times and I/O added. */
  carry: Carry;
  /** Own ticks to record per departed pid: the root's exact final where its readings fall short. */
  ownTicks: Map<number, number>;
  /** Ticks carried for the root's chain when the root left (what a later settleRoot settles against). */
  rootCarriedTicks: number | null;
  /** What the root's exact final total added beyond its chain's readings, ticks (the self-check's settling). */
  settledTicks: number;
}

/**
 * Continuity across the exits of one tick. A reaped child's times and I/O move into its reaper's cutime,
 * cstime and io (man 5 proc: cutime counts "waited-for children"; kernel/exit.c wait_task_zombie), so an
 * exit reaped by a tracked process that lives on loses nothing, and one reaped outside the tree (the
 * root by its parent, an orphan by init) is the tree's to carry.
 *
 * Exits chain: a child whose parent left in the same tick was reaped by that parent, so its times are in
 * the parent's final total, unless it outlived the parent (its accounting record names another parent)
 * or the reaper's reaped-children times say otherwise: they rose by the final totals of what it reaped,
 * which are at least the last readings, so a rise short of a chain's readings proves some member of it
 * was orphaned first. Those are taken out, deepest first (unconfirmed by a record), until the chain fits.
 * A chain whose reaper lives on is in its cutime (nothing carried). One reaped outside is carried: the
 * root's exact final total when it is known (`run`'s wait4, or its parent's rise: rootFinalTicks), else
 * the members' last readings, a lower bound short of what they used since the last tick. (Accounting records' own CPU is no
 * better there: sampled by the scheduler tick, a busy stress-ng worker's record said 2.78 s where its
 * parent's rusage said 2.43 s.)
 */
export function settleDepartures(input: {
  carry: Carry;
  departures: readonly Departure[];
  /**
   * How far a live tracked process's reaped-children times rose in this walk, ticks; undefined when the
   * pid is no live tracked process.
   */
  liveRise: (pid: number) => number | undefined;
  rootPid: number;
  /**
   * The root's final total (own + reaped children), ticks, when something outside the tree told it: `run`'s
   * own wait4 (`slackTicks` null: exact), or the rise of its parent's reaped-children times, which
   * rootFinalTicks accepts only within `slackTicks` (what the chain can have used since its readings).
   */
  rootFinal: { ticks: number; slackTicks: number | null } | null;
}): DepartureSettlement {
  const byPid = new Map(input.departures.map((departure) => [departure.pid, departure]));
  const total = (departure: Departure) => departure.ownTicks + departure.childTicks;
  // Who reaped each departure: a departed parent, or (absent here) its parent outside this walk's exits.
  const reaper = new Map<Departure, Departure>();
  for (const departure of input.departures) {
    const parent = byPid.get(departure.ppid);
    if (parent && (departure.exitPpid === null || departure.exitPpid === parent.pid))
      reaper.set(departure, parent);
  }
  const topOf = (departure: Departure): Departure => {
    let top = departure;
    for (let steps = 0; reaper.has(top) && steps < input.departures.length; steps++) top = reaper.get(top)!;
    return top;
  };
  const depth = (departure: Departure): number => {
    let steps = 0;
    for (let at = departure; reaper.has(at) && steps < input.departures.length; at = reaper.get(at)!) steps++;
    return steps;
  };
  const chainsBy = (tops: Iterable<Departure>) => {
    const groups = new Map<Departure, Departure[]>();
    for (const departure of input.departures) {
      const top = topOf(departure);
      if (![...tops].includes(top)) continue;
      groups.set(top, [...(groups.get(top) ?? []), departure]);
    }
    return groups;
  };
  /** Departures whose live parent's rise cannot hold them: reaped elsewhere (init, after reparenting). */
  const reapedOutside = new Set<Departure>();
  /**
   * Takes members out of the chains (their reaper's rise is `rise`) until their readings fit in it: a
   * member reaped by a departed parent by default (no record says so), and with `liveReaper` the tops too
   * (a live parent whose rise cannot hold a child did not reap it). Zombies first (their parent had not
   * reaped them at the last reading, and may have left without), then the deepest.
   */
  const fitInto = (tops: Departure[], rise: number, liveReaper: boolean) => {
    const members = [...chainsBy(tops).values()].flat();
    let sum = members.reduce((ticks, member) => ticks + total(member), 0);
    const candidates = members
      .filter((member) => (reaper.has(member) ? member.exitPpid === null : liveReaper))
      .sort((a, b) => Number(b.zombie) - Number(a.zombie) || depth(b) - depth(a));
    for (const member of candidates) {
      if (sum <= rise) break;
      // Orphaned before its parent reaped it: it and what it reaped leave the chain.
      const subtree = members.filter((other) => other === member || isBelow(other, member));
      if (reaper.has(member)) reaper.delete(member);
      else reapedOutside.add(member);
      sum -= subtree.reduce((ticks, other) => ticks + total(other), 0);
    }
  };
  const isBelow = (departure: Departure, ancestor: Departure): boolean => {
    for (let at = reaper.get(departure); at !== undefined; at = reaper.get(at))
      if (at === ancestor) return true;
    return false;
  };
  // Chains under the same live reaper share its rise.
  const tops = input.departures.filter((departure) => !reaper.has(departure));
  const byLiveReaper = new Map<number, Departure[]>();
  for (const top of tops) {
    if (input.liveRise(top.ppid) === undefined) continue;
    byLiveReaper.set(top.ppid, [...(byLiveReaper.get(top.ppid) ?? []), top]);
  }
  for (const [pid, reaped] of byLiveReaper) fitInto(reaped, input.liveRise(pid)!, true);
  const root = tops.find((top) => top.pid === input.rootPid && input.liveRise(top.ppid) === undefined);
  if (root && input.rootFinal) fitInto([root], input.rootFinal.ticks, false);

  const carry = { ...input.carry };
  const ownTicks = new Map<number, number>();
  let rootCarriedTicks: number | null = null;
  let settledTicks = 0;
  const carried = input.departures.filter(
    (departure) =>
      !reaper.has(departure) &&
      (reapedOutside.has(departure) || input.liveRise(departure.ppid) === undefined),
  );
  for (const [top, chain] of chainsBy(carried)) {
    let ticks = 0;
    for (const member of chain) {
      ticks += total(member);
      carry.readBytes += member.readBytes ?? 0;
      carry.writeBytes += member.writeBytes ?? 0;
    }
    if (top.pid === input.rootPid) {
      const final = input.rootFinal;
      const exact =
        final === null
          ? null
          : rootFinalTicks({
              rise: final.ticks,
              chainLast: ticks,
              chainSize: chain.length,
              slackTicks: final.slackTicks,
            });
      if (exact !== null) {
        // What the chain's readings do not explain ran in its last moments: the root's row gets it.
        ownTicks.set(top.pid, top.ownTicks + exact - ticks);
        settledTicks = exact - ticks;
        ticks = exact;
      }
      rootCarriedTicks = ticks;
    }
    carry.ticks += ticks;
  }
  return { carry, ownTicks, rootCarriedTicks, settledTicks };
}

/**
 * A departing root's exact final CPU, ticks: `rise`, when the root's chain alone explains it, else null.
 * The root's final total (own + reaped children) holds its whole chain of members that left with it
 * (settleDepartures), so it is at least their last readings; and from its parent's reaped-children times
 * it is at most those readings plus what they could have used since (`slackTicks`: every CPU of the host
 * for the elapsed time) and a tick of rounding each side of every reading. A rise outside those bounds
 * means the parent reaped others too, and says nothing exact. `slackTicks` null: the figure is the root's
 * own (`run`'s wait4), taken whenever the readings do not exceed it.
 */
export function rootFinalTicks(input: {
  rise: number;
  /** The last readings (own + reaped children) of the root and the members that left with it, ticks. */
  chainLast: number;
  chainSize: number;
  slackTicks: number | null;
}): number | null {
  if (input.rise < input.chainLast) return null;
  if (input.slackTicks === null) return input.rise;
  return input.rise <= input.chainLast + input.slackTicks + 2 * input.chainSize ? input.rise : null;
}

/** What a chain can have used since its last readings: every CPU for the elapsed time, ticks. */
export function slackTicks(elapsedMs: number, cpus: number): number {
  return Math.ceil((Math.max(elapsedMs, 0) / 1000) * CLOCK_TICKS_PER_SECOND * cpus);
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
