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
import type { Finding, ScanResult } from "./findings.js";

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
 * CeleryKubernetesExecutor and LocalKubernetesExecutor send a task to the KubernetesExecutor only when its
 * queue is `[celery_kubernetes_executor] kubernetes_queue` (default `kubernetes`); every other task runs
 * on a Celery (or local) worker, where executor_config is never read (apache/airflow
 * airflow/executors/celery_kubernetes_executor.py, `_router`; providers/celery/…/celery_kubernetes_executor.py
 * since the executors moved to providers). The executor is the Helm chart's `executor` value, known here
 * from its worker-level findings.
 */
const KUBERNETES_QUEUE = "kubernetes";

function queueReason(
  finding: Finding,
  task: string,
  scan: ScanResult,
): { reason: string; where: string } | null {
  if (finding.orchestrator !== "airflow" || !kubernetesExecutorConfig.has(finding.pattern)) return null;
  const executors = new Set(
    scan.findings.flatMap((other) => (other.workers ? [other.workers.executor] : [])),
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
  if (template.variables.includes(finding.variable)) return null;
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

function explain(
  finding: Finding,
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
      const known = workPoolReason(finding, task, scan) ?? queueReason(finding, task, scan);
      if (!mismatch && !known) continue;
      const told = known ?? explain(finding, mismatch!, effective!, scan);
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
