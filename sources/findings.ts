/** What the DAG and flow scanners report: declared requests with their exact place in the source. */
import type { Literal, QuantityUnit } from "./quantities.js";

export type Resource = "cpu" | "memory";
export type RequestKind = "request" | "limit";

/** Which declaration form a finding came from. */
export type Pattern =
  | "resources"
  | "pod_override"
  | "container_resources"
  | "kubernetes_executor"
  | "prefect_yaml"
  | "prefect_deploy"
  // Kubernetes pod template files (sources/pod-template.ts) and the Helm chart's workers (sources/helm-values.ts)
  | "pod_template"
  | "helm_workers"
  // dag-factory YAML DAG definitions (sources/dag-factory.ts): the Python patterns, spelled in YAML
  | "dag_factory_resources"
  | "dag_factory_pod_override"
  | "dag_factory_container_resources"
  | "dag_factory_kubernetes_executor"
  // a Prefect work pool's base job template (sources/work-pool-template.ts)
  | "work_pool_template";

/** The task keyword argument a Python pattern lives in, i.e. what a per-task override sets. */
export type TaskKeyword = "resources" | "executor_config" | "container_resources";

/** One declared value in one place, and every task that gets it. */
export interface Finding {
  /** Path relative to the repository, with `/` separators. */
  file: string;
  /** 1-based line and column of the value. */
  line: number;
  column: number;
  /**
   * Offsets (JavaScript string indexes into the file's text) of the part a patch replaces: the whole
   * number, or the text between a string's quotes.
   */
  start: number;
  end: number;
  /** The literal as written (with quotes for strings), or the expression when dynamic. */
  raw: string;
  /** Null when dynamic. */
  literal: Literal | null;
  unit: QuantityUnit;
  /** Cores or bytes; null when dynamic. */
  value: number | null;
  /** A call, f-string, Jinja template or unresolvable name: reported, never patched. */
  dynamic: boolean;
  resource: Resource;
  kind: RequestKind;
  pattern: Pattern;
  orchestrator: "airflow" | "prefect";
  pipeline: string;
  /** Task ids that get this value, sorted. */
  tasks: string[];
  /**
   * How the value reaches its tasks: written on the task, through default_args, a module variable, the
   * executor's default pod template (`[kubernetes_executor] pod_template_file`), a worker's own request
   * (`worker`: the Helm chart's `workers.resources`; such a finding lists no tasks), or a work pool's
   * default that deployments inherit.
   */
  via: "task" | "default_args" | "variable" | "executor_default" | "worker" | "work_pool";
  /** Prefect only: the job variable's name (`cpu`, `memory`, or a configured one). */
  variable?: string;
  /**
   * Work-pool templates: the pool whose default this is, settled into one finding per deployment that
   * inherits it once every file is scanned (sources/work-pool-template.ts).
   */
  workPool?: string;
  /** Prefect `from_source(entrypoint=…).deploy(name=…)`: settled against every file's flows after the scan. */
  deployedFrom?: DeployedFrom;
  /** Worker-level findings (`via: "worker"`) only: the workers the value sizes (sources/helm-values.ts). */
  workers?: WorkerPool;
  /** How the value's file was found when that was a guess worth checking (a pod template matched by name). */
  note?: string;
}

/** The workers a worker-level request sizes, and how many tasks each runs at once. */
export interface WorkerPool {
  /** The executor the values file names (the chart's default: CeleryExecutor). */
  executor: string;
  /** Tasks one worker runs at once: Celery's worker_concurrency; 1 for a KubernetesExecutor task pod. */
  slots: number;
  /** Where `slots` comes from: a `file:line`, or the default it falls back to. */
  slotsFrom: string;
  /**
   * The chart's Celery worker set (`default`, or a `workers.celery.sets[].name`), when the values file
   * declares sets (sources/helm-values.ts).
   */
  set?: string;
  /** The Celery queues these workers consume; absent: every task's (the KubernetesExecutor's pods). */
  queues?: string[];
  /** The queue of a task without its own (`[operators] default_queue`). */
  defaultQueue?: string;
  /** The values path of the `resources` block the value is in (`workers.celery.sets[1].resources`). */
  resourcesAt?: string;
}

/**
 * A pod template file named for a task (`executor_config={"pod_template_file": …}`) or as the executor's
 * default (`[kubernetes_executor] pod_template_file`); read after every file is scanned
 * (sources/pod-template.ts).
 */
export interface PodTemplateReference {
  /** Where the path is written. */
  file: string;
  line: number;
  /** The path as written; when `tail` is set, only its known end (`os.path.join(AIRFLOW_HOME, "x.yaml")`). */
  path: string;
  tail: boolean;
  /** The task it is named for; null for the executor's default. */
  task: { pipeline: string; task: string; via: "task" | "default_args" } | null;
  /** A default set by an environment variable (`.env`, docker-compose), which wins over airflow.cfg. */
  fromEnvironment?: boolean;
}

/**
 * The values of a pod template the scan read, and whom it is named for (its task, or null for the
 * executor's default): kept even for tasks whose own pod_override replaces them, so that a run that had
 * the template's value anyway can be told (sources/effective.ts).
 */
export interface PodTemplateValues {
  file: string;
  task: PodTemplateReference["task"];
  values: Array<{ resource: Resource; kind: RequestKind; value: number; line: number }>;
}

/** A deployment whose flow is named by an entrypoint in another file. */
export interface DeployedFrom {
  entrypoint: string;
  deployment: string;
}

/** Where a per-task override can be written for a Python task. */
export interface TaskSite {
  orchestrator: "airflow" | "prefect";
  pipeline: string;
  task: string;
  file: string;
  line: number;
  /** Offset right after the last argument of the operator call or `@task(...)`, or after a bare `@task`. */
  insertAt: number;
  /** A bare decorator (`@task`): an override adds `(…)`. */
  bare: boolean;
  /** Multi-line argument lists: the indentation of the last argument. Null when on one line. */
  indent: string | null;
  /**
   * dag-factory tasks: the indentation of the task's keys; an override is then a YAML key inserted at
   * `insertAt` (the end of a line of the task's mapping). Absent where none can be written.
   */
  yamlIndent?: string;
  /** Value ranges of keyword arguments the task itself passes that a pattern lives in. */
  keywords: Partial<Record<TaskKeyword, { start: number; end: number }>>;
  /** The K8s models module name the file imports (`k8s` in `from kubernetes.client import models as k8s`). */
  k8sModule: string;
  /**
   * prefect.yaml only: the deployment's own `work_pool.job_variables: *anchor` alias, which a per-deployment
   * override replaces with `{<<: *anchor, …}`.
   */
  jobVariablesAlias?: { start: number; end: number; anchor: string };
  /**
   * prefect.yaml only: where job variables of the deployment's own can be added — a key into its own
   * `work_pool.job_variables` mapping (`item`: a block line at `indent`, or `flow`: before the `}`), or a
   * new `job_variables: {…}` key of its own block `work_pool` (`key`). Absent where any of them is shared
   * through an anchor (a change there would reach other deployments).
   */
  jobVariablesPlace?: { at: number; form: "item" | "flow" | "key"; indent: string; empty: boolean };
  /** See {@link Finding.deployedFrom}. */
  deployedFrom?: DeployedFrom;
  /**
   * Prefect deployments: the work pool they name and the job variables they set themselves (a work
   * pool's default reaches the deployments that do not set its variable).
   */
  workPool?: { name: string; variables: string[] };
  /**
   * Airflow: the task's `queue=` (its own, else default_args'); null when computed, absent when not given
   * (Airflow's `[operators] default_queue`). Under CeleryKubernetesExecutor it picks the executor.
   */
  queue?: string | null;
}

/**
 * Where the repository names the Airflow executor: `[core] executor` in an airflow.cfg,
 * `AIRFLOW__CORE__EXECUTOR` in a `.env`, a docker-compose service or the Helm chart's `env`, or the Helm
 * chart's `executor` value (sources/executor.ts decides which one holds).
 */
export interface ExecutorSetting {
  file: string;
  line: number;
  /** As written: a name (`CeleryExecutor`), a module path, or a comma-separated list (Airflow 2.10+). */
  executor: string;
  from: "airflow.cfg" | "environment" | "helm";
}

/** A file the scanner could not read. */
export interface ScanProblem {
  file: string;
  line: number;
  message: string;
}

/** A Prefect flow defined in a Python file: `@flow` / `@flow(name=…)` on a function. */
export interface FlowDefinition {
  file: string;
  line: number;
  /** The decorated function's name, as an entrypoint names it (`flows/etl.py:load_orders`). */
  function: string;
  /** The flow's name as Prefect gives it (see prefect.ts `flowNameOf`). */
  name: string;
}

/**
 * The job variables a work pool's base job template names anywhere in its `job_configuration`: a
 * deployment's job variable outside this list fills nothing (sources/effective.ts).
 */
export interface WorkPoolVariables {
  pool: string;
  /** Where `job_configuration` is written. */
  file: string;
  line: number;
  variables: string[];
  /**
   * The places that size the job (sources/work-pool-template.ts `placeOf`), each with the variable it
   * takes (`{{ memory }}`) or null for a value written there; absent in results made before them.
   */
  sizing?: Array<{ resource: Resource; kind: RequestKind; variable: string | null; line: number }>;
}

export interface ScanResult {
  findings: Finding[];
  /** Prefect flows defined in the Python files, for deployments' `FLOW/DEPLOYMENT` keys. */
  flows: FlowDefinition[];
  /** Every task seen, declared or not, for the check's "no request" verdict. */
  tasks: TaskSite[];
  /** Pod template files named by tasks or by airflow.cfg, resolved once every file is scanned. */
  podTemplates: PodTemplateReference[];
  problems: ScanProblem[];
  /** Pod templates read, with their values (absent in results made before them). */
  podTemplateValues?: PodTemplateValues[];
  /** Executor settings found (absent in results made before them). */
  executors?: ExecutorSetting[];
  /** Work-pool templates found, with the variables each names (absent in results made before them). */
  workPools?: WorkPoolVariables[];
  /** Files scanned (relative paths). */
  files: string[];
}

export function emptyScanResult(): ScanResult {
  return { findings: [], flows: [], tasks: [], podTemplates: [], problems: [], files: [] };
}
