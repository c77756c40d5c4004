/**
 * Bottleneck classification: what a task's time went to, as one class from the contract enum plus
 * sentences carrying the numbers behind it. Pure: takes the task's totals, returns plain data.
 *
 * The rules run in order and the first that holds wins: a hard limit (memory, throttling) explains
 * more than where threads waited, and waiting for a CPU explains more than being busy on one.
 *
 * Where the time went is judged on the task's wall clock (collector/tracking/thread-state.ts wallClockSplit:
 * on a CPU while any thread ran, …, idle while every thread slept) when the runs recorded it, so idle
 * pool threads beside a busy one do not make a task look asleep, and a task that sleeps most of its
 * wall time is `idle` whatever its few runnable moments did (the idle rule comes before contention).
 * Waiting for a CPU stays judged on thread time: a queue is per thread (two hogs sharing one core keep
 * the wall clock on a CPU while each waits half its runnable time). Runs without wall-clock data fall
 * back to thread time throughout, in the old order.
 */
import type { BottleneckClass } from "../common/analysis-document.js";
import { formatBytes } from "../common/units.js";
import { coresText, percentText } from "./statistics.js";

/**
 * Peak memory at or above this share of the limit is memory-bound: the kernel reclaims page cache hard
 * near memory.max, and one larger input away is an OOM kill. Chosen value; the 10 % margin is smaller
 * than the 15 % buffer the recommendation adds, so a task sized by us does not land here. The reports'
 * OOM risk (reports/summary.ts `verdictOf`) uses the same share.
 */
export const MEMORY_PRESSURE_SHARE = 0.9;
/**
 * Throttled in more than this share of CFS periods: the task is CPU-starved. Chosen value (docs/analyzer.md
 * "Bottleneck class"), well under the 25 % at which kube-prometheus' CPUThrottlingHigh alert fires
 * (kubernetes-monitoring/kubernetes-mixin alerts/resource_alerts.libsonnet, `cpuThrottlingPercent`),
 * because a batch task has no slack. The class, the recommendation and `check` (sources/check.ts) use it.
 */
export const THROTTLED_SHARE = 0.05;
/**
 * Waiting for a CPU at least this share of runnable time (on CPU + waiting) means the host is crowded.
 * Chosen value: a quarter of runnable time queued (schedstat run delay) stretches the CPU part of a run
 * by a third, more than sample noise on a busy-but-fine host (a few %).
 */
export const CONTENTION_RUNNABLE_SHARE = 0.25;
/** …and the waiting must be a real part of the task's active time, not a blip on a tiny task. */
export const CONTENTION_ACTIVE_SHARE = 0.15;
/**
 * Blocked on sockets (or disk) for at least this share of the sampled wall time, counted in
 * thread-seconds: on average a thread was waiting on the network half the run. Such a task waits on a
 * remote system even when idle thread pools (libuv, JVM, BLAS) outnumber the waiting thread and make the
 * task look asleep by thread-time. Half: the same bar as NETWORK_ACTIVE_SHARE.
 */
export const WAIT_WALL_SHARE = 0.5;
/** Sleeping at least this share of own thread time… */
export const IDLE_SHARE = 0.6;
/** …while using less than this many cores on average: a task that mostly sleeps (polls, sensors). */
export const IDLE_MAX_AVERAGE_CORES = 0.1;
/** Blocked on sockets for half of the active thread time: the network is the largest single cause. */
export const NETWORK_ACTIVE_SHARE = 0.5;
/** Blocked on disk for 40 % of active time: lower than network, since disk waits also stall page faults. */
export const DISK_ACTIVE_SHARE = 0.4;
/** On a CPU for 70 % of active time: compute-bound, the remaining 30 % left to I/O and waiting. */
export const CPU_ACTIVE_SHARE = 0.7;

export interface ThreadSeconds {
  cpu: number;
  cpuWait: number;
  diskWait: number;
  networkWait: number;
  childWait: number;
  idle: number;
}

export interface ClassificationInput {
  runs: number;
  /** Samples seen over all runs. */
  ticks: number;
  threadSeconds: ThreadSeconds;
  /** Wall-clock seconds per state over the runs that recorded them; null when none did. */
  wallSeconds?: ThreadSeconds | null;
  /** Wall seconds covered by samples, over all runs. */
  sampledSeconds: number;
  /** CPU seconds over all runs. */
  cpuSeconds: number;
  throttledShare: number | null;
  oomKills: number;
  /** Runs with at least one OOM kill. */
  oomRuns: number;
  peakMemoryBytes: number;
  memoryLimitBytes: number | null;
  hostLoadAvg: number | null;
  hostCores: number | null;
  /** Most waited first. */
  endpoints: Array<{ endpoint: string; waitSeconds: number }>;
  diskReadBytesPerRun: number;
  diskWriteBytesPerRun: number;
}

export interface Classification {
  bottleneck: BottleneckClass;
  evidence: string[];
}

function waitedOn(endpoints: ClassificationInput["endpoints"]): string {
  const top = endpoints.slice(0, 2).map((item) => item.endpoint);
  return top.length === 0 ? "" : `, mostly ${top.join(" and ")}`;
}

/** On a CPU, waiting for one, blocked on disk or on sockets: time the task was trying to work. */
function activeOf(seconds: ThreadSeconds): number {
  return seconds.cpu + seconds.cpuWait + seconds.diskWait + seconds.networkWait;
}

/** Active time and sleep: the task's own time, without waiting on a child (the child's threads carry it). */
function ownOf(seconds: ThreadSeconds): number {
  return activeOf(seconds) + seconds.idle;
}

function averageCoresOf(input: ClassificationInput): number {
  return input.sampledSeconds > 0 ? input.cpuSeconds / input.sampledSeconds : 0;
}

/** The wall-clock seconds when the runs recorded any, else null (thread time decides throughout). */
function wallOf(input: ClassificationInput): ThreadSeconds | null {
  const wall = input.wallSeconds ?? null;
  return wall && ownOf(wall) > 0 ? wall : null;
}

/** One rule: its class and evidence when it holds, else null and the next rule is asked. */
type Rule = (input: ClassificationInput) => Classification | null;

function noSamples(input: ClassificationInput): Classification | null {
  if (input.runs !== 0 && input.ticks !== 0) return null;
  return {
    bottleneck: "unknown",
    evidence: [`no samples in ${input.runs} run${input.runs === 1 ? "" : "s"}: nothing to classify`],
  };
}

function oomKilled(input: ClassificationInput): Classification | null {
  if (!(input.oomKills > 0)) return null;
  return {
    bottleneck: "memory",
    evidence: [
      `killed by the OOM killer ${input.oomKills} time${input.oomKills === 1 ? "" : "s"} in ${input.oomRuns} of ${input.runs} runs; peak ${formatBytes(input.peakMemoryBytes)}${input.memoryLimitBytes === null ? "" : ` against a ${formatBytes(input.memoryLimitBytes)} limit`}`,
    ],
  };
}

function memoryPressure(input: ClassificationInput): Classification | null {
  const limit = input.memoryLimitBytes;
  if (limit === null || !(limit > 0)) return null;
  const share = input.peakMemoryBytes / limit;
  if (!(share >= MEMORY_PRESSURE_SHARE)) return null;
  return {
    bottleneck: "memory",
    evidence: [
      `memory peaked at ${formatBytes(input.peakMemoryBytes)}, ${percentText(share)} of its ${formatBytes(limit)} limit`,
    ],
  };
}

function throttled(input: ClassificationInput): Classification | null {
  if (input.throttledShare === null || !(input.throttledShare > THROTTLED_SHARE)) return null;
  return {
    bottleneck: "cpu-throttled",
    evidence: [
      `throttled by its CPU limit in ${percentText(input.throttledShare)} of scheduler periods (above ${percentText(THROTTLED_SHARE)})`,
    ],
  };
}

/** No thread states at all: only the CPU time can tell an idle task from one we cannot explain. */
function noThreadStates(input: ClassificationInput): Classification | null {
  const t = input.threadSeconds;
  if (!(activeOf(t) <= 0 && ownOf(t) <= 0)) return null;
  const averageCores = averageCoresOf(input);
  return averageCores < IDLE_MAX_AVERAGE_CORES
    ? {
        bottleneck: "idle",
        evidence: [`used ${coresText(averageCores)} cores on average and no thread states were recorded`],
      }
    : {
        bottleneck: "unknown",
        evidence: [
          `used ${coresText(averageCores)} cores on average, but no thread states were recorded to say where the rest went`,
        ],
      };
}

/**
 * Asleep most of its wall time. No average-cores guard here: wall-clock idle is time when no thread of
 * the tree ran or queued, so it cannot hide a busy thread the way idle pool threads do in thread time.
 */
function asleepByWall(input: ClassificationInput): Classification | null {
  const wall = wallOf(input);
  if (!wall) return null;
  const wallIdle = wall.idle / ownOf(wall);
  if (!(wallIdle >= IDLE_SHARE)) return null;
  return {
    bottleneck: "idle",
    evidence: [
      `asleep ${percentText(wallIdle)} of its wall time, using ${coresText(averageCoresOf(input))} cores on average`,
    ],
  };
}

/** Waiting for a CPU, judged on thread time on either clock: a run queue is per thread. */
function cpuContention(input: ClassificationInput): Classification | null {
  const t = input.threadSeconds;
  const active = activeOf(t);
  const runnable = t.cpu + t.cpuWait;
  const runnableWait = runnable > 0 ? t.cpuWait / runnable : 0;
  const contended =
    runnableWait >= CONTENTION_RUNNABLE_SHARE && active > 0 && t.cpuWait / active >= CONTENTION_ACTIVE_SHARE;
  if (!contended) return null;
  const host =
    input.hostLoadAvg !== null
      ? ` on a host at load ${Number(input.hostLoadAvg.toFixed(1))}${input.hostCores === null ? "" : ` on ${input.hostCores} cores`}`
      : "";
  return {
    bottleneck: "cpu-contention",
    evidence: [`waited for a CPU ${percentText(runnableWait)} of its runnable time${host}`],
  };
}

/**
 * With wall-clock data, the rest is decided on wall-clock shares of the wall time not spent waiting on a
 * child.
 */
function byWallShares(input: ClassificationInput): Classification | null {
  const wall = wallOf(input);
  if (!wall) return null;
  // A task blocked most of its run is bound by what it waits on even when little of it was active.
  const idleShare = wall.idle / ownOf(wall);
  return classifyByActiveShares(
    input,
    activeSharesOf(wall),
    "wall",
    `; asleep ${percentText(idleShare)} of its wall time`,
  );
}

/**
 * Each state's share of `total` (0 when `total` is not positive), keys in the analysis document's
 * `timeShares` order: the document's time shares (over all states) and the rules' shares of active time.
 */
export function sharesOf(seconds: ThreadSeconds, total: number): ThreadSeconds {
  const share = (value: number) => (total > 0 ? value / total : 0);
  return {
    cpu: share(seconds.cpu),
    cpuWait: share(seconds.cpuWait),
    diskWait: share(seconds.diskWait),
    networkWait: share(seconds.networkWait),
    idle: share(seconds.idle),
    childWait: share(seconds.childWait),
  };
}

/** Shares of active time (on a CPU, waiting for one, blocked on disk or sockets), each 0…1, on either clock. */
function activeSharesOf(seconds: ThreadSeconds): ThreadSeconds {
  return sharesOf(seconds, activeOf(seconds));
}

/**
 * Asleep most of its thread time and nearly no CPU used, unless it was blocked on the network or disk for
 * most of the sampled wall time (idle pool threads outnumbering the waiting one, see WAIT_WALL_SHARE).
 */
function asleepByThreadTime(input: ClassificationInput): Classification | null {
  const t = input.threadSeconds;
  const shares = activeSharesOf(t);
  const wall = input.sampledSeconds;
  const own = ownOf(t);
  const idleShare = own > 0 ? t.idle / own : 0;
  const averageCores = averageCoresOf(input);
  const waitsMostOfTheRun =
    wall > 0 &&
    ((shares.networkWait >= NETWORK_ACTIVE_SHARE && t.networkWait / wall >= WAIT_WALL_SHARE) ||
      (shares.diskWait >= DISK_ACTIVE_SHARE && t.diskWait / wall >= WAIT_WALL_SHARE));
  if (!(idleShare >= IDLE_SHARE && averageCores < IDLE_MAX_AVERAGE_CORES && !waitsMostOfTheRun)) return null;
  return {
    bottleneck: "idle",
    evidence: [
      `asleep ${percentText(idleShare)} of its thread time, using ${coresText(averageCores)} cores on average`,
    ],
  };
}

/** After every rule, on thread time: what the active thread time went to. */
function byThreadShares(input: ClassificationInput): Classification {
  return classifyByActiveShares(input, activeSharesOf(input.threadSeconds), "thread");
}

/**
 * The rules in order (see the module comment); the first that holds decides. When none does, what the
 * active thread time went to decides (byThreadShares).
 */
const rules: readonly Rule[] = [
  noSamples,
  oomKilled,
  memoryPressure,
  throttled,
  noThreadStates,
  asleepByWall,
  cpuContention,
  byWallShares,
  asleepByThreadTime,
];

export function classifyBottleneck(input: ClassificationInput): Classification {
  for (const rule of rules) {
    const found = rule(input);
    if (found) return found;
  }
  return byThreadShares(input);
}

/**
 * The last rules, the same on either clock: sockets, then disk, then CPU, else balanced. `basis` names
 * the clock the shares were taken on ("thread" or "wall") in the evidence.
 */
function classifyByActiveShares(
  input: ClassificationInput,
  shares: ThreadSeconds,
  basis: "thread" | "wall",
  balancedTail = "",
): Classification {
  if (shares.networkWait >= NETWORK_ACTIVE_SHARE) {
    return {
      bottleneck: "network-wait",
      evidence: [
        `${percentText(shares.networkWait)} of its active ${basis} time blocked on sockets${waitedOn(input.endpoints)}`,
      ],
    };
  }
  if (shares.diskWait >= DISK_ACTIVE_SHARE) {
    return {
      bottleneck: "disk-io",
      evidence: [
        `${percentText(shares.diskWait)} of its active ${basis} time blocked on disk, reading ${formatBytes(input.diskReadBytesPerRun)} and writing ${formatBytes(input.diskWriteBytesPerRun)} per run (median)`,
      ],
    };
  }
  if (shares.cpu >= CPU_ACTIVE_SHARE) {
    return {
      bottleneck: "cpu",
      evidence: [
        `on a CPU ${percentText(shares.cpu)} of its active ${basis} time, ${coresText(averageCoresOf(input))} cores on average`,
      ],
    };
  }
  return {
    bottleneck: "balanced",
    evidence: [
      `no single cause: of its active ${basis} time ${percentText(shares.cpu)} on a CPU, ${percentText(shares.networkWait)} on sockets, ${percentText(shares.diskWait)} on disk, ${percentText(shares.cpuWait)} waiting for a CPU${balancedTail}`,
    ],
  };
}
