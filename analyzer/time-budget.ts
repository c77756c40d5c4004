/**
 * Where a run's wall-clock time went, and how two runs differ in it: each run's seconds per state (on a
 * CPU, waiting for a CPU, blocked on disk, on the network per remote endpoint, on children, idle, and what
 * the samples did not see), adding up to its duration, so the components of a difference add up to it
 * exactly (docs/collector.md "Wall-clock split"). Pure, from run summaries (db/queries/task-histories.ts);
 * analyzer/diagnosis.ts reads the causes from them.
 */
import type { RunSummary, StateSeconds } from "../db/queries/task-histories.js";

/** Where a run's wall-clock time went. */
export type TimeState = "cpu" | "cpuWait" | "diskWait" | "networkWait" | "childWait" | "idle" | "unsampled";

export const timeStateLabels: Record<TimeState, string> = {
  cpu: "on a CPU",
  cpuWait: "waiting for a CPU",
  diskWait: "blocked on disk",
  networkWait: "waiting on the network",
  childWait: "waiting on children",
  idle: "idle",
  unsampled: "not sampled",
};

/** One part of the duration difference: a state's (or one endpoint's) seconds in the run and the baseline. */
export interface TimeComponent {
  state: TimeState;
  /** For `networkWait` split by remote endpoint: the endpoint, or null for waits no named endpoint took. */
  endpoint?: string | null;
  runSeconds: number;
  baselineSeconds: number;
  deltaSeconds: number;
}

/**
 * A run's wall-clock seconds per state, adding up to its sampled seconds: the wall-clock columns where the
 * collector wrote them, else the thread-time seconds scaled to the sampled seconds (as the timelines do,
 * db/queries/timelines.ts).
 */
export function wallSecondsOf(run: RunSummary): StateSeconds {
  if (run.wall) return run.wall;
  const total =
    run.onCpuSeconds +
    run.cpuWaitSeconds +
    run.diskWaitSeconds +
    run.netWaitSeconds +
    run.childWaitSeconds +
    run.idleSeconds;
  const scale = total > 0 ? run.sampledSeconds / total : 0;
  return {
    onCpuSeconds: run.onCpuSeconds * scale,
    cpuWaitSeconds: run.cpuWaitSeconds * scale,
    diskWaitSeconds: run.diskWaitSeconds * scale,
    netWaitSeconds: run.netWaitSeconds * scale,
    childWaitSeconds: run.childWaitSeconds * scale,
    idleSeconds: run.idleSeconds * scale,
  };
}

/**
 * A run's seconds per {@link TimeState} (and per endpoint for the network), adding up to its duration:
 * the network's wall seconds are shared among the endpoints in proportion to their thread-seconds of wait;
 * what the named endpoints do not cover of the run's network thread-time goes to `null` (other endpoints).
 */
export function timeBudgetOf(run: RunSummary): Map<string, number> {
  const wall = wallSecondsOf(run);
  const budget = new Map<string, number>([
    ["cpu", wall.onCpuSeconds],
    ["cpuWait", wall.cpuWaitSeconds],
    ["diskWait", wall.diskWaitSeconds],
    ["childWait", wall.childWaitSeconds],
    ["idle", wall.idleSeconds],
  ]);
  const endpoints = (run.endpoints ?? []).filter((item) => item.waitSeconds > 0);
  const named = endpoints.reduce((sum, item) => sum + item.waitSeconds, 0);
  const threadTotal = Math.max(run.netWaitSeconds, named);
  let assigned = 0;
  if (threadTotal > 0) {
    for (const item of endpoints) {
      const seconds = (wall.netWaitSeconds * item.waitSeconds) / threadTotal;
      budget.set(endpointKey(item.endpoint), (budget.get(endpointKey(item.endpoint)) ?? 0) + seconds);
      assigned += seconds;
    }
  }
  budget.set(endpointKey(null), wall.netWaitSeconds - assigned);
  const sampled = [...budget.values()].reduce((sum, seconds) => sum + seconds, 0);
  budget.set("unsampled", run.durationSeconds - sampled);
  return budget;
}

const ENDPOINT_PREFIX = "networkWait\u0000";
function endpointKey(endpoint: string | null): string {
  return `${ENDPOINT_PREFIX}${endpoint ?? ""}`;
}

/** The run's time budget against the baseline run's, one component per state or endpoint either holds. */
export function decomposeDuration(run: RunSummary, baseline: RunSummary): TimeComponent[] {
  const ours = timeBudgetOf(run);
  const theirs = timeBudgetOf(baseline);
  const keys = [...new Set([...ours.keys(), ...theirs.keys()])];
  // Without a named endpoint on either side, the network is one plain component.
  const endpointsNamed = keys.some((key) => key.startsWith(ENDPOINT_PREFIX) && key !== endpointKey(null));
  const components: TimeComponent[] = [];
  for (const key of keys) {
    const runSeconds = ours.get(key) ?? 0;
    const baselineSeconds = theirs.get(key) ?? 0;
    const component: TimeComponent = key.startsWith(ENDPOINT_PREFIX)
      ? {
          state: "networkWait",
          ...(endpointsNamed ? { endpoint: key.slice(ENDPOINT_PREFIX.length) || null } : {}),
          runSeconds,
          baselineSeconds,
          deltaSeconds: runSeconds - baselineSeconds,
        }
      : { state: key as TimeState, runSeconds, baselineSeconds, deltaSeconds: runSeconds - baselineSeconds };
    if (component.runSeconds !== 0 || component.baselineSeconds !== 0) components.push(component);
  }
  return components.sort(
    (a, b) =>
      Math.abs(b.deltaSeconds) - Math.abs(a.deltaSeconds) || componentName(a).localeCompare(componentName(b)),
  );
}

/** "blocked on disk", "waiting on db:5432", "waiting on the network (other endpoints)". */
export function componentName(component: TimeComponent): string {
  if (component.state !== "networkWait" || component.endpoint === undefined)
    return timeStateLabels[component.state];
  return component.endpoint === null
    ? "waiting on the network (no named endpoint)"
    : `waiting on ${component.endpoint}`;
}
