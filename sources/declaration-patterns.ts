/**
 * Where requests are declared, as data: which keys of which Python or YAML structure mean which resource,
 * kind and unit, and which task keyword a per-task override of a pattern writes. The scanners walk the
 * structures; this table says what the keys mean.
 */
import type { Pattern, RequestKind, Resource, TaskKeyword } from "./findings.js";
import type { QuantityUnit } from "./quantities.js";

export interface KeyMeaning {
  resource: Resource;
  kind: RequestKind;
  unit: QuantityUnit;
}

/**
 * Airflow's `resources={"cpus": …, "ram": …}` on an operator (airflow/utils/operator_resources.py
 * `Resources(cpus, ram, disk, gpus)`; ram is in MB, read as MiB: docs/requests.md).
 */
export const airflowResourcesKeys: Record<string, KeyMeaning> = {
  cpus: { resource: "cpu", kind: "request", unit: "cores" },
  ram: { resource: "memory", kind: "request", unit: "MB" },
};

/**
 * The Airflow 1.10 `executor_config={"KubernetesExecutor": {…}}` keys (still read by old deployments;
 * airflow/contrib/executors/kubernetes_executor.py in 1.10).
 */
export const legacyKubernetesExecutorKeys: Record<string, KeyMeaning> = {
  request_cpu: { resource: "cpu", kind: "request", unit: "k8s-cpu" },
  limit_cpu: { resource: "cpu", kind: "limit", unit: "k8s-cpu" },
  request_memory: { resource: "memory", kind: "request", unit: "k8s-memory" },
  limit_memory: { resource: "memory", kind: "limit", unit: "k8s-memory" },
};

/**
 * A Kubernetes container's `resources: {requests: {cpu, memory}, limits: {…}}` (core/v1
 * ResourceRequirements), in Python (`k8s.V1ResourceRequirements(requests={…})`) and in YAML pod specs.
 */
export const resourceRequirementKinds: Record<string, RequestKind> = { requests: "request", limits: "limit" };
export const resourceRequirementKeys: Record<string, { resource: Resource; unit: QuantityUnit }> = {
  cpu: { resource: "cpu", unit: "k8s-cpu" },
  memory: { resource: "memory", unit: "k8s-memory" },
};

/** The task keyword argument a Python pattern lives in, i.e. what a per-task override writes. */
export const taskKeywordOfPattern: Partial<Record<Pattern, TaskKeyword>> = {
  resources: "resources",
  pod_override: "executor_config",
  kubernetes_executor: "executor_config",
  container_resources: "container_resources",
};

/**
 * The task argument a dag-factory pattern lives in: a per-task override writes it as a key of the task's
 * YAML mapping (sources/dag-factory.ts).
 */
export const yamlTaskKeywordOfPattern: Partial<Record<Pattern, TaskKeyword>> = {
  dag_factory_resources: "resources",
  dag_factory_pod_override: "executor_config",
  dag_factory_kubernetes_executor: "executor_config",
  dag_factory_container_resources: "container_resources",
};

/** Keys whose resource a Prefect job variable declares (configured: `prefect.cpuVariables`, …). */
export interface PrefectNames {
  cpuVariables: string[];
  memoryVariables: string[];
}

/**
 * Limit variables of Prefect's default Kubernetes base job template (`cpu_limit`, `memory_limit` in the
 * container's `resources.limits`: prefect-kubernetes worker.py): a deployment's value is a limit only
 * where its pool's template names the variable (sources/work-pool-template.ts settles that).
 */
export const prefectLimitVariables: Record<string, Resource> = { cpu_limit: "cpu", memory_limit: "memory" };

/** The resource a Prefect job variable named `key` declares, or null. */
export function prefectVariableResource(names: PrefectNames, key: string): Resource | null {
  if (names.cpuVariables.includes(key)) return "cpu";
  if (names.memoryVariables.includes(key)) return "memory";
  return null;
}
