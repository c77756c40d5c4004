/**
 * The collector's CPU self-check: beside the CPU it stores, each execution keeps what the /proc
 * tree walk alone summed and, where one is known, an exact figure for the same span: the task's own
 * cgroup's usage, or what `run` got from the kernel on reaping its command (wait4: its reaped children's
 * times). The difference is the tree arithmetic's error, stored on the execution
 * (task_executions.tree_cpu_seconds, reference_cpu_seconds, reference_cpu_source), logged when large,
 * exported as a histogram by `collect` and summarized by `rightsize status` (docs/collector.md
 * "Self-check"). Pure arithmetic, but for {@link reportCpuCheck}, which logs and hands it on.
 */
import type { Logger } from "../../common/logger.js";
import type { CgroupCounters } from "../procfs/cgroup.js";
import { CLOCK_TICKS_PER_SECOND } from "../procfs/procfs-parse.js";
import { type Carry, type ProcessCounters, type TreeTotals, treeTotals } from "./sample-math.js";

/**
 * References under this many CPU seconds are stored but not judged: /proc counts CPU in clock ticks of
 * 10 ms (USER_HZ, man 5 proc), so the two figures can differ by a tick or two from rounding alone, which
 * is 2 % of one second and more of anything shorter.
 */
export const MIN_JUDGED_REFERENCE_SECONDS = 1;

/**
 * A difference larger than this share of the reference is logged (once per execution). Chosen value:
 * the rounding of the shortest judged reference (two ticks in one second), so what is logged is more.
 */
export const REPORTED_RELATIVE_ERROR = 0.02;

/** What an execution keeps for its self-check between ticks (ExecutionState.cpuCheck). */
export interface CpuCheckState {
  /**
   * The tree's own cumulative CPU (live processes' own and reaped children's times plus what exits
   * carried, less what settling added) at the last reading, seconds; null before the first.
   */
  lastTreeSeconds: number | null;
  /**
   * The tree's CPU since the baseline, as its samples add it up: rises by each non-negative change
   * between readings (sample-math.ts sampleBetween does the same to the stored series).
   */
  treeSeconds: number;
  /** The own cgroup's usage at the baseline (0 for a task counted from its start); null: not read yet. */
  cgroupBaseline: number | null;
  /** The own cgroup's usage at the last reading; null without a cgroup of its own (or unreadable). */
  cgroupSeconds: number | null;
  /** {@link treeSeconds} at that reading: a cgroup removed before the last tick leaves the two paired. */
  treeAtCgroupSeconds: number;
  /** `run`'s exact figure for the whole command (wait4), seconds. */
  wait4Seconds: number | null;
  /** Processes the execution has seen, exited ones included. */
  processesSeen: number;
}

/** A new execution's state: a task counted from its start has a baseline of zero. */
export function newCpuCheck(countFromZero: boolean): CpuCheckState {
  return {
    lastTreeSeconds: countFromZero ? 0 : null,
    treeSeconds: 0,
    cgroupBaseline: countFromZero ? 0 : null,
    cgroupSeconds: null,
    treeAtCgroupSeconds: 0,
    wait4Seconds: null,
    processesSeen: 0,
  };
}

/**
 * One tick's reading: the tree's own totals, what an exact final total of the root added to them so far
 * (`settledTicks`, left out: the tree's sum stays what the walk found itself), and the own cgroup's
 * counters (null without one).
 */
export function recordCpuReading(
  state: CpuCheckState,
  totals: Pick<TreeTotals, "ticks">,
  settledTicks: number,
  counters: Pick<CgroupCounters, "cpuSeconds"> | null,
): void {
  const treeSeconds = (totals.ticks - settledTicks) / CLOCK_TICKS_PER_SECOND;
  if (state.lastTreeSeconds !== null) state.treeSeconds += Math.max(treeSeconds - state.lastTreeSeconds, 0);
  state.lastTreeSeconds = treeSeconds;
  const cgroupSeconds = counters?.cpuSeconds ?? null;
  if (cgroupSeconds === null) return;
  state.cgroupBaseline ??= cgroupSeconds;
  state.cgroupSeconds = cgroupSeconds;
  state.treeAtCgroupSeconds = state.treeSeconds;
}

/** The self-check of an ended execution, as stored. */
export interface CpuCheck {
  treeCpuSeconds: number;
  referenceCpuSeconds: number;
  referenceCpuSource: "cgroup" | "wait4";
}

/**
 * The stored figures: the cgroup's usage over the span when the task has a cgroup of its own (it also
 * holds processes that left the tree, such as daemons reparented to init, which wait4 never reaps),
 * else `run`'s wait4 figure; null when neither is known.
 */
export function finishCpuCheck(state: CpuCheckState): CpuCheck | null {
  if (state.cgroupSeconds !== null && state.cgroupBaseline !== null) {
    return {
      treeCpuSeconds: state.treeAtCgroupSeconds,
      referenceCpuSeconds: Math.max(state.cgroupSeconds - state.cgroupBaseline, 0),
      referenceCpuSource: "cgroup",
    };
  }
  if (state.wait4Seconds === null) return null;
  return {
    treeCpuSeconds: state.treeSeconds,
    referenceCpuSeconds: state.wait4Seconds,
    referenceCpuSource: "wait4",
  };
}

/**
 * The tree's relative error against the reference: (tree − reference) / reference, negative when the
 * tree missed CPU. Null when the reference is under {@link MIN_JUDGED_REFERENCE_SECONDS} (not judged).
 */
export function relativeCpuError(treeSeconds: number, referenceSeconds: number): number | null {
  if (!(referenceSeconds >= MIN_JUDGED_REFERENCE_SECONDS)) return null;
  return (treeSeconds - referenceSeconds) / referenceSeconds;
}

/** The measured accuracy over many executions (`rightsize status`). */
export interface CpuAccuracy {
  /** Executions with a reference. */
  checked: number;
  /** Of those, the ones judged (a reference of at least {@link MIN_JUDGED_REFERENCE_SECONDS}). */
  judged: number;
  /** Median relative error of the judged ones (signed); null when none. */
  median: number | null;
  /** The judged relative error farthest from zero (signed); null when none. */
  worst: number | null;
  /** Judged executions whose error is over {@link REPORTED_RELATIVE_ERROR} either way. */
  overThreshold: number;
}

export function summarizeCpuAccuracy(
  executions: Iterable<{ treeCpuSeconds: number; referenceCpuSeconds: number }>,
): CpuAccuracy {
  let checked = 0;
  const errors: number[] = [];
  for (const { treeCpuSeconds, referenceCpuSeconds } of executions) {
    checked++;
    const error = relativeCpuError(treeCpuSeconds, referenceCpuSeconds);
    if (error !== null) errors.push(error);
  }
  errors.sort((a, b) => a - b);
  const middle = errors.length >> 1;
  const median =
    errors.length === 0
      ? null
      : errors.length % 2 === 1
        ? errors[middle]!
        : (errors[middle - 1]! + errors[middle]!) / 2;
  const worst =
    errors.length === 0
      ? null
      : Math.abs(errors[0]!) >= Math.abs(errors.at(-1)!)
        ? errors[0]!
        : errors.at(-1)!;
  return {
    checked,
    judged: errors.length,
    median,
    worst,
    overThreshold: errors.filter((error) => Math.abs(error) > REPORTED_RELATIVE_ERROR).length,
  };
}

/** How a warning names where the reference came from. */
const REFERENCE_WORDS: Record<CpuCheck["referenceCpuSource"], string> = {
  cgroup: "its own cgroup counted",
  wait4: "the kernel gave on reaping it (wait4)",
};

/** The warning an ended execution's self-check gives, or null when within the threshold or not judged. */
export function cpuCheckWarning(
  check: CpuCheck,
  processesSeen: number,
): { fields: Record<string, number | string>; message: string } | null {
  const error = relativeCpuError(check.treeCpuSeconds, check.referenceCpuSeconds);
  if (error === null || Math.abs(error) <= REPORTED_RELATIVE_ERROR) return null;
  const missing = check.referenceCpuSeconds - check.treeCpuSeconds;
  const seconds = (value: number) => Number(value.toFixed(3));
  return {
    fields: {
      treeCpuSeconds: seconds(check.treeCpuSeconds),
      referenceCpuSeconds: seconds(check.referenceCpuSeconds),
      referenceCpuSource: check.referenceCpuSource,
      // Negative when the tree counted more than the reference.
      missingCpuSeconds: seconds(missing),
      relativeError: Number(error.toFixed(4)),
      processesSeen,
    },
    message:
      `the process tree summed ${seconds(check.treeCpuSeconds)} s of CPU, ` +
      `${seconds(Math.abs(missing))} s ${missing > 0 ? "less" : "more"} than the ` +
      `${seconds(check.referenceCpuSeconds)} s ${REFERENCE_WORDS[check.referenceCpuSource]} ` +
      `(${error > 0 ? "+" : ""}${(100 * error).toFixed(1)} %, ${processesSeen} processes seen)`,
  };
}

/** At an execution's end: logs a large difference once (warn) and hands the check to `observe`. */
export function reportCpuCheck(
  executionId: string,
  state: CpuCheckState,
  logger: Logger,
  observe?: (check: CpuCheck) => void,
): void {
  const check = finishCpuCheck(state);
  if (check === null) return;
  const warning = cpuCheckWarning(check, state.processesSeen);
  if (warning) logger.warn({ execution: executionId, ...warning.fields }, warning.message);
  observe?.(check);
}
