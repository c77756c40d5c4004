/**
 * The sample arithmetic (pure): a tree's totals from its processes' counters, continuity across exits,
 * and one sample from two readings. No /proc access here: the Sampler reads, this computes, so every
 * rule below is tested over arbitrary inputs (sample-math.test.ts).
 */
import type { NewSample } from "../../db/queries/samples.js";
import type { CgroupCounters } from "../procfs/cgroup.js";
import { CLOCK_TICKS_PER_SECOND } from "../procfs/procfs-parse.js";
import {
  addThreadToWall,
  emptyThreadSeconds,
  type ThreadSeconds,
  type WallProducts,
  wallClockSplit,
} from "./thread-state.js";

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
  /** Its own final CPU from its accounting record, ticks (sampled by the scheduler tick); null: unknown. */
  exitOwnTicks: number | null;
  /** How far its own CPU rose over the last tick interval a walk read it in, ticks: its recent pace. */
  recentOwnTicks: number;
  /** A zombie at its last reading: exited, not reaped then (its parent may leave without reaping it). */
  zombie: boolean;
  /** Running or runnable at its last reading (state R). */
  running: boolean;
  /**
   * How far its reaped-children times rose between the last tick and its last reading (a poll may read
   * a process after it reaped a child the tick still follows): children already inside its reading.
   */
  reapedSinceTick: number;
}

/** What the exits of one tick leave to the tree. */
export interface DepartureSettlement {
  /** The carry with these exits' kept times and I/O added. */
  carry: Carry;
  /** Own ticks to record per departed pid where an exact final total exceeds the readings. */
  ownTicks: Map<number, number>;
  /**
   * When the root left: the ticks carried for its chain and who was in it (what a later settleRoot
   * settles against, and whose rows it credits).
   */
  rootChain: { ticks: number; pids: number[] } | null;
  /** What exact final totals added beyond the readings, ticks (the self-check's settling). */
  settledTicks: number;
}

/**
 * What a reaper outside the tree (the root's parent, `run`'s wrapper, the subreaper or init an orphan
 * went to) says of the tracked processes it reaped this tick: its reaped-children times' rise, ticks,
 * and how far beyond their readings that may be believed (`slackTicks`: what they could have used since;
 * null: the figure is theirs alone, `run`'s wait4 of its command).
 */
export interface OutsideRise {
  ticks: number;
  slackTicks: number | null;
}

/** Candidates to take out of a reaper's chains that settleDepartures weighs every way (2^n fits). */
const FIT_SEARCH_LIMIT = 10;

/**
 * Continuity across the exits of one tick. A reaped child's times and I/O move into its reaper's cutime,
 * cstime and io (man 5 proc: cutime counts "waited-for children"; kernel/exit.c wait_task_zombie), so an
 * exit reaped by a tracked process that lives on loses nothing, and one reaped outside the tree (the
 * root by its parent, an orphan by init or a subreaper) is the tree's to carry.
 *
 * Exits chain: a child whose parent left in the same tick was reaped by that parent, so its times are in
 * the parent's final total, unless it outlived the parent (its accounting record names another parent)
 * or the reaper's reaped-children times say otherwise: they rose by the final totals of what it reaped,
 * which are at least the last readings, so a rise short of the readings proves some of them were
 * orphaned first. Those leave, zombies first (not reaped at the last reading), then the deepest, until
 * the rest fits. A chain whose reaper lives on is in its cutime (nothing carried). Chains reaped outside
 * are carried: the reaper's rise when it is exact for them (rootFinalTicks), else their last readings, a
 * lower bound short of what they used since the last tick. (Accounting records' own CPU is no better
 * there: sampled by the scheduler tick, a busy stress-ng worker's record said 2.78 s where its parent's
 * rusage said 2.43 s.)
 */
export function settleDepartures(input: {
  carry: Carry;
  departures: readonly Departure[];
  /** How far a live tracked process's reaped-children times rose in this walk; undefined: not one. */
  liveRise: (pid: number) => number | undefined;
  /** What a reaper outside the tree says (see OutsideRise); undefined when it is not known. */
  outsideRise: (pid: number) => OutsideRise | undefined;
  rootPid: number;
}): DepartureSettlement {
  const byPid = new Map(input.departures.map((departure) => [departure.pid, departure]));
  const total = (departure: Departure) => departure.ownTicks + departure.childTicks;
  const steps = input.departures.length;
  // Who reaped each departure that a departed parent reaped; the others' reaper is their parent.
  const reaper = new Map<Departure, Departure>();
  for (const departure of input.departures) {
    const parent = byPid.get(departure.ppid);
    if (parent && (departure.exitPpid === null || departure.exitPpid === parent.pid))
      reaper.set(departure, parent);
  }
  /** Departures reaped elsewhere than their parent says: a live parent's rise could not hold them. */
  const reapedOutside = new Set<Departure>();
  const aboveOf = (departure: Departure): Departure[] => {
    const above: Departure[] = [];
    for (let at = reaper.get(departure); at !== undefined && above.length < steps; at = reaper.get(at))
      above.push(at);
    return above;
  };
  const topOf = (departure: Departure) => aboveOf(departure).at(-1) ?? departure;
  const groups = () => {
    // Chains by the pid of the process that reaped their top: a live member, or one outside the tree.
    const byReaper = new Map<number, Departure[]>();
    for (const departure of input.departures) {
      const top = topOf(departure);
      const key = reapedOutside.has(top) ? -top.pid : (top.exitPpid ?? top.ppid);
      byReaper.set(key, [...(byReaper.get(key) ?? []), departure]);
    }
    return byReaper;
  };
  /**
   * The least final total of a departure and what it reaped in this tick, ticks: its last reading, plus
   * what its reaped children's least totals exceed of what its reading already holds of them.
   */
  const value = (departure: Departure, out: ReadonlySet<Departure> = new Set(), depth = 0): number => {
    let children = 0;
    if (depth < steps)
      for (const [child, parent] of reaper)
        if (parent === departure && !out.has(child)) children += value(child, out, depth + 1);
    return total(departure) + Math.max(children - departure.reapedSinceTick, 0);
  };
  const sumOf = (members: Departure[]) =>
    members.filter((member) => !reaper.has(member)).reduce((ticks, top) => ticks + value(top), 0);
  // Asked once per reaper: the caller reads /proc for it.
  const rises = new Map<number, OutsideRise | undefined>();
  const outsideRise = (pid: number) => {
    if (!rises.has(pid)) rises.set(pid, input.outsideRise(pid));
    return rises.get(pid);
  };
  /**
   * Takes members out of a reaper's chains until their readings fit in its rise: those a departed
   * parent reaped by default (no record says so), and with `tops` the chains' tops too (a live parent
   * whose rise cannot hold a child did not reap it: it ignores SIGCHLD, and its children leave no
   * zombie, so a top that was a zombie at its last reading stays its live parent's). Of the ways to fit,
   * the one that keeps the most of the rise explained by readings (the least used since unseen), then
   * the fewest taken out, then zombies (not reaped at their last reading) and the deepest first; past
   * FIT_SEARCH_LIMIT candidates, those taken in that order until the rest fits.
   */
  const fitInto = (members: Departure[], rise: number, tops: boolean) => {
    const chainTops = members.filter((member) => !reaper.has(member));
    const held = (out: ReadonlySet<Departure>) =>
      chainTops.filter((top) => !out.has(top)).reduce((ticks, top) => ticks + value(top, out), 0);
    if (held(new Set()) <= rise) return;
    const candidates = members
      .filter((member) => (reaper.has(member) ? member.exitPpid === null : tops && !member.zombie))
      .sort((a, b) => Number(b.zombie) - Number(a.zombie) || aboveOf(b).length - aboveOf(a).length);
    let out = new Set<Departure>();
    if (candidates.length <= FIT_SEARCH_LIMIT) {
      let best: { held: number; size: number } | null = null;
      for (let mask = 1; mask < 1 << candidates.length; mask++) {
        const taken = new Set(candidates.filter((_, index) => mask & (1 << index)));
        const ticks = held(taken);
        if (ticks > rise) continue;
        if (best === null || ticks > best.held || (ticks === best.held && taken.size < best.size)) {
          best = { held: ticks, size: taken.size };
          out = taken;
        }
      }
    } else {
      for (const member of candidates) {
        if (held(out) <= rise) break;
        out.add(member);
      }
    }
    for (const member of out) {
      if (reaper.has(member)) reaper.delete(member);
      else reapedOutside.add(member);
    }
  };
  for (const [pid, members] of groups()) {
    const live = input.liveRise(pid);
    const outside = live === undefined ? outsideRise(pid) : undefined;
    if (live !== undefined) fitInto(members, live, true);
    else if (outside !== undefined) fitInto(members, outside.ticks, false);
  }

  const carry = { ...input.carry };
  const ownTicks = new Map<number, number>();
  let rootChain: DepartureSettlement["rootChain"] = null;
  let settledTicks = 0;
  for (const [pid, members] of groups()) {
    if (pid >= 0 && input.liveRise(pid) !== undefined) continue;
    let ticks = sumOf(members);
    for (const member of members) {
      carry.readBytes += member.readBytes ?? 0;
      carry.writeBytes += member.writeBytes ?? 0;
    }
    const rise = pid >= 0 ? outsideRise(pid) : undefined;
    const exact =
      rise === undefined
        ? null
        : rootFinalTicks({
            rise: rise.ticks,
            chainLast: ticks,
            chainSize: members.length,
            slackTicks: rise.slackTicks,
          });
    const root = members.find((member) => member.pid === input.rootPid);
    if (exact !== null) {
      for (const [pid, own] of shareLastMoments(members, exact, root)) ownTicks.set(pid, own);
      settledTicks += exact - ticks;
      ticks = exact;
    }
    if (root) rootChain = { ticks, pids: members.map((member) => member.pid) };
    carry.ticks += ticks;
  }
  return { carry, ownTicks, rootChain, settledTicks };
}

/**
 * What a process that left likely used since its last reading, ticks (a weight, not a total): what its
 * accounting record holds beyond that reading; without a record, or with one below the reading (records
 * sample by the scheduler tick and fall short under CPU contention), its pace over the last tick interval
 * if it was running or runnable at that reading, else nothing (a parent that forked busily and then
 * waited used next to nothing at its end).
 */
export function usedSinceReading(
  process: Pick<Departure, "ownTicks" | "exitOwnTicks" | "recentOwnTicks" | "running">,
): number {
  const record = process.exitOwnTicks;
  if (record !== null && record >= process.ownTicks) return record - process.ownTicks;
  return process.running ? process.recentOwnTicks : 0;
}

/**
 * Who used what a chain's exact final total (`finalTicks`) holds beyond its members' rows, for the
 * per-command split. A member's row is its own CPU at its last reading, and what it had reaped by the
 * last walk was counted then; the rest is their own CPU since their last readings, at most a tick
 * interval each. It goes to the members in proportion to what each likely used in that time
 * ({@link usedSinceReading}): a record can fall far short under CPU contention (a burner whose rusage said
 * 3.00 s had a record of 2.15 s and a last reading of 2.84 s), and the pace is what a steady process used
 * while it was not seen. With neither, the root of the chain (else its first member) takes it. Returns
 * the new own ticks of those that get a share.
 */
export function shareLastMoments(
  members: readonly Departure[],
  finalTicks: number,
  root: Departure | undefined,
): Map<number, number> {
  const rows = members.reduce(
    (ticks, member) => ticks + member.ownTicks + member.childTicks - member.reapedSinceTick,
    0,
  );
  const extra = finalTicks - rows;
  if (extra <= 0) return new Map();
  const since = members.map(usedSinceReading);
  const weight = since.reduce((sum, ticks) => sum + ticks, 0);
  const shares = new Map<number, number>();
  if (weight === 0) {
    const to = root ?? members[0]!;
    shares.set(to.pid, to.ownTicks + extra);
    return shares;
  }
  members.forEach((member, index) => {
    if (since[index]! > 0) shares.set(member.pid, member.ownTicks + (extra * since[index]!) / weight);
  });
  return shares;
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

/** What one tick read of an execution beyond the walk (sampler.ts readExecution). */
export interface ExecutionReading {
  totals: TreeTotals;
  /** Threads whose states were read over the interval. */
  threads: number;
  threadSeconds: ThreadSeconds;
  /** The live threads' shares of the interval as products (thread-state.ts addThreadToWall). */
  wall: WallProducts;
  current: TreeReading;
}

/**
 * The tick's wall-clock split; null when no thread was read. A tick is on a CPU while any process of the
 * tree ran, exited children included: their CPU shows only in the parent's cutime/cstime (or the task's
 * cgroup), never in a live thread's schedstat. What the tree used beyond its live threads' run time
 * counts as one more thread that ran that long.
 */
export function tickWallSplit(
  reading: ExecutionReading,
  previous: TreeReading,
  intervalSeconds: number,
): ThreadSeconds | null {
  if (reading.threads === 0) return null;
  const wall = { ...reading.wall };
  const unseenCpuSeconds = reading.current.cpuSeconds - previous.cpuSeconds - reading.threadSeconds.onCpu;
  if (intervalSeconds > 0 && unseenCpuSeconds > 0)
    addThreadToWall(
      wall,
      { ...emptyThreadSeconds(), onCpu: Math.min(unseenCpuSeconds, intervalSeconds) },
      intervalSeconds,
    );
  return wallClockSplit(wall, intervalSeconds);
}
