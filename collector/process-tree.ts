/**
 * Follows the process trees of tracked executions through /proc: reads each member's counters, adopts
 * new children from the kernel's children lists, and notices exits. Which pid belongs to which
 * execution is kept here (`owner`), so a process is in one tree at most.
 */
import type { ProcReader } from "./proc-reader.js";
import { type ProcStat, parseCmdline, parseIo, parseSchedstat, parseStat } from "./procfs-parse.js";
import type { ExecutionState, ProcessRecord } from "./execution-state.js";
import { carryOnExit } from "./sample-math.js";

/**
 * A fork whose argv is still its parent's this long after it was first seen is taken to run on without
 * exec (a multiprocessing worker): its argv is not read again. One tick at the default interval.
 */
const FORK_WITHOUT_EXEC_MS = 1000;

function sameArgv(a: readonly string[], b: readonly string[] | null): boolean {
  return b !== null && a.length === b.length && a.every((item, index) => item === b[index]);
}

export class ProcessTree {
  /** pid → execution id, for every live tracked process. */
  readonly owner = new Map<number, string>();
  /** Children the polls and walks adopted since the last tick: pids the counter need not explain. */
  seenSinceTick = 0;

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

  /** Refreshes every process of the tree and finds new ones. */
  walk(execution: ExecutionState, now: number): void {
    const quiet = new Set<ProcessRecord>();
    for (const record of [...execution.processes.values()]) {
      if (!record.alive) continue;
      if (this.unscheduled(record)) {
        // Not run once since the last tick: its times, I/O and children cannot have changed (a fork,
        // a write, reaping a child all need the CPU), so its files need not be read again.
        record.lastSeenMs = now;
        quiet.add(record);
        continue;
      }
      const stat = this.readStat(record.pid, true);
      if (!stat || stat.startTicks !== record.startTicks) {
        this.depart(execution, record);
        continue;
      }
      this.refresh(record, stat, now);
      this.readProcessIo(record);
    }
    for (const record of [...execution.processes.values()]) {
      if (record.alive && !quiet.has(record)) this.findChildren(execution, record, now);
    }
  }

  /**
   * Whether a single-threaded process was not scheduled since the last tick (schedstat's run time and
   * timeslice count unchanged). Its schedstat is read here; a process gone reads as scheduled, so the
   * full read notices the exit.
   */
  private unscheduled(record: ProcessRecord): boolean {
    if (record.numThreads !== 1) return false;
    const mark = record.threads.get(record.pid);
    if (mark === undefined) return false;
    const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${record.pid}/schedstat`);
    record.schedstatThisTick = text ?? null;
    const sched = text === undefined ? null : parseSchedstat(text);
    return sched !== null && sched.runNs === mark.runNs && sched.slices === mark.slices;
  }

  /** Reads a record's threads' children lists and adopts new children. Returns how many were new. */
  findChildren(execution: ExecutionState, record: ProcessRecord, now: number): number {
    const tids = record.threads.size > 0 ? [...record.threads.keys()] : [record.pid];
    let found = 0;
    for (const tid of tids) {
      const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${tid}/children`);
      if (!text) continue;
      for (const item of text.trim().split(" ")) {
        const pid = Number(item);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        const known = execution.processes.get(pid);
        if (known?.alive) continue;
        if (this.owner.has(pid) && this.owner.get(pid) !== execution.id) continue;
        const stat = this.readStat(pid);
        if (!stat) continue;
        // With accounting, an exited child's record is written before it becomes a zombie (kernel/exit.c
        // do_exit: acct_process, then exit_notify): the records account for it, and adopting the
        // zombie too would list it twice.
        if (this.credits && stat.state === "Z") continue;
        if (known) this.depart(execution, known);
        const child = this.newRecord(stat, now);
        child.argvFromParent = child.argv !== null && sameArgv(child.argv, record.argv);
        // Its I/O so far belongs to this tick (it started after the last one); read it before it can exit.
        this.readProcessIo(child);
        execution.processes.set(pid, child);
        this.owner.set(pid, execution.id);
        execution.startedThisTick++;
        found++;
      }
    }
    if (found > 0) {
      execution.churnThisTick = true;
      execution.lastChurnMs = now;
      this.seenSinceTick += found;
    }
    return found;
  }

  /** A process left the tree: keep what no one else will (sample-math.ts carryOnExit). */
  depart(execution: ExecutionState, record: ProcessRecord): void {
    if (!record.alive) return;
    record.alive = false;
    record.dirty = false;
    this.owner.delete(record.pid);
    this.reader.forgetPrefix(`${this.procRoot}/${record.pid}/`);
    execution.churnThisTick = true;
    execution.lastChurnMs = this.now();
    if (record.pid === execution.rootPid) {
      execution.rootLastSeenMs = record.lastSeenMs;
      execution.rootLastTicks = record.ownTicks + record.childTicks;
    }
    const parent = execution.processes.get(record.ppid);
    execution.carry = carryOnExit(execution.carry, record, parent?.alive === true);
    execution.processes.delete(record.pid);
    execution.departed.push(record);
  }

  /**
   * The root's exact final CPU, ticks (own + reaped children's, as its parent got it on reaping it). The
   * polls read a `run` root every ~10 ms, and a loaded host stretches that; what they missed joins its
   * last reading, split between its own and its children's time as they were seen, so the final tick's
   * total is exact.
   */
  settleRoot(execution: ExecutionState, totalTicks: number): void {
    const root = execution.processes.get(execution.rootPid);
    if (root?.alive && root.startTicks === execution.rootStartTicks) {
      const seen = root.ownTicks + root.childTicks;
      const missed = totalTicks - seen;
      if (missed <= 0) return;
      const toOwn = seen > 0 ? Math.round((missed * root.ownTicks) / seen) : missed;
      root.ownTicks += toOwn;
      root.childTicks += missed - toOwn;
      root.dirty = true;
      return;
    }
    // A tick saw it go already and carried its last reading: carry what it missed.
    const missed = totalTicks - execution.rootLastTicks;
    if (missed > 0) execution.carry = { ...execution.carry, ticks: execution.carry.ticks + missed };
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
