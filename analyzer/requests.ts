/**
 * Which request and limit apply to a run, and where they came from. Precedence per execution: what the
 * execution itself recorded (its cgroup, or `run --request-cpu`) > what the DAG/flow source declares
 * (`rightsize scan`) > the configuration (`analysis.requests`). Pure.
 */
import type { RequestSource } from "../common/analysis-document.js";
import type { ConfiguredRequest } from "../common/config.js";
import type { TaskKey } from "../common/task-key.js";

/** Values declared in DAG/flow sources for one task; null where nothing (or only a dynamic value) is declared. */
export interface DeclaredValues {
  cpuRequest: number | null;
  cpuLimit: number | null;
  memoryRequest: number | null;
  memoryLimit: number | null;
}

export const noDeclaredValues: DeclaredValues = {
  cpuRequest: null,
  cpuLimit: null,
  memoryRequest: null,
  memoryLimit: null,
};

export interface EffectiveRequests {
  cpuRequest: number | null;
  cpuLimit: number | null;
  cpuSource: RequestSource | null;
  memoryRequest: number | null;
  memoryLimit: number | null;
  memorySource: RequestSource | null;
}

/** What an execution row carries (db/queries/task-histories.ts RunSummary has these fields). */
export interface ExecutionRequests {
  requestCpuCores: number | null;
  limitCpuCores: number | null;
  cpuSource: string | null;
  requestMemoryBytes: number | null;
  limitMemoryBytes: number | null;
  memorySource: string | null;
}

/** Declared rows as stored by `scan`; the newest scan of a (resource, kind) wins. */
export function declaredValuesOf(
  rows: ReadonlyArray<{ resource: string; kind: string; value: number | null; scannedAt?: Date }>,
): DeclaredValues {
  const values = { ...noDeclaredValues };
  const newest = [...rows]
    .filter((row) => row.value !== null && Number.isFinite(row.value))
    .sort((a, b) => (a.scannedAt?.getTime() ?? 0) - (b.scannedAt?.getTime() ?? 0));
  for (const row of newest) {
    if (row.resource === "cpu" && row.kind === "request") values.cpuRequest = row.value;
    if (row.resource === "cpu" && row.kind === "limit") values.cpuLimit = row.value;
    if (row.resource === "memory" && row.kind === "request") values.memoryRequest = row.value;
    if (row.resource === "memory" && row.kind === "limit") values.memoryLimit = row.value;
  }
  return values;
}

/** The configured request that names this task most precisely (a task entry beats a pipeline entry). */
export function matchConfiguredRequest(
  requests: ReadonlyArray<ConfiguredRequest>,
  key: TaskKey,
): ConfiguredRequest | undefined {
  const candidates = requests.filter(
    (entry) =>
      entry.pipeline === key.pipeline &&
      (entry.orchestrator === undefined || entry.orchestrator === key.orchestrator) &&
      (entry.task === undefined || entry.task === key.task),
  );
  const score = (entry: ConfiguredRequest) =>
    (entry.task === undefined ? 0 : 2) + (entry.orchestrator === undefined ? 0 : 1);
  return candidates.sort((a, b) => score(b) - score(a))[0];
}

function executionSource(source: string | null): RequestSource {
  return source === "flag" || source === "declared" || source === "config" || source === "pod-spec"
    ? source
    : "cgroup";
}

export function resolveRequests(
  execution: ExecutionRequests,
  declared: DeclaredValues,
  configured: ConfiguredRequest | undefined,
): EffectiveRequests {
  let cpuRequest: number | null = null;
  let cpuSource: RequestSource | null = null;
  if (execution.requestCpuCores !== null) {
    cpuRequest = execution.requestCpuCores;
    cpuSource = executionSource(execution.cpuSource);
  } else if (declared.cpuRequest !== null) {
    cpuRequest = declared.cpuRequest;
    cpuSource = "declared";
  } else if (configured?.cpuCores !== undefined) {
    cpuRequest = configured.cpuCores;
    cpuSource = "config";
  }
  let memoryRequest: number | null = null;
  let memorySource: RequestSource | null = null;
  if (execution.requestMemoryBytes !== null) {
    memoryRequest = execution.requestMemoryBytes;
    memorySource = executionSource(execution.memorySource);
  } else if (declared.memoryRequest !== null) {
    memoryRequest = declared.memoryRequest;
    memorySource = "declared";
  } else if (configured?.memoryBytes !== undefined) {
    memoryRequest = configured.memoryBytes;
    memorySource = "config";
  }
  return {
    cpuRequest,
    cpuLimit: execution.limitCpuCores ?? declared.cpuLimit,
    cpuSource,
    memoryRequest,
    memoryLimit: execution.limitMemoryBytes ?? declared.memoryLimit,
    memorySource,
  };
}
