/**
 * Kubernetes pods, read back into task keys (pure). Every process of a pod sits in a cgroup whose path
 * names the pod UID; the pod's metadata (from the kubelet or the API server, collector/attribution/kubernetes-client.ts)
 * says which task it runs and what its containers requested.
 */
import { parseKubernetesQuantity } from "../../common/units.js";
import { type Attribution, mapIndexOf, positiveInt } from "./attribution-key.js";
import { prefectPipeline } from "./attribution.js";

/** Where a process sits: its pod and, when the path names it, its container. */
export interface PodPlace {
  podUid: string;
  containerId: string | null;
}

const UUID_DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The pod of a process from /proc/PID/cgroup (v1 `N:controllers:/path` lines or the v2 `0::/path` line).
 * The kubelet names pod cgroups `…/kubepods[/QOS]/pod<uid>/<container>` with the cgroupfs driver and
 * `…/kubepods-<qos>-pod<uid with _ for ->.slice/<runtime>-<container>.scope` with systemd (kubernetes
 * `pkg/kubelet/cm/cgroup_manager_linux.go` `ToCgroupfsName`/`ToSystemd`, `pod_container_manager_linux.go`
 * `GetPodContainerName`: `"pod" + string(pod.UID)`).
 */
export function parsePodCgroup(text: string): PodPlace | null {
  for (const line of text.split("\n")) {
    const path = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
    if (!path.includes("kubepods")) continue;
    const parts = path.split("/");
    for (let i = 0; i < parts.length; i++) {
      const match = /(?:^|-)pod([0-9a-f_-]{36})(?:\.slice)?$/.exec(parts[i]!);
      if (!match) continue;
      const podUid = match[1]!.replace(/_/g, "-");
      if (!UUID_DASHED.test(podUid)) continue;
      // The container: a 64-hex id, bare (cgroupfs) or as `cri-containerd-ID.scope`, `crio-ID.scope`,
      // `docker-ID.scope` (systemd).
      const container = /(?:^|-)([0-9a-f]{64})(?:\.scope)?$/.exec(parts[i + 1] ?? "");
      return { podUid, containerId: container ? container[1]! : null };
    }
  }
  return null;
}

/** The parts of a Pod object (core/v1) read here, as the API returns them in JSON. */
export interface PodObject {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    nodeName?: string;
    containers?: {
      name?: string;
      resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    }[];
  };
  status?: { containerStatuses?: { name?: string; containerID?: string }[] };
}

/**
 * A pod's task key:
 * - KubernetesExecutor pods: annotations `dag_id`, `task_id`, `run_id`, `try_number`, `map_index` hold the
 *   exact values (labels hold sanitised, sometimes hashed copies) (apache/airflow
 *   `providers/cncf/kubernetes/src/airflow/providers/cncf/kubernetes/pod_generator.py` `construct_pod`);
 * - KubernetesPodOperator pods: labels `dag_id`, `task_id`, `run_id`, `try_number`, `[map_index]`,
 *   `kubernetes_pod_operator=True`, passed through `make_safe_label_value` (same provider,
 *   `operators/pod.py` `_get_ti_pod_labels`): the run id may be a sanitised copy;
 * - Prefect workers: labels `prefect.io/flow-run-id`, `prefect.io/flow-name`, `prefect.io/deployment-name`,
 *   `prefect.io/deployment-id` (prefect `src/prefect/workers/base.py` `_base_flow_run_labels`,
 *   `_base_flow_labels`, `_base_deployment_labels`), slugified by the Kubernetes worker
 *   (`prefect-kubernetes` `worker.py` `_slugify_labels`): a name with characters outside
 *   `[A-Za-z0-9._-]` reads differently here than in the process environment, which wins when present.
 */
export function podAttribution(pod: PodObject): Attribution | null {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations.dag_id && annotations.task_id) {
    return {
      orchestrator: "airflow",
      pipeline: annotations.dag_id,
      task: annotations.task_id,
      runId: annotations.run_id || annotations.execution_date || null,
      tryNumber: positiveInt(annotations.try_number),
      mapIndex: mapIndexOf(annotations.map_index),
      source: "kubernetes-pod",
    };
  }
  if (labels.kubernetes_pod_operator && labels.dag_id && labels.task_id) {
    return {
      orchestrator: "airflow",
      pipeline: labels.dag_id,
      task: labels.task_id,
      runId: labels.run_id || null,
      tryNumber: positiveInt(labels.try_number),
      mapIndex: mapIndexOf(labels.map_index),
      source: "kubernetes-pod",
    };
  }
  const flowRunId = labels["prefect.io/flow-run-id"];
  if (flowRunId) {
    return {
      orchestrator: "prefect",
      pipeline: prefectPipeline({
        flowName: labels["prefect.io/flow-name"],
        deploymentName: labels["prefect.io/deployment-name"],
        deploymentId: labels["prefect.io/deployment-id"],
        flowRunId,
      })!,
      task: "__flow__",
      runId: flowRunId,
      tryNumber: null,
      mapIndex: null,
      source: "kubernetes-pod",
    };
  }
  return null;
}

/**
 * The container a task runs in: `base` for Airflow's pods (pod_generator.py and KubernetesPodOperator name
 * their main container so), `prefect-job` for Prefect's (prefect-kubernetes `worker.py` default job
 * template); other containers (sidecars) are not the task.
 */
const TASK_CONTAINERS = ["base", "prefect-job"];

/** The task's container spec in a pod, by the runtime id from the cgroup path when known. */
export function taskContainerName(pod: PodObject, containerId: string | null): string | null {
  const containers = pod.spec?.containers ?? [];
  if (containerId) {
    const status = pod.status?.containerStatuses?.find((entry) =>
      entry.containerID?.endsWith(`//${containerId}`),
    );
    if (status?.name) return status.name;
  }
  return (
    containers.find((container) => container.name && TASK_CONTAINERS.includes(container.name))?.name ??
    (containers.length === 1 ? (containers[0]!.name ?? null) : null)
  );
}

/** Whether a process in this container of this pod is part of the pod's task (not a sidecar). */
export function isTaskContainer(pod: PodObject, containerId: string | null): boolean {
  const containers = pod.spec?.containers ?? [];
  if (containers.length <= 1 || !containerId) return true;
  const status = pod.status?.containerStatuses?.find((entry) =>
    entry.containerID?.endsWith(`//${containerId}`),
  );
  if (!status?.name) return true;
  const main = containers.find((container) => container.name && TASK_CONTAINERS.includes(container.name));
  return main ? status.name === main.name : true;
}

/** Requests and limits of the task's container, in cores and bytes, for the `pod-spec` source. */
export interface PodResources {
  requestCpuCores: number | null;
  limitCpuCores: number | null;
  requestMemoryBytes: number | null;
  limitMemoryBytes: number | null;
}

function quantity(value: string | undefined): number | null {
  if (value === undefined) return null;
  const parsed = parseKubernetesQuantity(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : null;
}

export function podResources(pod: PodObject, containerId: string | null): PodResources | null {
  const name = taskContainerName(pod, containerId);
  const container = (pod.spec?.containers ?? []).find((entry) => entry.name === name);
  const resources = container?.resources;
  if (!resources) return null;
  const found: PodResources = {
    requestCpuCores: quantity(resources.requests?.cpu),
    limitCpuCores: quantity(resources.limits?.cpu),
    requestMemoryBytes: quantity(resources.requests?.memory),
    limitMemoryBytes: quantity(resources.limits?.memory),
  };
  return Object.values(found).some((value) => value !== null) ? found : null;
}

/**
 * Joins what the processes told with what the pod tells: the process's attribution wins (exact values);
 * the pod fills what it left unknown (run, try, map index, a Prefect flow known only by its run id).
 */
export function withPod(process: Attribution | null, pod: Attribution | null): Attribution | null {
  if (!process) return pod;
  if (!pod || pod.orchestrator !== process.orchestrator) return process;
  const unknownFlow =
    process.orchestrator === "prefect" && process.pipeline.startsWith("/") && !pod.pipeline.startsWith("/");
  if (!unknownFlow && (pod.pipeline !== process.pipeline || pod.task !== process.task)) return process;
  return {
    ...process,
    pipeline: unknownFlow ? pod.pipeline : process.pipeline,
    runId: process.runId ?? pod.runId,
    tryNumber: process.tryNumber ?? pod.tryNumber,
    mapIndex: process.mapIndex ?? pod.mapIndex,
  };
}
