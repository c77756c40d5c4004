/**
 * Attribution resolvers (docs/collector.md "How task processes are recognised"): given what a process
 * shows (argv or title, the attribution keys of its environment, its open files), which task execution
 * does it start? First match wins; the result is inherited by the process's descendants. Pure functions
 * of plain data; the Airflow shapes live in collector/attribution/airflow-attribution.ts, Kubernetes pods in
 * collector/kubernetes-pods.ts.
 */
import {
  fromAirflowArgv,
  fromAirflowContextEnv,
  fromAirflowTitle,
  fromAirflowWorkerTitle,
  fromAirflowWorkload,
  fromOpenLogs,
  fromStartupMessage,
  isAirflowRunnerTitle,
  logTemplatesFor,
  type Serving,
} from "./airflow-attribution.js";
import type { LogTemplate } from "./airflow-log-template.js";
import { type Attribution, mapIndexOf, positiveInt } from "./attribution-key.js";

export type { Attribution } from "./attribution-key.js";

/** What a resolver may look at. Open files and workload files cost I/O: the caller passes readers. */
export interface ProcessFacts {
  argv: string[];
  /** Only the attribution keys (procfs-parse.ts isAttributionEnvKey), as read at first sight. */
  env: Record<string, string>;
  /** Targets of /proc/PID/fd/*, in fd order; read only when a resolver needs them. */
  fdTargets?: readonly string[] | (() => readonly string[]);
  /** Reads a file as the process sees it (confined to its root), for `--json-path`. */
  readFile?: (path: string) => string | null;
  /** `collector.airflowLogTemplate` compiled, tried before the defaults. */
  logTemplates?: readonly LogTemplate[];
}

/**
 * What a process is to attribution:
 * - `task`: the root of an execution;
 * - `serving`: never an execution; a child it forks belongs to `attribution` (as it shows while that
 *   child starts), null when it shows none right now;
 * - `runner`: an Airflow 3 task runner that tells no task itself: its serving parent's attribution;
 * - `helper`: a process a serving one starts that is no task (multiprocessing's resource tracker).
 */
export type Resolution =
  | { role: "task"; attribution: Attribution }
  | { role: "serving"; attribution: Attribution | null }
  | { role: "runner" }
  | { role: "helper" };

/** Explicit `RIGHTSIZE_*` environment: pipeline and task are required; orchestrator defaults to generic. */
export function fromExplicitEnv(env: Record<string, string>): Attribution | null {
  const pipeline = env.RIGHTSIZE_PIPELINE;
  const task = env.RIGHTSIZE_TASK;
  if (!pipeline || !task) return null;
  return {
    orchestrator: env.RIGHTSIZE_ORCHESTRATOR || "generic",
    pipeline,
    task,
    runId: env.RIGHTSIZE_RUN || null,
    tryNumber: positiveInt(env.RIGHTSIZE_TRY),
    mapIndex: mapIndexOf(env.RIGHTSIZE_MAP_INDEX),
    source: "env",
  };
}

/** What a Prefect flow run is known by (environment or pod labels). */
export interface PrefectIdentity {
  flowName?: string | null;
  deploymentName?: string | null;
  deploymentId?: string | null;
  flowRunId?: string | null;
}

/**
 * The Prefect pipeline key (docs/architecture.md "Task key"): `FLOW/DEPLOYMENT`, as Prefect names a deployment
 * (`prefect deployment run FLOW/DEPLOYMENT`); `FLOW` for a flow run without a deployment. Prefect refuses
 * `/` in flow names (prefect `src/prefect/types/names.py` `BANNED_CHARACTERS`, checked by
 * `src/prefect/flows.py` `Flow.__init__` via `_raise_on_name_with_banned_characters`, at ce79dd3), so a
 * key starting with `/` can never be a real flow's:
 * - deployment known but not its flow (the runner from 3.7.1 sets only the deployment name): `/ID` with
 *   the deployment id when known, else `/NAME` (two flows' same-named deployments seen only by name
 *   share it; their ids never do);
 * - nothing but the flow-run id (workers before 3.6.17 set no names): `/flow-run/RUN`, one pipeline per
 *   run, so two flows never merge; upgrade the worker or set RIGHTSIZE_PIPELINE for a useful key.
 */
export function prefectPipeline(identity: PrefectIdentity): string | null {
  const flow = identity.flowName || null;
  const deployment = identity.deploymentName || null;
  if (flow) return deployment ? `${flow}/${deployment}` : flow;
  if (identity.deploymentId) return `/${identity.deploymentId}`;
  if (deployment) return `/${deployment}`;
  if (identity.flowRunId) return `/flow-run/${identity.flowRunId}`;
  return null;
}

/**
 * Prefect flow runs: `PREFECT__FLOW_RUN_ID` in the flow-run process's initial environment, with
 * `PREFECT__FLOW_NAME`, `PREFECT__FLOW_ID`, `PREFECT__DEPLOYMENT_NAME`, `PREFECT__DEPLOYMENT_ID` from
 * 3.6.17 workers (prefect `src/prefect/workers/base.py` `_base_flow_run_environment`/`prepare_for_flow_run`)
 * and the runner (`src/prefect/runner/_starter_engine.py`, 3.7+: the deployment name only). The task is
 * `__flow__`: task runs are threads or a reused pool, with no per-task marker on the host.
 */
export function fromPrefectEnv(env: Record<string, string>): Attribution | null {
  const runId = env.PREFECT__FLOW_RUN_ID;
  if (!runId) return null;
  const pipeline = prefectPipeline({
    flowName: env.PREFECT__FLOW_NAME,
    deploymentName: env.PREFECT__DEPLOYMENT_NAME,
    deploymentId: env.PREFECT__DEPLOYMENT_ID,
    flowRunId: runId,
  })!;
  return {
    orchestrator: "prefect",
    pipeline,
    task: "__flow__",
    runId,
    tryNumber: null,
    mapIndex: null,
    source: "prefect-env",
  };
}

function fdsOf(facts: ProcessFacts): readonly string[] {
  const fds = facts.fdTargets;
  return typeof fds === "function" ? fds() : (fds ?? []);
}

function serving(found: Serving, facts: ProcessFacts, templates: () => LogTemplate[]): Resolution {
  return {
    role: "serving",
    attribution: found.attribution ?? (found.readsLog ? fromOpenLogs(fdsOf(facts), templates()) : null),
  };
}

/** Runs the resolvers in order; the first match wins. */
export function resolveProcess(facts: ProcessFacts): Resolution | null {
  const { argv, env } = facts;
  let templates: LogTemplate[] | undefined;
  const templatesOf = () => (templates ??= logTemplatesFor(facts.logTemplates ?? [], env));
  const task = (attribution: Attribution | null): Resolution | null =>
    attribution ? { role: "task", attribution } : null;

  // Python's multiprocessing starts these beside the children it spawns (CPython
  // `Lib/multiprocessing/resource_tracker.py`, `forkserver.py`): they serve the parent, no task.
  if (argv.some((arg) => /multiprocessing\.(resource_tracker|forkserver)\b/.test(arg)))
    return { role: "helper" };
  const explicit = fromExplicitEnv(env);
  // RIGHTSIZE_SERVES=1: a long-lived process (flow.serve(), a custom worker) whose every child is one run
  // of the key; its children inherit the variables, and a child of a serving process is the task.
  if (explicit && env.RIGHTSIZE_SERVES === "1") return { role: "serving", attribution: explicit };
  const early =
    task(explicit) ??
    task(fromStartupMessage(env)) ??
    task(fromAirflowArgv(argv)) ??
    task(fromAirflowTitle(argv));
  if (early) return early;
  if (isAirflowRunnerTitle(argv)) {
    // A runner that still holds the log (inherited across the fork) tells its own task.
    const own = fromOpenLogs(fdsOf(facts), templatesOf());
    return own ? { role: "task", attribution: { ...own, source: "airflow-runner" } } : { role: "runner" };
  }
  const worker = fromAirflowWorkerTitle(argv) ?? fromAirflowWorkload(argv, facts.readFile);
  if (worker) return serving(worker, facts, templatesOf);
  // Anything else holding a task log is an Airflow 3 supervisor (a Celery pool child runs it in-process):
  // the task is the runner it forks (task-sdk/src/airflow/sdk/execution_time/supervisor.py `supervise`
  // opens the log before `ActivitySubprocess.start` forks).
  if (argv.some((arg) => /airflow|python|celery/.test(arg))) {
    const log = fromOpenLogs(fdsOf(facts), templatesOf());
    if (log) return { role: "serving", attribution: log };
  }
  return task(fromAirflowContextEnv(env)) ?? task(fromPrefectEnv(env));
}

/**
 * Everything a process tells about a task whatever its role (for refining a tree's try or run from a
 * descendant): the task attribution, or the serving one.
 */
export function resolveAttribution(facts: ProcessFacts): Attribution | null {
  const resolution = resolveProcess(facts);
  if (!resolution || resolution.role === "runner" || resolution.role === "helper") return null;
  return resolution.attribution;
}

/**
 * The attribution of a process that first shows up as a child of `parent`: a serving parent hands the
 * child its current task (the runner's `airflow worker -- <ti id>` title comes later, after the startup
 * message). Null when the parent serves nothing now. `child` is the child's own resolution.
 */
export function childOfServing(parent: Resolution | null, child: Resolution | null): Attribution | null {
  if (child?.role === "task") return child.attribution;
  if (child?.role === "helper") return null;
  if (parent?.role !== "serving" || !parent.attribution) return null;
  return {
    ...parent.attribution,
    source: parent.attribution.source === "airflow-log" ? "airflow-runner" : parent.attribution.source,
  };
}

/**
 * What a descendant adds to its tree's attribution: a try number or run id the root did not show (an
 * exec'd child's AIRFLOW_CTX_TRY_NUMBER, a log file's attempt). Returns the refined attribution, or null
 * when the descendant adds nothing or belongs to a different task.
 */
export function refineAttribution(current: Attribution, descendant: Attribution): Attribution | null {
  if (
    current.orchestrator !== descendant.orchestrator ||
    current.pipeline !== descendant.pipeline ||
    current.task !== descendant.task
  ) {
    return null;
  }
  const refined: Attribution = {
    ...current,
    runId: current.runId ?? descendant.runId,
    tryNumber: current.tryNumber ?? descendant.tryNumber,
    mapIndex: current.mapIndex ?? descendant.mapIndex,
  };
  const changed =
    refined.runId !== current.runId ||
    refined.tryNumber !== current.tryNumber ||
    refined.mapIndex !== current.mapIndex;
  return changed ? refined : null;
}
