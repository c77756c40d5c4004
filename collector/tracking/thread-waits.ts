/**
 * Where each thread of a tree spent the tick (I/O side of thread-state.ts): reads schedstat, and for a
 * thread that slept, its state and system call, the fd it waits on and the TCP endpoint behind it.
 * Socket tables and fd listings are cached for one tick.
 */
import { listDir, type ProcReader, readLink } from "../procfs/proc-reader.js";
import {
  parseNetTcp,
  parseSchedstat,
  parseStat,
  parseSyscall,
  socketInode,
  TCP_ESTABLISHED,
  type TcpSocket,
} from "../procfs/procfs-parse.js";
import type { ExecutionState, ProcessRecord, ThreadMark, BlockedIn } from "./execution-state.js";
import {
  addThreadSeconds,
  addThreadToWall,
  classifyThread,
  SYSCALL_TABLES,
  splitThreadTick,
  type ThreadSeconds,
  type WallProducts,
} from "./thread-state.js";

export class ThreadWaits {
  private readonly syscalls = SYSCALL_TABLES[process.arch];
  private tcpCache = new Map<string, Map<number, TcpSocket>>();
  private fdCache = new Map<number, string[]>();

  constructor(
    private readonly reader: ProcReader,
    private readonly procRoot: string,
  ) {}

  /** Forgets the per-tick caches: sockets and fds change between ticks. */
  beginTick(): void {
    this.tcpCache = new Map();
    this.fdCache = new Map();
  }

  /** Targets of a process's open fds (cached for the tick). */
  fdTargets(pid: number): string[] {
    const cached = this.fdCache.get(pid);
    if (cached) return cached;
    const folder = `${this.procRoot}/${pid}/fd`;
    const targets: string[] = [];
    for (const fd of listDir(folder) ?? []) {
      const target = readLink(`${folder}/${fd}`);
      if (target !== undefined) targets.push(target);
    }
    this.fdCache.set(pid, targets);
    return targets;
  }

  /**
   * Adds each thread's split of the interval to `into` and to the tree's wall-clock products `wall`
   * (and network waits to the execution's endpoints), and remembers the threads' schedstat marks. Returns how many threads were read.
   */
  threadTimes(
    execution: ExecutionState,
    record: ProcessRecord,
    intervalSeconds: number,
    into: ThreadSeconds,
    wall?: WallProducts,
  ): number {
    const base = `${this.procRoot}/${record.pid}/task`;
    const tids = record.numThreads > 1 ? (listDir(base) ?? []).map(Number) : [record.pid];
    const marks = new Map<number, ThreadMark>();
    let threads = 0;
    for (const tid of tids) {
      // A single thread's schedstat was read by this tick's walk already.
      const walked = tid === record.pid && record.numThreads === 1 ? record.schedstatThisTick : null;
      record.schedstatThisTick = null;
      const schedText = walked ?? this.reader.readKept(`${base}/${tid}/schedstat`);
      const sched = schedText === undefined ? null : parseSchedstat(schedText);
      if (!sched) continue;
      threads++;
      const previous = record.threads.get(tid);
      let blocked: BlockedIn = "idle";
      let endpoints: string[] = [];
      if (previous !== undefined && previous.slices === sched.slices && previous.runNs === sched.runNs) {
        // Not scheduled once since the last tick: still blocked in the same wait, no need to look again.
        blocked = previous.blocked;
        endpoints = previous.endpoints;
      } else {
        let state = record.state;
        if (tid !== record.pid || record.numThreads > 1) {
          const text = this.reader.readKept(`${base}/${tid}/stat`);
          const threadStat = text === undefined ? null : parseStat(text);
          if (!threadStat) continue;
          state = threadStat.state;
        }
        const syscall =
          state === "S" ? parseSyscall(this.reader.readKept(`${base}/${tid}/syscall`) ?? "") : null;
        const wait = classifyThread(state, syscall, this.syscalls);
        if (wait.kind === "running") {
          // Caught on a CPU: what it waited on between its runs is not visible now. The last wait seen
          // stands for it (a thread alternating between copying and fsync is caught running some ticks,
          // and calling those ticks' waits idle understated its disk time by a third in the demo).
          blocked = previous?.blocked ?? "idle";
          endpoints = previous?.endpoints ?? [];
        } else if (wait.kind === "disk" || wait.kind === "child") blocked = wait.kind;
        else if (wait.kind === "fd-read") {
          const link = readLink(`${this.procRoot}/${record.pid}/fd/${wait.fd}`);
          const inode = link === undefined ? null : socketInode(link);
          if (inode !== null) {
            blocked = "net";
            const socket = this.tcpOf(record.pid).get(inode);
            if (socket) endpoints = [socket.remote];
          }
        } else if (wait.kind === "multiplex") {
          endpoints = this.establishedRemotes(record.pid);
          if (endpoints.length > 0) blocked = "net";
        }
      }
      // A thread without a mark started during this tick (or the tree is new): all its time is this tick's.
      const runDelta = (sched.runNs - (previous?.runNs ?? 0)) / 1e9;
      const delayDelta = (sched.delayNs - (previous?.delayNs ?? 0)) / 1e9;
      const split = splitThreadTick(intervalSeconds, runDelta, delayDelta, blocked);
      addThreadSeconds(into, split);
      if (wall) addThreadToWall(wall, split, intervalSeconds);
      if (blocked === "net" && endpoints.length > 0) {
        const share = split.net / endpoints.length;
        for (const endpoint of endpoints)
          execution.endpoints.set(endpoint, (execution.endpoints.get(endpoint) ?? 0) + share);
      }
      marks.set(tid, { ...sched, blocked, endpoints });
    }
    for (const tid of record.threads.keys()) {
      if (!marks.has(tid)) this.reader.forgetPrefix(`${base}/${tid}/`);
    }
    record.threads = marks;
    return threads;
  }

  private tcpOf(pid: number): Map<number, TcpSocket> {
    const netns = readLink(`${this.procRoot}/${pid}/ns/net`) ?? "host";
    let table = this.tcpCache.get(netns);
    if (!table) {
      table = new Map();
      for (const file of ["tcp", "tcp6"]) {
        const text = this.reader.read(`${this.procRoot}/${pid}/net/${file}`);
        if (text !== undefined) parseNetTcp(text, table);
      }
      this.tcpCache.set(netns, table);
    }
    return table;
  }

  private establishedRemotes(pid: number): string[] {
    const remotes: string[] = [];
    for (const target of this.fdTargets(pid)) {
      const inode = socketInode(target);
      if (inode === null) continue;
      const socket = this.tcpOf(pid).get(inode);
      if (socket && socket.state === TCP_ESTABLISHED) remotes.push(socket.remote);
    }
    return remotes;
  }
}
