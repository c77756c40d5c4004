/**
 * The collector's side of exit accounting: which followed execution each BSD accounting record belongs
 * to (through exit-accounting.ts attributeExits), what a record adds to a tree (the command a fork ran, a
 * process no walk saw), and the processes that left a tree lately, through whom a late record's parent
 * chain still reaches its execution.
 */
import type { AcctRecord } from "../procfs/acct-format.js";
import { CLOCK_TICKS_PER_SECOND } from "../procfs/procfs-parse.js";
import { countStarts, type ExecutionState, noteDeparted, type ProcessRecord } from "./execution-state.js";
import { attributeExits, type KnownProcess, splitTickCpu } from "./exit-accounting.js";
import { usedSinceReading } from "./sample-math.js";

/**
 * Processes that left a tree are remembered this many ticks, so a record whose parent chain runs
 * through them (a subshell's child whose record comes a tick after the subshell left) is attributed.
 */
const RECENT_EXIT_TICKS = 5;

export class ExitLedger {
  /** pid → a process that left a tree lately (see RECENT_EXIT_TICKS). */
  private readonly recentExits = new Map<number, KnownProcess & { tick: number }>();

  /** The last tick forgetBefore was called for. */
  private tick = 0;

  constructor(
    /** Boot time (/proc/stat btime), to turn start ticks into times; null when unreadable. */
    private readonly bootTimeSeconds: number | null,
    /** pid → id of the execution whose tree holds it now (process-tree.ts owner). */
    private readonly owner: ReadonlyMap<number, string>,
    /** Processes made rows of from their records, not to be adopted by a walk (process-tree.ts). */
    private readonly recordedExits: Map<number, { startTicks: number; tick: number }>,
  ) {}

  /** A process left a tree at `tick`: records naming it as a parent still find its execution. */
  remember(executionId: string, record: ProcessRecord, tick: number): void {
    this.recentExits.set(record.pid, { executionId, startMs: this.startMs(record.startTicks), tick });
  }

  /** Forgets processes that left more than RECENT_EXIT_TICKS before `tick`. */
  forgetBefore(tick: number): void {
    this.tick = tick;
    for (const [pid, exit] of this.recentExits)
      if (tick - exit.tick > RECENT_EXIT_TICKS) this.recentExits.delete(pid);
    for (const [pid, exit] of this.recordedExits)
      if (tick - exit.tick > RECENT_EXIT_TICKS) this.recordedExits.delete(pid);
  }

  /** A process known by pid: tracked in a tree now, or left one lately (for attributing records). */
  private known(pid: number, executions: ReadonlyMap<string, ExecutionState>): KnownProcess | undefined {
    const id = this.owner.get(pid);
    const record = id === undefined ? undefined : executions.get(id)?.processes.get(pid);
    if (id !== undefined && record) return { executionId: id, startMs: this.startMs(record.startTicks) };
    return this.recentExits.get(pid);
  }

  private startMs(startTicks: number): number {
    return ((this.bootTimeSeconds ?? 0) + startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
  }

  /**
   * Accounting records of exited processes: a tracked process's own record names the command it ran;
   * a process no walk or poll saw becomes a row of its own and counts as started.
   */
  apply(records: AcctRecord[], now: number, executions: ReadonlyMap<string, ExecutionState>): void {
    if (records.length === 0) return;
    for (const exit of attributeExits(records, (pid) => this.known(pid, executions))) {
      const execution = executions.get(exit.executionId);
      if (!execution || execution.endedAt !== null) continue;
      const { record } = exit;
      const endedMs = Math.min((record.beginSeconds + record.elapsedSeconds) * 1000, now);
      if (exit.kind === "own") {
        // The walk still ends it once it is reaped: until then its parent's cutime does not hold it, and
        // ending it now would drop it from the tree's total for a tick.
        const tracked = execution.processes.get(record.pid);
        if (tracked?.alive) {
          // A fork seen before its exec is named by its parent: the record has the command it ran, and
          // the parent's argv it was read with is not this command's.
          if (record.comm !== "" && record.comm !== tracked.comm) {
            tracked.comm = record.comm;
            if (tracked.argvFromParent) tracked.argv = null;
          }
          // Its CPU stays /proc's: records sample utime/stime by the scheduler tick, where /proc and the
          // parent's cutime scale them to the exact run time (kernel/sched/cputime.c cputime_adjust). On
          // the benchmark VM a shell /proc put at 4.6 s had a record of about 5.5 s (docs/collector.md, Limits).
          tracked.lastSeenMs = Math.max(tracked.lastSeenMs, endedMs);
          // Who its parent was when it exited tells, if that parent left too, whether it was reaped
          // inside the tree; its own CPU, who used a chain's last moments (sample-math.ts).
          tracked.exitPpid = record.ppid;
          tracked.exitOwnTicks = record.cpuTicks;
        }
        continue;
      }
      const startTicks =
        this.bootTimeSeconds === null
          ? 0
          : Math.max(Math.round((record.beginSeconds - this.bootTimeSeconds) * CLOCK_TICKS_PER_SECOND), 0);
      const unseen: ProcessRecord = {
        pid: record.pid,
        startTicks,
        ppid: record.ppid,
        comm: record.comm,
        argv: null,
        firstSeenMs: record.beginSeconds * 1000,
        lastSeenMs: endedMs,
        ownTicks: record.cpuTicks,
        childTicks: 0,
        rssBytes: 0,
        // acct records only the average memory: the peak is at least that.
        peakRssBytes: record.averageMemoryKib * 1024,
        readBytes: null,
        writeBytes: null,
        numThreads: 0,
        state: "X",
        alive: false,
        looks: 0,
        argvFromParent: false,
        examined: 0,
        creditedSeconds: 0,
        countedOwnSeconds: 0,
        dirty: false,
        threads: new Map(),
        schedstatThisTick: null,
        readMark: null,
        exitPpid: record.ppid,
        exitOwnTicks: record.cpuTicks,
        childTicksBefore: 0,
        walkOwnTicks: record.cpuTicks,
        recentOwnTicks: 0,
      };
      // Its CPU reaches the tree through the parent that reaps it (cutime), so nothing is carried.
      this.recordedExits.set(record.pid, { startTicks, tick: this.tick });
      countStarts(execution, 1, now);
      noteDeparted(execution, unseen, now);
    }
  }
}

/** Splits the tick's tree CPU among its processes so their rows add up to the task's total. */
export function creditTickCpu(execution: ExecutionState, treeCpuSeconds: number): void {
  const live = [...execution.processes.values()].filter((record) => record.alive);
  const own = (record: ProcessRecord) => record.ownTicks / CLOCK_TICKS_PER_SECOND;
  const split = splitTickCpu(
    treeCpuSeconds,
    live.map((record) => ({ usedSeconds: own(record) - record.countedOwnSeconds })),
    // What left used since its last reading is in its reaper's times or the cgroup's, not in its own:
    // weigh it by what it likely used then (sample-math.ts usedSinceReading).
    execution.departed.map((record) => ({
      usedSeconds: Math.max(
        own(record) - record.countedOwnSeconds,
        usedSinceReading({ ...record, running: record.state === "R" }) / CLOCK_TICKS_PER_SECOND,
      ),
    })),
  );
  const credit = (record: ProcessRecord, seconds: number) => {
    record.creditedSeconds = (record.creditedSeconds ?? 0) + seconds;
    record.countedOwnSeconds = own(record);
  };
  live.forEach((record, index) => credit(record, split.live[index]!));
  execution.departed.forEach((record, index) => credit(record, split.exited[index]!));
}
