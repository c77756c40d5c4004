/**
 * Follows the process trees of tracked executions through /proc: reads each member's counters, adopts
 * new children from the kernel's children lists, and notices exits. Which pid belongs to which
 * execution is kept here (`owner`), so a process is in one tree at most.
 */
import { availableParallelism } from "node:os";
import { cgroupProcesses } from "../procfs/cgroup.js";
import type { ProcReader } from "../procfs/proc-reader.js";
import {
  CLOCK_TICKS_PER_SECOND,
  type ProcStat,
  parseCmdline,
  parseIo,
  parseSchedstat,
  parseStat,
} from "../procfs/procfs-parse.js";
import {
  countStarts,
  type ExecutionState,
  noteDeparted,
  type OutsideParent,
  type ProcessRecord,
  rewriteDeparted,
  type ScheduleMark,
} from "./execution-state.js";
import { START_SLACK_MS } from "./exit-accounting.js";
import {
  type Departure,
  type OutsideRise,
  settleDepartures,
  shareLastMoments,
  slackTicks,
} from "./sample-math.js";

/**
 * A fork whose argv is still its parent's this long after it was first seen is taken to run on without
 * exec (a multiprocessing worker): its argv is not read again. One tick at the default interval.
 */
const FORK_WITHOUT_EXEC_MS = 1000;

/** Storage bytes a root and what it reaped read and wrote in all, as its parent got them on reaping it. */
export interface RootIo {
  readBytes: number;
  writeBytes: number;
}

/** A departed member as the exit settlement sees it (sample-math.ts settleDepartures). */
function departureOf(record: ProcessRecord): Departure {
  return {
    ...record,
    zombie: record.state === "Z",
    running: record.state === "R",
    reapedSinceTick: record.childTicks - record.childTicksBefore,
  };
}

/**
 * Raises a root's last io reading to its final one; returns what that adds. A counter never read stays
 * unknown (null) rather than becoming the total of the last moments alone.
 */
function settleIo(record: ProcessRecord, io: RootIo): RootIo {
  const readBytes = record.readBytes === null ? 0 : Math.max(io.readBytes - record.readBytes, 0);
  const writeBytes = record.writeBytes === null ? 0 : Math.max(io.writeBytes - record.writeBytes, 0);
  if (record.readBytes !== null) record.readBytes += readBytes;
  if (record.writeBytes !== null) record.writeBytes += writeBytes;
  return { readBytes, writeBytes };
}

function sameMark(a: ScheduleMark, b: ScheduleMark | null): boolean {
  return b !== null && a.runNs === b.runNs && a.slices === b.slices;
}

function sameArgv(a: readonly string[], b: readonly string[] | null): boolean {
  return b !== null && a.length === b.length && a.every((item, index) => item === b[index]);
}

export class ProcessTree {
  /** pid → execution id, for every live tracked process. */
  readonly owner = new Map<number, string>();
  /**
   * pid → start ticks of exited processes that no walk saw, made rows of by their accounting records
   * (exit-ledger.ts, which also forgets them). The kernel writes a record in do_exit before exit_notify
   * makes the process a zombie: for that moment it is still a running child in its parent's children
   * list, and adopting it would list it twice.
   */
  readonly recordedExits = new Map<number, { startTicks: number; tick: number }>();
  /** Children the polls and walks adopted since takeAdoptedSinceTick: pids the counter need not explain. */
  private adoptedSinceTick = 0;
  /** CPUs a departing root's final reading may have used since its last one (settleRootFromParent). */
  private readonly cpus = availableParallelism();

  constructor(
    private readonly reader: ProcReader,
    private readonly procRoot: string,
    private readonly pageSize: number,
    private readonly now: () => number,
    /** Processes' CPU is split by exit accounting (creditedSeconds) rather than read as own ticks. */
    private readonly credits = false,
  ) {}

  readStat(pid: number, kept = false): ProcStat | null {
    const path = `${this.procRoot}/${pid}/stat`;
    const text = kept ? this.reader.readKept(path) : this.reader.read(path);
    return text === undefined ? null : parseStat(text);
  }

  /** Makes `stat`'s process a member of the execution's tree. */
  adopt(execution: ExecutionState, stat: ProcStat, now: number): ProcessRecord {
    const record = this.newRecord(stat, now);
    execution.processes.set(stat.pid, record);
    this.owner.set(stat.pid, execution.id);
    return record;
  }

  newRecord(stat: ProcStat, now: number): ProcessRecord {
    const argv = parseCmdline(this.reader.read(`${this.procRoot}/${stat.pid}/cmdline`) ?? "");
    return {
      pid: stat.pid,
      startTicks: stat.startTicks,
      ppid: stat.ppid,
      comm: stat.comm,
      argv: argv.length > 0 ? argv : null,
      firstSeenMs: now,
      lastSeenMs: now,
      ownTicks: stat.utimeTicks + stat.stimeTicks,
      childTicks: stat.cutimeTicks + stat.cstimeTicks,
      rssBytes: stat.rssPages * this.pageSize,
      peakRssBytes: stat.rssPages * this.pageSize,
      readBytes: null,
      writeBytes: null,
      numThreads: stat.numThreads,
      state: stat.state,
      alive: true,
      looks: 0,
      argvFromParent: false,
      examined: 0,
      creditedSeconds: this.credits ? 0 : null,
      countedOwnSeconds: 0,
      dirty: true,
      threads: new Map(),
      schedstatThisTick: null,
      readMark: null,
      exitPpid: null,
      exitOwnTicks: null,
      childTicksBefore: stat.cutimeTicks + stat.cstimeTicks,
      walkOwnTicks: stat.utimeTicks + stat.stimeTicks,
      recentOwnTicks: 0,
    };
  }

  refresh(record: ProcessRecord, stat: ProcStat, now: number): void {
    // A new comm means the process exec'd: its argv changed too. A fork first seen before its exec may
    // exec a program of the same name (python starting python), so its argv is read again as well.
    if (stat.comm !== record.comm || record.argvFromParent) {
      const argv = parseCmdline(this.reader.read(`${this.procRoot}/${stat.pid}/cmdline`) ?? "");
      const changed = argv.length > 0 && !sameArgv(argv, record.argv);
      if (changed) {
        record.argv = argv;
        record.dirty = true;
      }
      if (changed || now - record.firstSeenMs >= FORK_WITHOUT_EXEC_MS) record.argvFromParent = false;
    }
    record.comm = stat.comm;
    // Reparented when its parent exited: who reaps it decides whether its times stay in the tree.
    record.ppid = stat.ppid;
    record.lastSeenMs = now;
    record.ownTicks = stat.utimeTicks + stat.stimeTicks;
    record.childTicks = stat.cutimeTicks + stat.cstimeTicks;
    record.rssBytes = stat.rssPages * this.pageSize;
    if (record.rssBytes > record.peakRssBytes) record.peakRssBytes = record.rssBytes;
    record.numThreads = stat.numThreads;
    record.state = stat.state;
  }

  readProcessIo(record: ProcessRecord): void {
    const io = this.reader.readKept(`${this.procRoot}/${record.pid}/io`);
    if (io === undefined) return;
    const parsed = parseIo(io);
    record.readBytes = parsed.readBytes;
    record.writeBytes = parsed.writeBytes;
  }

  /**
   * Refreshes every process of the tree, settles the exits, and finds new children.
   *
   * A single-threaded member that was not scheduled since its last full read keeps its counters without
   * reading them again. The claim: its utime, stime, cutime, cstime and io change only in its own context
   * (running, reaping a child with wait), so an unchanged schedstat (run time and timeslice count) taken
   * *before* the last stat read means nothing changed since that read. The mark is the schedstat read
   * just before the counters it vouches for, never one taken later in the tick (a fork between a read and
   * a later mark would hide for ever behind a parent that then waits). Children lists are read for every
   * member, quiet or not: a subreaper gains orphans, and a child's `clone(CLONE_PARENT)` gives its parent a
   * child, without the parent running (sampler.test.ts "reads a quiet member's children"). The same holds
   * for a parent's exit: its children are reparented without running, so they are read again in full.
   * process-tree.property.test.ts plays any interleaving of forks, exits, reaps and waits against it.
   * `readExits` reads the accounting records written since the tick's first read: a member found gone
   * exited after it, and its record (written before it became a zombie) says who used its last moments.
   */
  walk(execution: ExecutionState, now: number, readExits: () => void = () => {}): void {
    const gone: ProcessRecord[] = [];
    for (const record of [...execution.processes.values()]) {
      if (!record.alive) continue;
      const mark = this.scheduleMark(record);
      if (mark !== null && sameMark(mark, record.readMark)) {
        record.lastSeenMs = now;
        record.recentOwnTicks = 0;
        continue;
      }
      const stat = this.readStat(record.pid, true);
      if (!stat || stat.startTicks !== record.startTicks) {
        gone.push(record);
        continue;
      }
      this.refresh(record, stat, now);
      this.readProcessIo(record);
      record.readMark = mark;
      record.recentOwnTicks = record.ownTicks - record.walkOwnTicks;
      record.walkOwnTicks = record.ownTicks;
    }
    if (gone.length > 0) readExits();
    this.settleExits(execution, gone, now);
    // A child adopted here has its own children read in the same walk (a fork that forked again since
    // the last tick is followed down to its newest descendant at once).
    const parents = [...execution.processes.values()];
    for (let index = 0; index < parents.length; index++) {
      const record = parents[index]!;
      if (record.alive) this.findChildren(execution, record, now, parents);
    }
    if (execution.ownCgroup && execution.cgroup) this.adoptCgroupMembers(execution, now);
    this.readOutsideParents(execution, now);
    // What each member had reaped as of this walk: the next walk's rise counts from here, whatever the
    // polls in between read.
    for (const record of execution.processes.values()) record.childTicksBefore = record.childTicks;
  }

  /**
   * A single-threaded process's schedstat (run time, timeslices), read now; null for a multi-threaded
   * one (any of its threads may run) or when unreadable (a process gone reads as scheduled, so the full
   * read notices the exit). The text is kept for the thread waits of this tick.
   */
  private scheduleMark(record: ProcessRecord): ScheduleMark | null {
    if (record.numThreads !== 1) return null;
    const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${record.pid}/schedstat`);
    record.schedstatThisTick = text ?? null;
    const sched = text === undefined ? null : parseSchedstat(text);
    return sched === null ? null : { runNs: sched.runNs, slices: sched.slices };
  }

  /** Departs the members found gone in one walk, keeping what no one else will (sample-math.ts settleDepartures). */
  private settleExits(execution: ExecutionState, gone: ProcessRecord[], now: number): void {
    if (gone.length === 0) return;
    const goneIds = new Set(gone.map((record) => record.pid));
    const settled = settleDepartures({
      carry: execution.carry,
      departures: gone.map(departureOf),
      liveRise: (pid) => {
        const reaper = goneIds.has(pid) ? undefined : execution.processes.get(pid);
        return reaper?.alive ? reaper.childTicks - reaper.childTicksBefore : undefined;
      },
      outsideRise: (pid) => this.outsideRise(execution, pid, now),
      rootPid: execution.rootPid,
    });
    execution.carry = settled.carry;
    for (const record of gone) {
      const own = settled.ownTicks.get(record.pid);
      if (own !== undefined) record.ownTicks = own;
      this.depart(execution, record);
    }
    // Orphans were reparented without running: their next walk reads who their parent is now.
    for (const record of execution.processes.values()) if (goneIds.has(record.ppid)) record.readMark = null;
    if (settled.rootChain !== null) {
      const pids = new Set(settled.rootChain.pids);
      execution.rootLastTicks = settled.rootChain.ticks;
      execution.rootChain = gone.filter((record) => pids.has(record.pid));
    }
    execution.settledTicks += settled.settledTicks;
  }

  /**
   * A task with a cgroup of its own holds every process in it, whatever its ancestors did: one the walk
   * could not reach (a double-forked grandchild reparented before any tick saw it) joins the tree.
   */
  private adoptCgroupMembers(execution: ExecutionState, now: number): void {
    for (const pid of cgroupProcesses(this.reader, execution.cgroup!) ?? []) {
      if (this.owner.has(pid)) continue;
      const stat = this.readStat(pid);
      if (!stat || (this.credits && (stat.state === "Z" || this.exitRecorded(stat)))) continue;
      this.adopt(execution, stat, now);
      countStarts(execution, 1, null);
      this.adoptedSinceTick++;
    }
  }

  /**
   * Reads, each tick, the reaped-children times of the processes outside the tree that will reap its
   * members (the root's parent, the subreaper or init an orphan went to), so the exits they reap between
   * two ticks are settled from their rise (settleExits). `run`'s wrapper is not read: it hands the root's
   * exact total to settleRoot.
   */
  private readOutsideParents(execution: ExecutionState, now: number): void {
    const parents = new Map<number, OutsideParent>();
    for (const record of execution.processes.values()) {
      const pid = record.ppid;
      if (!record.alive || parents.has(pid) || execution.processes.get(pid)?.alive || pid === process.pid)
        continue;
      const stat = this.readStat(pid, true);
      if (stat)
        parents.set(pid, {
          startTicks: stat.startTicks,
          childTicks: stat.cutimeTicks + stat.cstimeTicks,
          atMs: now,
        });
    }
    for (const pid of execution.outsideParents.keys())
      if (!parents.has(pid)) this.reader.forget(`${this.procRoot}/${pid}/stat`);
    execution.outsideParents = parents;
  }

  /**
   * What a reaper outside the tree says of what it reaped since the last tick: `run`'s wait4 of the root
   * (settleRoot), or the rise of a parent's reaped-children times, believed within what its children
   * could have used since on every CPU; undefined when the reaper is gone too or was never read.
   */
  private outsideRise(execution: ExecutionState, pid: number, now: number): OutsideRise | undefined {
    const root = execution.processes.get(execution.rootPid);
    if (execution.rootFinalTicks !== null && root?.ppid === pid)
      return { ticks: execution.rootFinalTicks, slackTicks: null };
    const before = execution.outsideParents.get(pid);
    if (before === undefined) return undefined;
    const stat = this.readStat(pid, true);
    if (!stat || stat.startTicks !== before.startTicks) return undefined;
    return {
      ticks: stat.cutimeTicks + stat.cstimeTicks - before.childTicks,
      slackTicks: slackTicks(now - before.atMs, this.cpus),
    };
  }

  /**
   * Reads a record's threads' children lists and adopts new children (appended to `adopted` when given).
   * Returns how many were new.
   */
  findChildren(
    execution: ExecutionState,
    record: ProcessRecord,
    now: number,
    adopted?: ProcessRecord[],
  ): number {
    const tids = record.threads.size > 0 ? [...record.threads.keys()] : [record.pid];
    let found = 0;
    for (const tid of tids) {
      const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${tid}/children`, true);
      if (!text) continue;
      for (const item of text.trim().split(" ")) {
        const pid = Number(item);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        if (this.owner.has(pid)) continue;
        const stat = this.readStat(pid);
        if (stat && this.adoptChild(execution, record, stat, now)) {
          found++;
          adopted?.push(execution.processes.get(pid)!);
        }
      }
    }
    return found;
  }

  /**
   * Makes a new child of a tracked process a member of its tree, and counts it as started. Returns false
   * when it is not to be adopted: its parent is another, or (with accounting) it has exited already, a
   * zombie or a process whose record was read (kernel/exit.c do_exit: acct_process, then exit_notify),
   * and its record accounts for it, so adopting it too would list it twice.
   */
  adoptChild(execution: ExecutionState, parent: ProcessRecord, stat: ProcStat, now: number): boolean {
    if (stat.ppid !== parent.pid || this.owner.has(stat.pid)) return false;
    if (this.credits && (stat.state === "Z" || this.exitRecorded(stat))) return false;
    const child = this.newRecord(stat, now);
    child.argvFromParent = child.argv !== null && sameArgv(child.argv, parent.argv);
    // Its I/O so far belongs to this tick (it started after the last one); read it before it can exit.
    this.readProcessIo(child);
    execution.processes.set(stat.pid, child);
    this.owner.set(stat.pid, execution.id);
    countStarts(execution, 1, now);
    this.adoptedSinceTick++;
    return true;
  }

  /** Whether `stat`'s process has exited already, its accounting record read (see recordedExits). */
  private exitRecorded(stat: ProcStat): boolean {
    const recorded = this.recordedExits.get(stat.pid);
    return (
      recorded !== undefined &&
      Math.abs(recorded.startTicks - stat.startTicks) <= (START_SLACK_MS / 1000) * CLOCK_TICKS_PER_SECOND
    );
  }

  /** How many children were adopted since the last call (sampler.ts attributeUnseenStarts). */
  takeAdoptedSinceTick(): number {
    const adopted = this.adoptedSinceTick;
    this.adoptedSinceTick = 0;
    return adopted;
  }

  /** A process left the tree (what it leaves to the tree is settleExits'). */
  depart(execution: ExecutionState, record: ProcessRecord): void {
    if (!record.alive) return;
    record.alive = false;
    record.dirty = false;
    this.owner.delete(record.pid);
    this.reader.forgetPrefix(`${this.procRoot}/${record.pid}/`);
    if (record.pid === execution.rootPid) {
      execution.rootLastSeenMs = record.lastSeenMs;
      execution.rootLastTicks = record.ownTicks + record.childTicks;
    }
    execution.processes.delete(record.pid);
    noteDeparted(execution, record, this.now());
  }

  /**
   * The root's exact final CPU, ticks, and storage bytes (own + reaped children's, as its parent got them
   * on reaping it: `run` reads its own reaped-children times and io). A root still followed takes them
   * when the walk sees it go (settleExits, with the members that left with it); one a tick saw go already
   * carried its chain's readings, and what they missed is carried now. Returns the ticks carried here.
   */
  settleRoot(execution: ExecutionState, totalTicks: number, io: RootIo | null = null): number {
    const root = execution.processes.get(execution.rootPid);
    if (root?.alive && root.startTicks === execution.rootStartTicks) {
      execution.rootFinalTicks = totalTicks;
      // Its io is read no more (it is gone): the walk that sees it go carries these.
      if (io) settleIo(root, io);
      return 0;
    }
    const missed = Math.max(totalTicks - execution.rootLastTicks, 0);
    const chain = execution.rootChain;
    const rootRecord = chain.find((record) => record.pid === execution.rootPid);
    const missedIo = rootRecord && io ? settleIo(rootRecord, io) : { readBytes: 0, writeBytes: 0 };
    execution.carry = {
      ticks: execution.carry.ticks + missed,
      readBytes: execution.carry.readBytes + missedIo.readBytes,
      writeBytes: execution.carry.writeBytes + missedIo.writeBytes,
    };
    // The chain's rows get it as their records say they used it, in the next tick's split.
    for (const [pid, own] of shareLastMoments(
      chain.map(departureOf),
      totalTicks,
      rootRecord && departureOf(rootRecord),
    )) {
      const record = chain.find((member) => member.pid === pid)!;
      record.ownTicks = own;
      rewriteDeparted(execution, record);
    }
    return missed;
  }

  /** Marks every live member gone (the execution ended) without carrying anything. */
  release(execution: ExecutionState): void {
    for (const record of execution.processes.values()) {
      if (record.alive) {
        record.alive = false;
        this.owner.delete(record.pid);
        this.reader.forgetPrefix(`${this.procRoot}/${record.pid}/`);
      }
    }
  }
}
