/**
 * The Airflow Helm chart's values (`values.yaml` and its overrides): `workers.resources` is a
 * worker-level request — the Celery worker's container, which runs up to `worker_concurrency` tasks at
 * once — reported as such (no tasks of its own), and recommended from the tasks that run on those
 * workers. Pure functions.
 *
 * Upstream (apache/airflow chart/values.yaml at 001394a): `executor: "CeleryExecutor"` (one of Local,
 * LocalKubernetes, Celery, Kubernetes, CeleryKubernetes), `workers.resources: {}` with
 * `limits`/`requests` of `cpu`/`memory`, `config.celery.worker_concurrency: 16`, and "The default
 * `podTemplate` will use normal `workers` configuration parameters (e.g. `workers.resources`)" — so
 * under the KubernetesExecutor the same value sizes every task's pod.
 *
 * Worker sets (apache/airflow main after chart 1.18, read at capyai-agent-test2/airflow 5711eb3, a fork:
 * the index's apache/airflow copy predates them): chart/values.yaml `workers.celery.enableDefault`,
 * `workers.celery.queue`, `workers.celery.sets`, `workers.celery.resources`; each set rendered by
 * chart/templates/workers/worker-deployment.yaml; chart/docs/customizing-workers.rst.
 */
import { isMap, isScalar, isSeq } from "yaml";
import type { TaskAnalysis } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import { resourceRequirementKeys, resourceRequirementKinds } from "./declaration-patterns.js";
import {
  emptyScanResult,
  type ExecutorSetting,
  type Finding,
  type ScanResult,
  type WorkerPool,
} from "./findings.js";
import { KUBERNETES_QUEUE } from "./executor.js";
import { EXECUTOR_VARIABLE } from "./pod-template.js";
import { parseDeclared } from "./quantities.js";
import { type ParsedYaml, parseYamlFile, yamlAt, yamlScalarValue } from "./yaml-scalars.js";

/** `values.yaml`, `values-prod.yaml`, `prod-values.yml`, `airflow.values.yaml`: how Helm values files are named. */
export function isHelmValuesName(name: string): boolean {
  return /^(?:.+[-_.])?values(?:[-_.].+)?\.ya?ml$/.test(name);
}

/** The chart's default executor and Celery concurrency (chart/values.yaml, above). */
const chartDefaultExecutor = "CeleryExecutor";
const chartDefaultConcurrency = 16;

/** A `{name, value}` entry of an env list (`env`, `workers.env`) whose value is a plain scalar. */
function envEntry(
  { document, lineCounter }: ParsedYaml,
  path: Array<string | number>,
  name: string,
): { value: string; line: number } | null {
  const list = yamlAt(document, document.contents, path);
  if (!isSeq(list)) return null;
  // Kubernetes takes the last of two entries of one name.
  for (const item of [...list.items].reverse()) {
    const key = yamlAt(document, item, ["name"]);
    const value = yamlAt(document, item, ["value"]);
    if (!isScalar(key) || key.value !== name || !isScalar(value) || value.value === null) continue;
    const text = String(value.value).trim();
    if (text === "" || text.includes("{{")) return null;
    return { value: text, line: lineCounter.linePos(value.range?.[0] ?? 0).line };
  }
  return null;
}

/**
 * The executor Airflow runs under this chart: an `AIRFLOW__CORE__EXECUTOR` entry of `env` (given to every
 * Airflow container, the scheduler's too: chart/templates/_helpers.yaml `custom_airflow_environment`)
 * wins over the `[core] executor` the chart writes from `executor` (chart/values.yaml `config.core.executor:
 * '{{ .Values.executor }}'`), as an environment variable wins over airflow.cfg (apache/airflow
 * docs/apache-airflow/howto/set-config.rst, "The universal order of precedence"). Null when neither is set.
 */
export function helmExecutor(parsed: ParsedYaml, file: string): ExecutorSetting | null {
  const fromEnv = envEntry(parsed, ["env"], EXECUTOR_VARIABLE);
  if (fromEnv) return { file, line: fromEnv.line, executor: fromEnv.value, from: "helm" };
  const node = yamlAt(parsed.document, parsed.document.contents, ["executor"]);
  if (!isScalar(node) || typeof node.value !== "string" || node.value.trim() === "") return null;
  if (node.value.includes("{{")) return null;
  return {
    file,
    line: parsed.lineCounter.linePos(node.range?.[0] ?? 0).line,
    executor: node.value.trim(),
    from: "helm",
  };
}

/**
 * `worker_concurrency` through the worker's environment: the worker container gets `env`, then
 * `workers.env` (chart/templates/workers/worker-deployment.yaml at 001394a: `custom_airflow_environment`,
 * then `container_extra_envs (list . .Values.workers.env)`), and Kubernetes takes the last entry of a
 * name; either wins over `config.celery.worker_concurrency` in airflow.cfg.
 */
const CONCURRENCY_VARIABLE = "AIRFLOW__CELERY__WORKER_CONCURRENCY";

/**
 * One Celery worker set of the chart: the default workers (`workers`, `workers.celery`) and each entry of
 * `workers.celery.sets`, each rendered as a worker Deployment (or StatefulSet) of its own
 * (chart/templates/workers/worker-deployment.yaml in the chart that has sets: `range $workerSet :=
 * $workerSets`, the default set first when `workers.celery.enableDefault`). Values are merged by
 * `workersMergeValues` (chart/templates/_helpers.yaml): `workers`, then `workers.celery` with its unset
 * (`~`, empty-map) fields removed, then the set; `resources` is in its `$fullOverwrite` list, so a
 * `resources` given at a later level replaces the earlier one whole, and a non-empty list (`env`)
 * replaces the parent's list (chart/docs/customizing-workers.rst, "Different volumes for Celery worker
 * sets").
 */
interface WorkerSet {
  /** `default`, or the set's `name`. */
  name: string;
  /** The Celery queues its workers consume: `queue` split at commas (the KEDA query splits it so). */
  queues: string[];
  /** The values path of the `resources` block that sizes its worker container; null when none is given. */
  resources: Array<string | number> | null;
  /** The env lists its worker container gets, the winning one last. */
  envPaths: Array<Array<string | number>>;
}

const pathText = (path: Array<string | number>) =>
  path
    .map((step, index) => (typeof step === "number" ? `[${step}]` : index === 0 ? step : `.${step}`))
    .join("");

function nonEmptyMap(parsed: ParsedYaml, path: Array<string | number>): boolean {
  const node = yamlAt(parsed.document, parsed.document.contents, path);
  return isMap(node) && node.items.length > 0;
}

function nonEmptySeq(parsed: ParsedYaml, path: Array<string | number>): boolean {
  const node = yamlAt(parsed.document, parsed.document.contents, path);
  return isSeq(node) && node.items.length > 0;
}

function stringAt(parsed: ParsedYaml, path: Array<string | number>): string | null {
  const node = yamlAt(parsed.document, parsed.document.contents, path);
  if (!isScalar(node) || node.value === null || node.value === undefined) return null;
  const text = String(node.value).trim();
  return text === "" || text.includes("{{") ? null : text;
}

/** The chart's worker sets, the default set first; a chart without `workers.celery.sets` has the default only. */
function workerSets(parsed: ParsedYaml): { sets: WorkerSet[]; declared: boolean } {
  const { document } = parsed;
  // Airflow's `[operators] default_queue` (default "default") is the queue of a task without its own.
  const defaultQueue = stringAt(parsed, ["config", "operators", "default_queue"]) ?? "default";
  // The chart's worker args run `airflow celery worker -q QUEUE` unless the queue is "default"
  // (chart/values.yaml `workers.args`), so the default workers consume `workers.celery.queue`.
  const celeryQueue = stringAt(parsed, ["workers", "celery", "queue"]) ?? "default";
  const queuesOf = (queue: string) =>
    queue === "default"
      ? [defaultQueue]
      : queue
          .split(",")
          .map((part) => part.trim())
          .filter(Boolean);
  const parentResources = nonEmptyMap(parsed, ["workers", "celery", "resources"])
    ? ["workers", "celery", "resources"]
    : isMap(yamlAt(document, document.contents, ["workers", "resources"]))
      ? ["workers", "resources"]
      : null;
  const parentEnv = nonEmptySeq(parsed, ["workers", "celery", "env"])
    ? ["workers", "celery", "env"]
    : ["workers", "env"];
  const listed = yamlAt(document, document.contents, ["workers", "celery", "sets"]);
  const declared = isSeq(listed) && listed.items.length > 0;
  const enableDefault = yamlAt(document, document.contents, ["workers", "celery", "enableDefault"]);
  const sets: WorkerSet[] = [];
  if (!declared || !isScalar(enableDefault) || enableDefault.value !== false) {
    sets.push({
      name: "default",
      queues: queuesOf(celeryQueue),
      resources: parentResources,
      envPaths: [["env"], parentEnv],
    });
  }
  if (isSeq(listed)) {
    listed.items.forEach((_, index) => {
      const at = ["workers", "celery", "sets", index];
      const name = stringAt(parsed, [...at, "name"]) ?? `#${index + 1}`;
      const own = yamlAt(document, document.contents, [...at, "resources"]);
      sets.push({
        name,
        queues: queuesOf(stringAt(parsed, [...at, "queue"]) ?? celeryQueue),
        resources: isMap(own) ? [...at, "resources"] : parentResources,
        envPaths: [["env"], nonEmptySeq(parsed, [...at, "env"]) ? [...at, "env"] : parentEnv],
      });
    });
  }
  return { sets, declared };
}

/** How many tasks one Celery worker of `set` runs at once, and where that is written. */
function celerySlots(parsed: ParsedYaml, file: string, set: WorkerSet): { slots: number; slotsFrom: string } {
  const { document, lineCounter } = parsed;
  for (const path of [...set.envPaths].reverse()) {
    const entry = envEntry(parsed, path, CONCURRENCY_VARIABLE);
    const slots = entry ? Number(entry.value) : Number.NaN;
    if (entry && Number.isInteger(slots) && slots > 0) {
      return { slots, slotsFrom: `${file}:${entry.line} (${pathText(path)} ${CONCURRENCY_VARIABLE})` };
    }
  }
  for (const path of [
    ["workers", "celery", "worker_concurrency"],
    ["config", "celery", "worker_concurrency"],
  ]) {
    const node = yamlAt(document, document.contents, path);
    if (!isScalar(node)) continue;
    const slots = Number(node.value);
    if (Number.isInteger(slots) && slots > 0) {
      return {
        slots,
        slotsFrom: `${file}:${lineCounter.linePos(node.range?.[0] ?? 0).line} (${path.join(".")})`,
      };
    }
  }
  return {
    slots: chartDefaultConcurrency,
    slotsFrom: "the chart's default config.celery.worker_concurrency",
  };
}

/** Which workers each `resources` block sizes under the file's executor; empty when no worker runs tasks. */
function workerPools(
  parsed: ParsedYaml,
  file: string,
): Array<{ pool: WorkerPool; resources: Array<string | number> }> {
  const executor = helmExecutor(parsed, file)?.executor ?? chartDefaultExecutor;
  // Airflow 2.10+ takes a comma-separated list of executors; any Celery one runs Celery workers.
  if (/Celery/.test(executor)) {
    const { sets, declared } = workerSets(parsed);
    return sets.flatMap((set) =>
      set.resources
        ? [
            {
              resources: set.resources,
              pool: {
                executor,
                ...celerySlots(parsed, file, set),
                ...(declared ? { set: set.name } : {}),
                queues: set.queues,
                defaultQueue: stringAt(parsed, ["config", "operators", "default_queue"]) ?? "default",
                resourcesAt: pathText(set.resources),
              },
            },
          ]
        : [],
    );
  }
  const { document } = parsed;
  if (/Kubernetes/.test(executor) && isMap(yamlAt(document, document.contents, ["workers", "resources"]))) {
    return [
      {
        resources: ["workers", "resources"],
        pool: {
          executor,
          slots: 1,
          slotsFrom: "one task per KubernetesExecutor pod",
          resourcesAt: "workers.resources",
        },
      },
    ];
  }
  return [];
}

/** The values of one `resources` block, as worker-level findings. */
function resourceFindings(
  file: string,
  text: string,
  parsed: ParsedYaml,
  resources: unknown,
  workers: WorkerPool | null,
): Finding[] {
  const { document, lineCounter } = parsed;
  const found: Finding[] = [];
  for (const [key, kind] of Object.entries(resourceRequirementKinds)) {
    for (const [resourceKey, meaning] of Object.entries(resourceRequirementKeys)) {
      const value = yamlScalarValue(text, yamlAt(document, resources, [key, resourceKey]), lineCounter);
      if (!value) continue;
      const number = value.literal ? parseDeclared(meaning.unit, value.literal) : Number.NaN;
      const dynamic = value.literal === null || !Number.isFinite(number);
      found.push({
        file,
        line: value.line,
        column: value.column,
        start: value.start,
        end: value.end,
        raw: value.raw,
        literal: dynamic ? null : value.literal,
        unit: meaning.unit,
        value: dynamic ? null : number,
        dynamic,
        resource: meaning.resource,
        kind,
        pattern: "helm_workers",
        orchestrator: "airflow",
        // Every DAG whose tasks the workers run; the value belongs to no task of its own.
        pipeline: "*",
        tasks: [],
        via: "worker",
        ...(workers ? { workers } : {}),
      });
    }
  }
  return found;
}

/**
 * Scans one Helm values file for the workers' `resources`: `workers.resources`, `workers.celery.resources`
 * and each `workers.celery.sets[].resources`, one finding per value and worker set it sizes (a block the
 * default workers and the sets without their own share is found once per set). Files without them (other
 * charts) yield nothing.
 */
export function scanHelmValues(file: string, text: string): ScanResult {
  const result = emptyScanResult();
  result.files.push(file);
  const parsed = parseYamlFile(file, text);
  if ("message" in parsed) {
    result.problems.push(parsed);
    return result;
  }
  const { document, lineCounter } = parsed;
  const executor = helmExecutor(parsed, file);
  if (executor) result.executors = [executor];
  const at = (path: Array<string | number>) => yamlAt(document, document.contents, path);
  const lineOf = (node: unknown) =>
    isScalar(node) || isMap(node) || isSeq(node) ? lineCounter.linePos(node.range?.[0] ?? 0).line : 1;
  const places: Array<Array<string | number>> = [
    ["workers", "resources"],
    ["workers", "celery", "resources"],
  ];
  const sets = at(["workers", "celery", "sets"]);
  if (isSeq(sets)) {
    sets.items.forEach((_, index) => places.push(["workers", "celery", "sets", index, "resources"]));
  }
  const written = places.filter((path) => resourceFindings(file, text, parsed, at(path), null).length > 0);
  if (written.length === 0) return result;
  const pools = workerPools(parsed, file);
  if (pools.length === 0) {
    result.problems.push({
      file,
      line: lineOf(at(["executor"])),
      message: "workers.resources is not used: the executor runs no worker pods; not read",
    });
    return result;
  }
  for (const { pool, resources } of pools) {
    result.findings.push(...resourceFindings(file, text, parsed, at(resources), pool));
  }
  // A block no worker set takes: `workers.resources` under a non-empty `workers.celery.resources`, or the
  // default workers' own when `enableDefault: false` and every set has its own.
  const used = new Set(pools.map(({ pool }) => pool.resourcesAt));
  for (const path of written) {
    if (used.has(pathText(path))) continue;
    // The line of the `resources:` key itself.
    const key = (() => {
      const parent = at(path.slice(0, -1));
      if (!isMap(parent)) return undefined;
      return parent.items.find((pair) => isScalar(pair.key) && pair.key.value === path.at(-1))?.key;
    })();
    result.problems.push({
      file,
      line: key ? lineOf(key) : lineOf(at(path)),
      message: `${pathText(path)} sizes no worker set (workers.celery.resources or each set's own resources replace it whole); not read`,
    });
  }
  return result;
}

/** How check and patch name the workers a value sizes: `workers (CeleryExecutor)`, `workers highmem (CeleryExecutor)`. */
export function workersLabel(workers: WorkerPool): string {
  return `workers${workers.set ? ` ${workers.set}` : ""} (${workers.executor})`;
}

/** What a worker-level request should hold, and why. */
export interface WorkerTarget {
  cpuCores: number;
  memoryBytes: number;
  /** The sum of the same heaviest slots' observed peaks (`memory.peakBytes.max`): what they used at once. */
  peakMemoryBytes: number;
  /** The tasks it was computed from (keys `dag/task`), heaviest first. */
  tasks: string[];
  /** One sentence for the patch notes. */
  reason: string;
}

/** Patterns through which a task sizes the pod it runs in (or, for KubernetesPodOperator, the pod it starts). */
const ownPodPatterns = new Set([
  "pod_override",
  "kubernetes_executor",
  "container_resources",
  "pod_template",
]);

/**
 * The tasks that run on the workers `finding` sizes: the repository's Airflow tasks with a
 * recommendation on a queue those workers consume (a Celery worker set's), except KubernetesPodOperator tasks (their work runs in the pod they start), tasks on
 * the kubernetes queue under CeleryKubernetesExecutor and, for task pods, tasks that size their own pod.
 */
export function tasksOnWorkers(
  finding: Finding,
  scan: ScanResult,
  recommendations: Iterable<TaskAnalysis>,
): TaskAnalysis[] {
  const workers = finding.workers;
  if (!workers) return [];
  const excluded = new Set(
    scan.findings
      .filter(
        (other) =>
          other.orchestrator === "airflow" &&
          (other.pattern === "container_resources" ||
            other.pattern === "dag_factory_container_resources" ||
            (workers.slots === 1 && ownPodPatterns.has(other.pattern))),
      )
      .flatMap((other) =>
        other.tasks.map((task) =>
          taskKeyString({ orchestrator: other.orchestrator, pipeline: other.pipeline, task }),
        ),
      ),
  );
  // Tasks on the kubernetes queue run in pods of their own (the chart's KEDA query counts them out too:
  // chart/values.yaml `workers.keda.query`, `queue != kubernetes_queue`).
  if (/CeleryKubernetesExecutor/.test(workers.executor)) {
    for (const site of scan.tasks) {
      if (site.orchestrator === "airflow" && site.queue === KUBERNETES_QUEUE)
        excluded.add(taskKeyString(site));
    }
  }
  // A Celery worker set runs the tasks of the queues it consumes (the chart's `-q` worker argument); a
  // task without a queue of its own, or with one computed at run time, is counted on the default queue.
  const found = new Set(
    scan.tasks
      .filter(
        (site) =>
          site.orchestrator === "airflow" &&
          (!workers.queues || workers.queues.includes(site.queue ?? workers.defaultQueue ?? "default")),
      )
      .map(taskKeyString),
  );
  return [...recommendations].filter((analysis) => {
    const key = taskKeyString(analysis);
    return analysis.orchestrator === "airflow" && found.has(key) && !excluded.has(key);
  });
}

/** The sum of the `slots` largest values: what the heaviest tasks that can meet on one worker add up to. */
function heaviestSum(tasks: TaskAnalysis[], slots: number, pick: (analysis: TaskAnalysis) => number): number {
  return tasks
    .map(pick)
    .sort((a, b) => b - a)
    .slice(0, slots)
    .reduce((total, value) => total + value, 0);
}

/**
 * The request a worker needs: a worker runs `slots` tasks at once, each in its own slot (Celery's
 * worker_concurrency; one task per KubernetesExecutor pod), so it must hold the heaviest `slots` tasks
 * that can meet there — the sum of the `slots` largest recommendations, per resource, over
 * {@link tasksOnWorkers}. Null without such tasks.
 */
export function workerTarget(
  finding: Finding,
  scan: ScanResult,
  recommendations: Iterable<TaskAnalysis>,
): WorkerTarget | null {
  const workers = finding.workers;
  if (!workers) return null;
  const tasks = tasksOnWorkers(finding, scan, recommendations);
  if (tasks.length === 0) return null;
  const ordered = [...tasks].sort((a, b) => b.recommendation.memoryBytes - a.recommendation.memoryBytes);
  const slots =
    workers.slots === 1 ? "one task per pod" : `${workers.slots} tasks at once (${workers.slotsFrom})`;
  return {
    cpuCores: heaviestSum(tasks, workers.slots, (analysis) => analysis.recommendation.cpuCores),
    memoryBytes: heaviestSum(tasks, workers.slots, (analysis) => analysis.recommendation.memoryBytes),
    peakMemoryBytes: heaviestSum(tasks, workers.slots, (analysis) => analysis.memory.peakBytes.max),
    tasks: ordered.map((analysis) => `${analysis.pipeline}/${analysis.task}`),
    reason: `${workers.resourcesAt ?? "workers.resources"} at ${finding.file} sizes ${workers.executor} workers${workers.set ? ` of worker set ${workers.set} (queues ${workers.queues!.join(", ")})` : ""} running ${slots}: the sum of the ${Math.min(workers.slots, tasks.length)} largest recommendations among the ${tasks.length} task(s) that run there`,
  };
}
