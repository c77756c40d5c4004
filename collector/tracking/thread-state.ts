/**
 * Where a thread's time goes (pure): the schedstat deltas give time on a CPU and time runnable but
 * waiting for one; the rest of the tick is charged to what the thread was blocked in when sampled
 * (uninterruptible sleep = disk, a read or poll on a socket = network, wait4/waitid = a child, else idle).
 */
import type { SyscallState } from "../procfs/procfs-parse.js";

/** System call numbers by architecture (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h). */
export interface SyscallTable {
  /** Calls whose first argument is the fd being read from. */
  fdReads: Set<number>;
  /** Calls that wait on many fds (poll, select, epoll): which fds is not visible from /proc. */
  multiplexers: Set<number>;
  /** Waiting for a child to exit. */
  childWaits: Set<number>;
}

export const SYSCALL_TABLES: Record<string, SyscallTable> = {
  x64: {
    // read 0, readv 19, recvfrom 45, recvmsg 47, recvmmsg 299, preadv 295, preadv2 327
    fdReads: new Set([0, 19, 45, 47, 295, 299, 327]),
    // poll 7, select 23, epoll_wait 232, pselect6 270, ppoll 271, epoll_pwait 281, epoll_pwait2 441
    multiplexers: new Set([7, 23, 232, 270, 271, 281, 441]),
    // wait4 61, waitid 247
    childWaits: new Set([61, 247]),
  },
  arm64: {
    // readv 65, read 63, recvfrom 207, recvmsg 212, recvmmsg 243, preadv 69, preadv2 286
    fdReads: new Set([63, 65, 69, 207, 212, 243, 286]),
    // pselect6 72, ppoll 73, epoll_pwait 22, epoll_pwait2 441
    multiplexers: new Set([22, 72, 73, 441]),
    // waitid 95, wait4 260
    childWaits: new Set([95, 260]),
  },
};

export type ThreadWait =
  | { kind: "running" }
  | { kind: "disk" }
  | { kind: "child" }
  /** Blocked reading fd N: network when N is a socket, else idle. */
  | { kind: "fd-read"; fd: number }
  /** Blocked in poll/select/epoll: network when the process holds established TCP connections. */
  | { kind: "multiplex" }
  | { kind: "idle" };

/** Classifies a thread from its state letter (stat) and its syscall file. */
export function classifyThread(
  state: string,
  syscall: SyscallState | null,
  table: SyscallTable | undefined,
): ThreadWait {
  if (state === "R") return { kind: "running" };
  if (state === "D") return { kind: "disk" };
  if (state !== "S" || syscall === null || syscall.kind !== "syscall" || table === undefined)
    return { kind: "idle" };
  if (table.childWaits.has(syscall.nr)) return { kind: "child" };
  if (table.fdReads.has(syscall.nr)) return { kind: "fd-read", fd: syscall.args[0] ?? -1 };
  if (table.multiplexers.has(syscall.nr)) return { kind: "multiplex" };
  return { kind: "idle" };
}

/** Thread-seconds per state over one tick. */
export interface ThreadSeconds {
  onCpu: number;
  cpuWait: number;
  disk: number;
  net: number;
  child: number;
  idle: number;
}

export function emptyThreadSeconds(): ThreadSeconds {
  return { onCpu: 0, cpuWait: 0, disk: 0, net: 0, child: 0, idle: 0 };
}

/**
 * Splits one thread's tick: on-CPU and CPU-wait from schedstat deltas (clamped to the tick, since the
 * two reads are not atomic), the remainder to the blocked state. A thread "running" at the sample whose
 * remainder is not on a CPU slept in a state we did not see: idle.
 */
export function splitThreadTick(
  intervalSeconds: number,
  runDeltaSeconds: number,
  delayDeltaSeconds: number,
  blocked: "disk" | "net" | "child" | "idle",
): ThreadSeconds {
  const onCpu = Math.min(Math.max(runDeltaSeconds, 0), intervalSeconds);
  const cpuWait = Math.min(Math.max(delayDeltaSeconds, 0), intervalSeconds - onCpu);
  const rest = Math.max(intervalSeconds - onCpu - cpuWait, 0);
  const result = emptyThreadSeconds();
  result.onCpu = onCpu;
  result.cpuWait = cpuWait;
  result[blocked] = rest;
  return result;
}

export function addThreadSeconds(into: ThreadSeconds, add: ThreadSeconds): void {
  into.onCpu += add.onCpu;
  into.cpuWait += add.cpuWait;
  into.disk += add.disk;
  into.net += add.net;
  into.child += add.child;
  into.idle += add.idle;
}

/** Top endpoints by wait, for the execution row. */
export function topEndpoints(
  waits: Map<string, number>,
  limit = 10,
): Array<{ endpoint: string; waitSeconds: number }> {
  return [...waits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([endpoint, waitSeconds]) => ({ endpoint, waitSeconds: Math.round(waitSeconds * 1000) / 1000 }));
}

/**
 * Running products over a tree's threads for the wall-clock split ({@link wallClockSplit}). Each is the
 * product over threads of the share of the tick the thread was *not* in the named states or any state
 * before it in the order on-CPU, CPU-wait, disk, network, idle.
 */
export interface WallProducts {
  notRunning: number;
  notRunnable: number;
  notDisk: number;
  notNet: number;
  notIdle: number;
}

export function emptyWallProducts(): WallProducts {
  return { notRunning: 1, notRunnable: 1, notDisk: 1, notNet: 1, notIdle: 1 };
}

/** Adds one thread's split of a tick (from {@link splitThreadTick}) to the products. */
export function addThreadToWall(products: WallProducts, split: ThreadSeconds, intervalSeconds: number): void {
  if (!(intervalSeconds > 0)) return;
  const clamp = (value: number) => Math.min(Math.max(value, 0), 1);
  let used = split.onCpu / intervalSeconds;
  products.notRunning *= clamp(1 - used);
  used += split.cpuWait / intervalSeconds;
  products.notRunnable *= clamp(1 - used);
  used += split.disk / intervalSeconds;
  products.notDisk *= clamp(1 - used);
  used += split.net / intervalSeconds;
  products.notNet *= clamp(1 - used);
  used += split.idle / intervalSeconds;
  products.notIdle *= clamp(1 - used);
}

/**
 * Where the tree's wall-clock time went in one tick, summing to the tick: on a CPU while any thread ran;
 * else waiting for a CPU while one was runnable; else blocked on disk while any thread was; else on a
 * socket; else idle while any thread slept; else (every thread in wait4/waitid) on a child. A parent
 * waiting on a child says nothing the tracked child's own threads do not (a shell waiting on a sleeping
 * `sleep` is idle, on a burning one on a CPU); it is the tree's state only when nothing else of the tree
 * showed, i.e. while it waited on children too short-lived for any tick to see.
 *
 * schedstat gives each thread's run and queue time in the tick, not when within it, so the overlap of
 * threads is estimated by treating them as independent: the share with no thread running is the product
 * of each thread's share not running, and so on down the order. One busy thread makes the tick on-CPU
 * however many threads sleep beside it (a single-threaded burner with 8 idle pool threads is ≈ 100 %
 * on a CPU, where thread-time says 11 %); threads that ran in turn are counted between the longest
 * single thread's time (full overlap) and their sum (none).
 */
export function wallClockSplit(products: WallProducts, intervalSeconds: number): ThreadSeconds {
  const result = emptyThreadSeconds();
  if (!(intervalSeconds > 0)) return result;
  // Floating-point products can wander above each other by an ulp: keep the chain non-increasing.
  const notRunning = Math.min(products.notRunning, 1);
  const notRunnable = Math.min(products.notRunnable, notRunning);
  const notDisk = Math.min(products.notDisk, notRunnable);
  const notNet = Math.min(products.notNet, notDisk);
  const notIdle = Math.max(Math.min(products.notIdle, notNet), 0);
  result.onCpu = intervalSeconds * (1 - notRunning);
  result.cpuWait = intervalSeconds * (notRunning - notRunnable);
  result.disk = intervalSeconds * (notRunnable - notDisk);
  result.net = intervalSeconds * (notDisk - notNet);
  result.idle = intervalSeconds * (notNet - notIdle);
  result.child = intervalSeconds * notIdle;
  return result;
}
