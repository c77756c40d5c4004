/**
 * Exit accounting: which followed execution each BSD accounting record (acct-format.ts) belongs to, and
 * the per-command split of a tick's CPU.
 *
 * A record names its pid, its parent's pid when it exited, and its start (whole seconds). It belongs to
 * an execution when its parent chain reaches a tracked process, walking through other records of the
 * same batch (a subshell and its `gzip` that both exited between two ticks) and through processes that
 * left a tree lately. A pid is trusted only with its start: a tracked parent must have started before
 * the child, a parent record must have been alive when the child started, and a record of a tracked
 * pid is that process's own only when the starts agree (pid reuse).
 */
import { ACCT_TICKS_PER_SECOND, type AcctRecord } from "../procfs/acct-format.js";

/**
 * Starts agree within this: a record's btime is truncated to whole seconds, and so is the boot time
 * (/proc/stat btime) a tracked process's start is computed from.
 */
export const START_SLACK_MS = 2_010;
/** Expected truncation of a record's CPU: half a 1/100-s tick in each of utime and stime. */
const TRUNCATION_SECONDS = 2 * 0.5 * (1 / ACCT_TICKS_PER_SECOND);
/** Parent chains are walked this deep at most (a cycle or an odd tree ends the walk). */
const MAX_CHAIN = 64;

/** A process known to belong to an execution: tracked now, or left a tree lately. */
export interface KnownProcess {
  executionId: string;
  /** Start, ms since the epoch. */
  startMs: number;
}

export interface AttributedExit {
  record: AcctRecord;
  executionId: string;
  /**
   * `own`: the exit of a known process (same pid and start); `unseen`: a process the tree walker never
   * saw, whose parent chain reaches the execution.
   */
  kind: "own" | "unseen";
}

/** Attributes a batch of records; `known(pid)` finds a tracked or lately departed process by pid. */
export function attributeExits(
  records: AcctRecord[],
  known: (pid: number) => KnownProcess | undefined,
): AttributedExit[] {
  const byPid = new Map<number, AcctRecord[]>();
  for (const record of records) {
    const list = byPid.get(record.pid);
    if (list) list.push(record);
    else byPid.set(record.pid, [record]);
  }
  const result: AttributedExit[] = [];
  for (const record of records) {
    const beginMs = record.beginSeconds * 1000;
    const self = known(record.pid);
    if (self && Math.abs(self.startMs - beginMs) <= START_SLACK_MS) {
      result.push({ record, executionId: self.executionId, kind: "own" });
      continue;
    }
    const executionId = chainOwner(record, byPid, known);
    if (executionId !== null) result.push({ record, executionId, kind: "unseen" });
  }
  return result;
}

function chainOwner(
  record: AcctRecord,
  byPid: Map<number, AcctRecord[]>,
  known: (pid: number) => KnownProcess | undefined,
): string | null {
  let child = record;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const childBeginMs = child.beginSeconds * 1000;
    const parentPid = child.ppid;
    if (parentPid <= 1) return null;
    const tracked = known(parentPid);
    // The parent must have started before the child (else the pid was reused by a later process).
    if (tracked && tracked.startMs <= childBeginMs + START_SLACK_MS) return tracked.executionId;
    const candidates = byPid.get(parentPid);
    const parent = candidates?.find(
      (candidate) =>
        candidate !== child &&
        candidate.beginSeconds <= child.beginSeconds &&
        candidate.beginSeconds + candidate.elapsedSeconds + 1 >= child.beginSeconds,
    );
    if (!parent) return null;
    child = parent;
  }
  return null;
}

/** Record CPU in the collector's units (seconds). */
export function recordCpuSeconds(record: AcctRecord): number {
  return record.cpuTicks / ACCT_TICKS_PER_SECOND;
}

/**
 * Splits a tick's tree CPU among processes so the processes' CPU adds up to the tree's (pure).
 * Processes alive at both ends are credited what /proc says they used; the rest of the tree's CPU
 * (what exited processes used, seen through their parents' cutime or the tree's cgroup) goes to the
 * processes that exited this tick in proportion to their own final CPU (records have 1/100 s per
 * process, truncated per field, so they split the total but do not make it). With no exits to give it
 * to, the rest goes to the live processes in proportion to their use, so the sum still holds.
 * Returns each entry's credit.
 */
export function splitTickCpu(
  treeCpuSeconds: number,
  live: Array<{ usedSeconds: number }>,
  exited: Array<{ usedSeconds: number }>,
): { live: number[]; exited: number[] } {
  const liveCredit = live.map((item) => Math.max(item.usedSeconds, 0));
  const liveSum = liveCredit.reduce((a, b) => a + b, 0);
  const rest = treeCpuSeconds - liveSum;
  // Each record field is truncated to 1/100 s (kernel/acct.c nsec_to_AHZ), so a process used on average
  // half a tick more per field than it says: without that, the many 0-tick records of short children
  // would weigh nothing and their CPU would go to whoever else was left.
  const weights = exited.map((item) => Math.max(item.usedSeconds, 0) + TRUNCATION_SECONDS);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  if (weightSum > 0)
    return { live: liveCredit, exited: weights.map((weight) => (rest * weight) / weightSum) };
  if (exited.length > 0 && rest > 0 && liveSum === 0)
    return { live: liveCredit, exited: exited.map(() => rest / exited.length) };
  if (liveSum > 0)
    return {
      live: liveCredit.map((credit) => credit + (rest * credit) / liveSum),
      exited: exited.map(() => 0),
    };
  if (live.length > 0)
    return { live: liveCredit.map((credit) => credit + rest / live.length), exited: exited.map(() => 0) };
  return { live: liveCredit, exited: exited.map(() => (exited.length > 0 ? rest / exited.length : 0)) };
}
