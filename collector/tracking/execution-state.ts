/**
 * What the collector keeps about each followed execution and each process of its tree, between ticks.
 * Plain data: the modules that read /proc (process-tree.ts, thread-waits.ts, discovery.ts) update it,
 * sample-math.ts computes from it, rows.ts maps it to table rows, and the Sampler coordinates.
 *
 * Who writes what: the tree (process-tree.ts) owns `processes` and the root's settlement fields
 * (`carry`, `rootChain`, `rootLastTicks`, `rootFinalTicks`, `outsideParents`); discovery.ts the
 * attribution it refines and the pod; the Sampler the rest. What three of them see happen, processes
 * starting and leaving, changes the state only through the functions at the end of this file, so a
 * start is counted once and a departure written once.
 */
import type { NewExecution } from "../../db/queries/executions.js";
import type { Attribution } from "../attribution/attribution.js";
import type { PodPlace } from "../attribution/kubernetes-pods.js";
import type { TaskCgroup } from "../procfs/cgroup.js";
import type { CpuCheckState } from "./cpu-self-check.js";
import type { Carry, TreeReading } from "./sample-math.js";

/** What a thread was blocked in at the last tick. */
export type BlockedIn = "disk" | "net" | "child" | "idle";

/** A single thread's schedstat counters: both stand still while it is not scheduled. */
export interface ScheduleMark {
  runNs: number;
  slices: number;
}

/** A process outside a tree that reaps its members, as read at a tick. */
export interface OutsideParent {
  startTicks: number;
  /** cutime + cstime, ticks. */
  childTicks: number;
  atMs: number;
}

export interface ThreadMark {
  runNs: number;
  delayNs: number;
  slices: number;
  /** What the thread was blocked in at the last tick, and on which endpoints. */
  blocked: BlockedIn;
  endpoints: string[];
}

export interface ProcessRecord {
  pid: number;
  startTicks: number;
  ppid: number;
  comm: string;
  argv: string[] | null;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Own utime+stime, ticks. */
  ownTicks: number;
  /** cutime+cstime: reaped children, ticks. */
  childTicks: number;
  rssBytes: number;
  peakRssBytes: number;
  readBytes: number | null;
  writeBytes: number | null;
  numThreads: number;
  state: string;
  alive: boolean;
  /** Times a young process was re-read by the poll (to catch its exec). */
  looks: number;
  /**
   * Its argv was its parent's when first read: a fork seen before its exec, whose command line is read
   * again until it changes (its exec) or it is a second old (a fork that runs on without exec).
   */
  argvFromParent: boolean;
  /** Ticks the process has been examined for attribution refinement. */
  examined: number;
  /**
   * Own CPU already split to this process (exit accounting: exit-accounting.ts splitTickCpu), seconds;
   * null when exits are polled (the row then says its own ticks).
   */
  creditedSeconds: number | null;
  /** Own CPU (seconds) the split has already seen this process use. */
  countedOwnSeconds: number;
  /** Row needs writing: first seen, or exited. */
  dirty: boolean;
  threads: Map<number, ThreadMark>;
  /**
   * The single thread's schedstat text as the walk read it this tick (process-tree.ts unscheduled), so
   * the thread waits need not read it again; null once used or when not read.
   */
  schedstatThisTick: string | null;
  /**
   * The schedstat read just before the counters were last read (process-tree.ts walk): while it stands,
   * they stand; null when multi-threaded or not read yet.
   */
  readMark: ScheduleMark | null;
  /** Its parent when it exited, from its accounting record; null when unknown. */
  exitPpid: number | null;
  /** Its own final CPU from its accounting record, ticks; null when unknown. */
  exitOwnTicks: number | null;
  /** childTicks as of the last walk: their rise is what it reaped since (the polls between included). */
  childTicksBefore: number;
  /** ownTicks as the last walk read them. */
  walkOwnTicks: number;
  /** How far ownTicks rose between the last two walks that read it: its recent pace, ticks per tick. */
  recentOwnTicks: number;
}

export interface ExecutionState {
  id: string;
  attribution: Attribution;
  runId: string;
  startedAt: Date;
  rootPid: number;
  rootStartTicks: number;
  processes: Map<number, ProcessRecord>;
  /** Exited processes whose final row is still to be written (noteDeparted, takeDeparted). */
  departed: ProcessRecord[];
  cgroup: TaskCgroup | null;
  /** The Kubernetes pod the root runs in (its cgroup names it); null outside pods. */
  pod: PodPlace | null;
  /** The pod's spec is not listed yet: its requests are filled in when it is (source `pod-spec`). */
  podSpecPending: boolean;
  /** The cgroup holds this task only, so its counters are the task's. */
  ownCgroup: boolean;
  resources: Pick<
    NewExecution,
    | "requestCpuCores"
    | "limitCpuCores"
    | "cpuSource"
    | "requestMemoryBytes"
    | "limitMemoryBytes"
    | "memorySource"
  >;
  /** The reading the next sample is measured from (null: none yet, the first tick only sets it). */
  previous: TreeReading | null;
  /** Exited processes' times whose parent is outside the tree (the root): no one else keeps them. */
  carry: Carry;
  /** Highest cumulative CPU reported: the series never goes back. */
  reportedCpuSeconds: number;
  endpoints: Map<string, number>;
  /** Network namespace link when the task has its own; else null (bytes unknown). */
  ownNetns: string | null;
  /** Processes started since the last sample (countStarts, takeStarts). */
  startedThisTick: number;
  /** A process started or left this tick (countStarts, noteDeparted). */
  churnThisTick: boolean;
  /** Last time a child was seen starting or leaving. */
  lastChurnMs: number;
  /** Re-read the root's counters every poll (`run`: its parent is the wrapper). */
  watchRoot: boolean;
  /** When the root was last seen alive. */
  rootLastSeenMs: number;
  /** The members that left with the root (settleRoot credits their rows with what it settles). */
  rootChain: ProcessRecord[];
  /** The root's own + reaped children's CPU at its last reading, ticks (see Sampler.settleRoot). */
  rootLastTicks: number;
  /**
   * The processes outside the tree that will reap its members (the root's parent, the subreaper or init
   * an orphan went to), by pid, with their reaped-children times at the last tick (process-tree.ts
   * readOutsideParents).
   */
  outsideParents: Map<number, OutsideParent>;
  /** The root's exact final total from `run`'s wait4 (settleRoot), ticks, until the walk sees it go. */
  rootFinalTicks: number | null;
  /** Ticks an exact final total added beyond the readings (what the self-check leaves out of the tree's sum). */
  settledTicks: number;
  /** When a poll last read the tree's children lists. */
  lastPolledMs: number;
  status: string;
  endedAt: Date | null;
  exitCode: number | null;
  /** Real uid of the root process (the trust model); null when unreadable. */
  uid: number | null;
  /** The tree's own CPU sum beside an exact reference (cpu-self-check.ts). */
  cpuCheck: CpuCheckState;
}

/**
 * `count` processes started in the tree. `now` when they were seen starting (the tree churns: its
 * children are polled more often); null when they were found already running or only inferred.
 */
export function countStarts(execution: ExecutionState, count: number, now: number | null): void {
  execution.startedThisTick += count;
  if (now !== null) noteChurn(execution, now);
}

/** The starts since the last sample; the next sample counts from zero. */
export function takeStarts(execution: ExecutionState): number {
  const started = execution.startedThisTick;
  execution.startedThisTick = 0;
  execution.churnThisTick = false;
  return started;
}

/**
 * A process left the tree, or its accounting record told of one no reading saw: its final row is to be
 * written, once however many paths report it.
 */
export function noteDeparted(execution: ExecutionState, record: ProcessRecord, now: number): void {
  rewriteDeparted(execution, record);
  noteChurn(execution, now);
}

/** A departed process's row is to be written again: its final CPU was settled after it left. */
export function rewriteDeparted(execution: ExecutionState, record: ProcessRecord): void {
  if (!execution.departed.includes(record)) execution.departed.push(record);
}

/** The departed processes whose rows are to be written now; the list starts empty again. */
export function takeDeparted(execution: ExecutionState): ProcessRecord[] {
  const departed = execution.departed;
  execution.departed = [];
  return departed;
}

function noteChurn(execution: ExecutionState, now: number): void {
  execution.churnThisTick = true;
  execution.lastChurnMs = now;
}
