/**
 * Requests that silently do not apply: every declared value a scan found, for every task it reaches that
 * has runs in the analysis, against what those runs really had (`effectiveRequest` of the analysis
 * document: analyzer/effective-requests.ts), with the reason when the repository tells it and where the
 * value the task really gets lives. Pure: a scan and a document in, findings out; `check` and `scan` show
 * them as warnings, `patch` leaves such values alone and says why.
 *
 * The reasons, each checked against its upstream source (docs/requests.md "Requests that do not apply"):
 * - Airflow `resources=`: only Airflow 2's CgroupTaskRunner reads it (apache/airflow
 *   airflow/task/task_runner/cgroup_task_runner.py, `start`: `ram` becomes the memory cgroup's
 *   limit_in_bytes and `cpus` × 1024 its cpu.shares — and nothing at all when the worker already runs in a
 *   cgroup of its own, as in any container); the default `[core] task_runner` StandardTaskRunner ignores
 *   it, and Airflow 3 runs tasks through the Task SDK's supervisor
 *   (task-sdk/src/airflow/sdk/execution_time/supervisor.py) with no task runner at all.
 * - `executor_config` (`pod_override`, `pod_template_file`, `KubernetesExecutor` keys): read only by the
 *   Kubernetes executor when it builds the task's pod (providers/cncf/kubernetes/…/pod_generator.py,
 *   `PodGenerator.construct_pod`); a run with no pod spec ran elsewhere, where nothing reads it.
 * - Prefect job variables: a deployment's `job_variables` only fill the `{{ placeholders }}` of its work
 *   pool's base job template (PrefectHQ/prefect src/prefect/workers/base.py,
 *   `BaseJobConfiguration.from_template_and_values`): a variable the template never names is dropped.
 * - The Airflow Helm chart's `workers.resources`: a Celery task runs inside the worker's container, so its
 *   limits cap every task there (the chart's values.yaml, `workers.resources`).
 * - The executor (sources/executor.ts): executor_config and pod templates size only pods the Kubernetes
 *   executor starts, so under an executor without it they reach no task; the KubernetesExecutor builds a
 *   task's pod from three pods alone — `[base_worker_pod (the pod template), dynamic_pod, pod_override]`,
 *   reconciled in that order (apache/airflow at 0b3d3e9,
 *   providers/cncf/kubernetes/src/airflow/providers/cncf/kubernetes/pod_generator.py:306
 *   `PodGenerator.construct_pod`, `pod_list` at line 393) — so `resources=` sizes nothing there.
 * - A pod template against a task's own pod: `reconcile_pods` (line 201) lets the later pod win,
 *   `reconcile_containers` (line 273) merges containers by position (containers[0] with containers[0],
 *   lines 291–298) and `merge_objects` keeps the template's attribute only where the override's is empty,
 *   so the override's `resources` replace the template's whole when they sit on its first container; and
 *   `PodGenerator.from_obj` (line 176) no longer reads the Airflow 1.10 `KubernetesExecutor` keys (it
 *   raises a TypeError, line 196, unless `pod_override` holds a V1Pod). A run that had
 *   the template's value anyway, or the override's over the template's, says which one won.
 */
import { taskKeyString } from "../common/task-key.js";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import {
  declaredAgainstEffective,
  describeAmount,
  type EffectiveResource,
  type NotApplied,
  sameValue,
} from "../analyzer/effective-requests.js";
import { escapeTextLine } from "../reports/escape.js";
import {
  deploymentExecutor,
  KUBERNETES_QUEUE,
  onlyKubernetesExecutor,
  readsExecutorConfig,
} from "./executor.js";
import type { Finding, PodTemplateValues, ScanResult } from "./findings.js";
import { tasksOnWorkers } from "./helm-values.js";

/** One declared value that does not reach one task. */
export interface NotAppliedDeclaration {
  finding: Finding;
  orchestrator: "airflow" | "prefect";
  pipeline: string;
  task: string;
  /** What the runs had that contradicts it; null when the repository alone tells (a work pool's template). */
  mismatch: NotApplied | null;
  /** Why, when it can be told; null otherwise. */
  reason: string | null;
  /** Where the value the task really gets is set. */
  where: string;
  /** One sentence: what is declared, what the runs had, why, and where the effective value lives. */
  message: string;
}

const airflowResources = new Set(["resources", "dag_factory_resources"]);
const kubernetesExecutorConfig = new Set([
  "pod_override",
  "kubernetes_executor",
  "pod_template",
  "dag_factory_pod_override",
  "dag_factory_kubernetes_executor",
]);

const RESOURCES_REASON =
  "Airflow applies resources= only through Airflow 2's CgroupTaskRunner ([core] task_runner) on a worker outside any container; the default runner ignores it and Airflow 3 has no task runners";
const EXECUTOR_CONFIG_REASON =
  "executor_config sizes only a pod the KubernetesExecutor starts, and these runs had no pod spec";

/**
 * Under CeleryKubernetesExecutor or LocalKubernetesExecutor only tasks on the kubernetes queue run in a pod
 * (sources/executor.ts `KUBERNETES_QUEUE`). The executor is the one the repository names, else the Helm
 * chart's that its worker-level findings carry.
 */

function queueReason(
  finding: Finding,
  task: string,
  scan: ScanResult,
): { reason: string; where: string } | null {
  if (finding.orchestrator !== "airflow" || !kubernetesExecutorConfig.has(finding.pattern)) return null;
  // The executor the repository names, else the one its Helm chart's workers run under.
  const deployed = deploymentExecutor(scan);
  const executors = new Set(
    deployed
      ? [deployed.executor]
      : scan.findings.flatMap((other) => (other.workers ? [other.workers.executor] : [])),
  );
  const [executor] = [...executors];
  if (executors.size !== 1 || !/^(Celery|Local)KubernetesExecutor$/.test(executor!)) return null;
  const site = scan.tasks.find(
    (candidate) =>
      candidate.orchestrator === "airflow" &&
      candidate.pipeline === finding.pipeline &&
      candidate.task === task,
  );
  if (!site || site.queue === null || site.queue === KUBERNETES_QUEUE) return null;
  const queue = site.queue === undefined ? "the default queue" : `queue ${JSON.stringify(site.queue)}`;
  const worker = executor!.startsWith("Celery") ? "a Celery worker" : "the scheduler's local executor";
  return {
    reason: `under ${executor} only tasks with queue="${KUBERNETES_QUEUE}" run in a pod the KubernetesExecutor starts; this task has ${queue}, so it runs on ${worker}, where executor_config is never read`,
    where: `the ${worker.replace(/^a |^the /, "")}'s own resources (its container, or the Helm chart's workers.resources)`,
  };
}

/**
 * What the repository's executor tells alone: executor_config and pod templates under an executor that
 * starts no pods, `resources=` under the KubernetesExecutor alone.
 */
function executorReason(finding: Finding, scan: ScanResult): { reason: string; where: string } | null {
  if (finding.orchestrator !== "airflow") return null;
  const deployed = deploymentExecutor(scan);
  if (!deployed) return null;
  if (kubernetesExecutorConfig.has(finding.pattern) && !readsExecutorConfig(deployed.executor)) {
    return {
      reason: `the executor is ${deployed.executor} (${deployed.where}), which starts no pods: executor_config and pod templates size only a pod the KubernetesExecutor starts`,
      where:
        "the worker the task runs on (its container or service limits, or the Helm chart's workers.resources)",
    };
  }
  if (airflowResources.has(finding.pattern) && onlyKubernetesExecutor(deployed.executor)) {
    return {
      reason: `the executor is KubernetesExecutor (${deployed.where}), which builds the task's pod from the pod template, its own pod and executor_config's pod_override alone (PodGenerator.construct_pod); resources= is not read`,
      where: "the pod template, or the task's executor_config pod_override",
    };
  }
  return null;
}

/**
 * The Helm chart's worker limit caps it: a task that runs on a Celery worker set (routed by its queue,
 * sources/helm-values.ts `tasksOnWorkers`) runs inside that set's worker container, whose limit the kernel
 * enforces on every process in it, so a declared value above the set's limit can never be what the task
 * gets — told from the repository alone. The chart renders each set's `resources` into its worker
 * container (chart/templates/workers/worker-deployment.yaml, `resources: {{- toYaml .Values.workers.resources }}`
 * with `.Values.workers` merged per set).
 */
function workerLimitReason(
  finding: Finding,
  task: string,
  analysis: TaskAnalysis,
  scan: ScanResult,
): { reason: string; where: string } | null {
  if (finding.orchestrator !== "airflow" || finding.value === null) return null;
  if (!airflowResources.has(finding.pattern) && !kubernetesExecutorConfig.has(finding.pattern)) return null;
  for (const limit of scan.findings) {
    if (
      limit.pattern !== "helm_workers" ||
      limit.kind !== "limit" ||
      limit.resource !== finding.resource ||
      limit.value === null ||
      !limit.workers ||
      !/Celery/.test(limit.workers.executor)
    )
      continue;
    if (finding.value <= limit.value || sameValue(finding.resource, finding.value, limit.value)) continue;
    if (tasksOnWorkers(limit, scan, [analysis]).length === 0) continue;
    const workers = limit.workers;
    const set = workers.set ? `worker set ${workers.set}` : "Celery workers";
    const queue = scan.tasks.find(
      (site) => site.orchestrator === "airflow" && site.pipeline === finding.pipeline && site.task === task,
    )?.queue;
    const routed =
      workers.queues && workers.set
        ? ` (queue ${JSON.stringify(queue ?? workers.defaultQueue ?? "default")})`
        : "";
    return {
      reason: `the task runs on the Helm chart's ${set}${routed}, whose worker container's ${finding.resource} limit ${describeAmount(finding.resource, limit.value)} (${limit.file}:${limit.line}) caps every task in it`,
      where: `${limit.file}:${limit.line} (${workers.resourcesAt ?? "workers.resources"}.limits.${finding.resource})`,
    };
  }
  return null;
}

function workPoolReason(
  finding: Finding,
  task: string,
  scan: ScanResult,
): { reason: string; where: string } | null {
  if (finding.orchestrator !== "prefect" || !finding.variable) return null;
  if (finding.pattern !== "prefect_yaml" && finding.pattern !== "prefect_deploy") return null;
  const site = scan.tasks.find(
    (candidate) =>
      candidate.orchestrator === "prefect" &&
      candidate.pipeline === finding.pipeline &&
      candidate.task === task,
  );
  const pool = site?.workPool?.name;
  const templates = (scan.workPools ?? []).filter((template) => template.pool === pool);
  // Two templates for one pool: which one the pool has cannot be told.
  if (templates.length !== 1) return null;
  const template = templates[0]!;
  if (template.variables.includes(finding.variable)) {
    // Named somewhere (an environment variable, a label) but not where the job is sized, while the
    // template sizes that resource itself: the value fills the other field and sizes nothing.
    const places = (template.sizing ?? []).filter(
      (place) => place.resource === finding.resource && place.kind === finding.kind,
    );
    if (places.length === 0 || places.some((place) => place.variable === finding.variable)) return null;
    const place = places[0]!;
    const sizedBy = place.variable === null ? "a value of its own" : `{{ ${place.variable} }}`;
    return {
      reason: `the base job template of work pool ${template.pool} sizes the job's ${finding.resource} ${finding.kind} with ${sizedBy} (${template.file}:${place.line}) and places {{ ${finding.variable} }} only elsewhere, so the job variable ${finding.variable} sizes nothing`,
      where: `the work pool ${template.pool}'s base job template (${template.file}:${place.line})`,
    };
  }
  return {
    reason: `the base job template of work pool ${template.pool} (${template.file}:${template.line}) has no {{ ${finding.variable} }} placeholder, so the job variable ${finding.variable} is dropped`,
    where: `the work pool ${template.pool}'s base job template (${template.file}:${template.line})`,
  };
}

/** A Helm chart worker limit the runs' limit equals: the worker's container caps the task. */
function workerCap(finding: Finding, effective: EffectiveResource, scan: ScanResult): Finding | undefined {
  if (finding.orchestrator !== "airflow" || effective.source !== "cgroup" || effective.limit === null) return;
  return scan.findings.find(
    (other) =>
      other.pattern === "helm_workers" &&
      other.kind === "limit" &&
      other.resource === finding.resource &&
      other.value !== null &&
      sameValue(other.resource, other.value, effective.limit!),
  );
}

/** Patterns through which a task sizes its own KubernetesExecutor pod, over the pod template. */
const ownPodOverride = new Set([
  "pod_override",
  "kubernetes_executor",
  "dag_factory_pod_override",
  "dag_factory_kubernetes_executor",
]);
const legacyKeys = new Set(["kubernetes_executor", "dag_factory_kubernetes_executor"]);

const LEGACY_KEYS_REASON =
  "the cncf.kubernetes provider no longer reads executor_config's Airflow 1.10 KubernetesExecutor keys (PodGenerator.from_obj takes only a pod_override V1Pod)";
const POSITION_REASON =
  "Airflow merges a pod_override over the template container by container, by position (PodGenerator.reconcile_containers), so resources that are not on the override's first container leave the template's in place";

/** The pod template a task's pod starts from: its own `pod_template_file`, else the executor's default. */
function templateOf(scan: ScanResult, pipeline: string, task: string): PodTemplateValues | undefined {
  const templates = scan.podTemplateValues ?? [];
  const own = templates.find(
    (template) => template.task?.pipeline === pipeline && template.task.task === task,
  );
  if (own) return own;
  const defaults = templates.filter((template) => template.task === null);
  return defaults.length === 1 ? defaults[0] : undefined;
}

/**
 * A pod template against the task's own pod, told by what the runs' pod spec had: the template's value
 * although the task overrides it, or (the reverse) the task's own executor_config over a template value.
 */
function podTemplateReason(
  finding: Finding,
  task: string,
  mismatch: NotApplied,
  scan: ScanResult,
): { reason: string; where: string } | null {
  if (finding.orchestrator !== "airflow" || mismatch.source !== "pod-spec") return null;
  if (ownPodOverride.has(finding.pattern)) {
    const template = templateOf(scan, finding.pipeline, task);
    const shadowing = template?.values.find(
      (value) =>
        mismatch.effective !== null &&
        value.resource === finding.resource &&
        value.kind === mismatch.effectiveKind &&
        sameValue(value.resource, value.value, mismatch.effective),
    );
    if (template && shadowing) {
      return {
        reason: `the pod template ${template.file}:${shadowing.line} gives the base container that ${shadowing.kind}, and the runs had it: the task's own value did not replace it (${legacyKeys.has(finding.pattern) ? LEGACY_KEYS_REASON : POSITION_REASON})`,
        where: `${template.file}:${shadowing.line} (the pod template)`,
      };
    }
    if (legacyKeys.has(finding.pattern)) {
      return {
        reason: LEGACY_KEYS_REASON,
        where: "the pod spec the task ran with (the executor's pod template)",
      };
    }
    return null;
  }
  if (finding.pattern !== "pod_template") return null;
  const site = scan.tasks.find(
    (candidate) =>
      candidate.orchestrator === "airflow" &&
      candidate.pipeline === finding.pipeline &&
      candidate.task === task,
  );
  if (!site?.keywords.executor_config) return null;
  return {
    reason: `the task passes its own executor_config (${site.file}:${site.line}), which the KubernetesExecutor reconciles over the template last (PodGenerator.construct_pod: the pod template, then the executor's pod, then pod_override)`,
    where: `${site.file}:${site.line} (the task's executor_config)`,
  };
}

function explain(
  finding: Finding,
  task: string,
  mismatch: NotApplied,
  effective: EffectiveResource,
  scan: ScanResult,
): { reason: string | null; where: string } {
  const cap = workerCap(finding, effective, scan);
  if (cap) {
    return {
      reason: `the Helm chart's workers.resources limit (${cap.file}:${cap.line}) caps the Celery worker's container the task runs in`,
      where: `${cap.file}:${cap.line} (workers.resources)`,
    };
  }
  const template = podTemplateReason(finding, task, mismatch, scan);
  if (template) return template;
  const where =
    mismatch.source === "cgroup"
      ? "the cgroup the task ran in (its worker's container or service limits)"
      : finding.orchestrator === "prefect"
        ? "the pod spec the task ran with (the work pool's base job template)"
        : "the pod spec the task ran with (the executor's pod template or defaults)";
  if (airflowResources.has(finding.pattern)) return { reason: RESOURCES_REASON, where };
  if (kubernetesExecutorConfig.has(finding.pattern) && mismatch.source === "cgroup") {
    return { reason: EXECUTOR_CONFIG_REASON, where };
  }
  return { reason: null, where };
}

function messageOf(finding: Finding, observed: string | null, reason: string | null, where: string): string {
  const name = finding.resource === "cpu" ? "CPU" : "memory";
  const declared = `${name} ${finding.kind} ${describeAmount(finding.resource, finding.value!)}`;
  const parts = [`${declared} does not apply`];
  if (observed) parts.push(`: ${observed}`);
  if (reason) parts.push(`${observed ? "; " : ": "}${reason}`);
  parts.push(`. The effective value is set in ${where}`);
  return parts.join("");
}

/**
 * Every declared value (literal, per task, not a worker's own) that does not reach a task with runs in
 * `document`, in the scan's order.
 */
export function notAppliedDeclarations(
  scan: ScanResult,
  document: AnalysisDocument,
): NotAppliedDeclaration[] {
  const analyses = new Map<string, TaskAnalysis>();
  for (const task of document.tasks) analyses.set(taskKeyString(task), task);
  const found: NotAppliedDeclaration[] = [];
  for (const finding of scan.findings) {
    if (finding.dynamic || finding.value === null || finding.via === "worker") continue;
    for (const task of finding.tasks) {
      const base = { orchestrator: finding.orchestrator, pipeline: finding.pipeline, task };
      const analysis = analyses.get(taskKeyString(base));
      if (!analysis || analysis.runs === 0) continue;
      const effective = analysis.effectiveRequest?.[finding.resource] ?? null;
      const mismatch = declaredAgainstEffective(
        { resource: finding.resource, kind: finding.kind, value: finding.value },
        effective,
      );
      const capped = workerLimitReason(finding, task, analysis, scan);
      const other =
        workPoolReason(finding, task, scan) ??
        queueReason(finding, task, scan) ??
        executorReason(finding, scan);
      // Both: the value reaches no pod, and the worker it runs on could not hold it anyway.
      const known =
        capped && other
          ? { reason: `${other.reason}; and ${capped.reason}`, where: capped.where }
          : (capped ?? other);
      if (!mismatch && !known) continue;
      const told = known ?? explain(finding, task, mismatch!, effective!, scan);
      found.push({
        finding,
        ...base,
        mismatch,
        reason: told.reason,
        where: told.where,
        message: messageOf(finding, mismatch?.observed ?? null, told.reason, told.where),
      });
    }
  }
  return found;
}

/**
 * The scan `patch` plans from: each declared value without the tasks it does not reach (a value no task
 * gets is dropped), so no patch "fixes" a value that changes nothing; and one note per such value and
 * task, saying where the effective one lives.
 */
export function withoutNotApplied(
  scan: ScanResult,
  declarations: readonly NotAppliedDeclaration[],
): { scan: ScanResult; notes: string[] } {
  const skipped = new Map<Finding, Set<string>>();
  for (const declaration of declarations) {
    skipped.set(declaration.finding, (skipped.get(declaration.finding) ?? new Set()).add(declaration.task));
  }
  const findings = scan.findings.flatMap((finding) => {
    const tasks = skipped.get(finding);
    if (!tasks) return [finding];
    const left = finding.tasks.filter((task) => !tasks.has(task));
    return left.length > 0 ? [{ ...finding, tasks: left }] : [];
  });
  const notes = declarations.map((declaration) =>
    escapeTextLine(
      `${declaration.finding.file}:${declaration.finding.line} ${declaration.pipeline}/${declaration.task}: left as it is, ${declaration.message}`,
    ),
  );
  return { scan: { ...scan, findings }, notes };
}
