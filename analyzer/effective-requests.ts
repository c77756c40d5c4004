/**
 * Declared against effective: what a task's runs really had (the requests and limits its cgroup or its pod
 * spec carried, as the collector recorded them per execution) beside what its sources declare, and
 * whether a declaration reached the task at all. Pure: plain values in, a verdict out; the reasons that
 * need the repository (which executor, which work pool, which chart) are told by sources/effective.ts.
 */
import { formatBytes } from "../common/units.js";
import type { ExecutionRequests } from "./requests.js";
import { coresText } from "./statistics.js";

export type Resource = "cpu" | "memory";

/** Where a value the task really had was read: the collector's own readings, never a declaration. */
export type MeasuredSource = "cgroup" | "pod-spec";

/** What the runs had of one resource: cores for CPU, bytes for memory; null where nothing was set. */
export interface EffectiveResource {
  request: number | null;
  limit: number | null;
  source: MeasuredSource;
  /** Runs that recorded a value of this resource from the cgroup or the pod spec. */
  runs: number;
}

export interface EffectiveRequest {
  cpu: EffectiveResource | null;
  memory: EffectiveResource | null;
}

function measured(source: string | null): source is MeasuredSource {
  return source === "cgroup" || source === "pod-spec";
}

/**
 * The latest measured values of each resource over a task's runs (oldest first), with how many runs
 * measured one: the latest, because a change of the worker or of the pod template applies from one run
 * on. Runs whose values came from `--request-cpu`, a declaration or the configuration say nothing of
 * what the task had. Null when no run measured anything.
 */
export function effectiveRequestOf(runs: readonly ExecutionRequests[]): EffectiveRequest | null {
  let cpu: EffectiveResource | null = null;
  let memory: EffectiveResource | null = null;
  let cpuRuns = 0;
  let memoryRuns = 0;
  for (const run of runs) {
    if (measured(run.cpuSource) && (run.requestCpuCores !== null || run.limitCpuCores !== null)) {
      cpu = {
        request: run.requestCpuCores,
        limit: run.limitCpuCores,
        source: run.cpuSource,
        runs: ++cpuRuns,
      };
    }
    if (measured(run.memorySource) && (run.requestMemoryBytes !== null || run.limitMemoryBytes !== null)) {
      memory = {
        request: run.requestMemoryBytes,
        limit: run.limitMemoryBytes,
        source: run.memorySource,
        runs: ++memoryRuns,
      };
    }
  }
  return cpu || memory ? { cpu, memory } : null;
}

/**
 * How far a measured value may sit from the declared one and still be it. CPU: a request read back from
 * cgroup v2's cpu.weight went through the kubelet's shares-to-weight conversion (1 + (shares − 2) × 9999
 * / 262142, kubernetes pkg/kubelet/cm/cgroup_manager_linux.go CpuSharesToCpuWeight), whose integer steps
 * are 262142 / 9999 ≈ 26 shares, 0.026 cores: 0.03 cores, or 1 % of larger values. Memory: memory.max
 * is kept in whole pages (4 KiB), and a quantity written in decimal units (`8G`) is not its binary
 * namesake (`8Gi`, 7 % more): 1 MiB or 1 %, so such a difference stays a difference.
 */
export const CPU_TOLERANCE_CORES = 0.03;
export const MEMORY_TOLERANCE_BYTES = 1024 ** 2;
export const RELATIVE_TOLERANCE = 0.01;

export function sameValue(resource: Resource, declared: number, effective: number): boolean {
  const absolute = resource === "cpu" ? CPU_TOLERANCE_CORES : MEMORY_TOLERANCE_BYTES;
  return Math.abs(declared - effective) <= Math.max(absolute, RELATIVE_TOLERANCE * Math.abs(declared));
}

export function describeAmount(resource: Resource, value: number): string {
  return resource === "cpu" ? `${coresText(value)} cores` : formatBytes(value);
}

/** One declared value, as `scan` found it. */
export interface DeclaredValue {
  resource: Resource;
  kind: "request" | "limit";
  /** Cores or bytes. */
  value: number;
}

/** A declaration the runs show never reached the task. */
export interface NotApplied {
  resource: Resource;
  kind: "request" | "limit";
  declared: number;
  /** What the runs had instead: the same kind when they had it, else the value that rules it out. */
  effective: number | null;
  effectiveKind: "request" | "limit" | null;
  source: MeasuredSource;
  /** The runs' side, as a clause: `the runs had a 1 GiB memory limit (cgroup)`. */
  observed: string;
}

function observedText(
  resource: Resource,
  kind: "request" | "limit" | null,
  value: number | null,
  source: MeasuredSource,
): string {
  const name = resource === "cpu" ? "CPU" : "memory";
  const where = source === "cgroup" ? "their cgroup" : "their pod spec";
  if (kind === null || value === null) return `the runs had no ${name} limit in ${where}`;
  return `the runs had a ${describeAmount(resource, value)} ${name} ${kind} in ${where}`;
}

/**
 * Whether a declared value reached the task, by what its runs had. A declared request is contradicted
 * by a different request the runs had, or by a limit below it (no run could have had the request with
 * that limit: Kubernetes refuses a request above its limit, core/v1 validation). A declared limit is
 * contradicted by a different limit, or by no limit at all where the runs' values were read. Null when
 * they agree, or when the runs recorded nothing to tell by.
 */
export function declaredAgainstEffective(
  declared: DeclaredValue,
  effective: EffectiveResource | null,
): NotApplied | null {
  if (!effective || !Number.isFinite(declared.value)) return null;
  const { resource, kind, value } = declared;
  const result = (effectiveKind: "request" | "limit" | null, effectiveValue: number | null): NotApplied => ({
    resource,
    kind,
    declared: value,
    effective: effectiveValue,
    effectiveKind,
    source: effective.source,
    observed: observedText(resource, effectiveKind, effectiveValue, effective.source),
  });
  if (kind === "request") {
    if (effective.request !== null) {
      return sameValue(resource, value, effective.request) ? null : result("request", effective.request);
    }
    if (effective.limit !== null && !sameValue(resource, value, effective.limit) && effective.limit < value) {
      return result("limit", effective.limit);
    }
    return null;
  }
  if (effective.limit === null) return result(null, null);
  return sameValue(resource, value, effective.limit) ? null : result("limit", effective.limit);
}
