/**
 * Airflow attribution resolvers: pure functions of what a process shows (argv or title, attribution keys of
 * its environment, open files). Each names the upstream file whose behaviour it reads back.
 *
 * Two roles (docs/collector.md "How task processes are recognised"): a *task* process is an execution's
 * root; a *serving* process (a Celery pool child, a LocalExecutor or Edge worker, an Airflow 3 supervisor)
 * runs many tasks one after another and is never an execution itself: the child it forks for a task is the
 * root, with the attribution the serving process shows while that child starts.
 */
import {
  cachedLogTemplate,
  DEFAULT_LOG_TEMPLATES,
  type LogTemplate,
  matchLogPath,
} from "./airflow-log-template.js";
import { type Attribution, mapIndexOf, positiveInt } from "./attribution-key.js";

/**
 * Airflow 2 argv `airflow tasks run DAG TASK RUN [--map-index N] … --local|--raw`
 * (apache/airflow 2.x `airflow/cli/commands/task_command.py`; built by `TaskInstance.generate_command`).
 */
export function fromAirflowArgv(argv: string[], source = "airflow-argv"): Attribution | null {
  for (let i = 0; i + 4 < argv.length; i++) {
    const executable = argv[i]!;
    if (!/(^|\/)airflow$/.test(executable)) continue;
    if (argv[i + 1] !== "tasks" || argv[i + 2] !== "run") continue;
    // Positional DAG TASK RUN come first; flags (some with values) may follow.
    const [dag, task, run] = [argv[i + 3], argv[i + 4], argv[i + 5]];
    if (!dag || !task || !run || [dag, task, run].some((value) => value.startsWith("-"))) return null;
    let mapIndex: number | null = null;
    for (let j = i + 6; j < argv.length; j++) {
      const arg = argv[j]!;
      if (arg === "--map-index") mapIndex = mapIndexOf(argv[j + 1]);
      else if (arg.startsWith("--map-index=")) mapIndex = mapIndexOf(arg.slice("--map-index=".length));
    }
    return { orchestrator: "airflow", pipeline: dag, task, runId: run, tryNumber: null, mapIndex, source };
  }
  return null;
}

/** The items of a Python list repr `['a', 'b', "c'd"]` (how Airflow 2 titles print a command). */
function pythonListItems(text: string): string[] {
  return [...text.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map(
    (match) => match[1] ?? match[2] ?? "",
  );
}

function titleOf(argv: string[]): string {
  return argv.join(" ").trim();
}

/**
 * Airflow 2 fork-mode titles, which setproctitle writes over argv (so /proc/PID/cmdline holds one string):
 * `airflow task runner: DAG TASK RUN [JOB]` (apache/airflow 2.x
 * `airflow/task/task_runner/standard_task_runner.py` `_start_by_fork`; before 2.2 RUN is the logical date,
 * which was then a run's identity) and `airflow task supervisor: ['airflow', 'tasks', 'run', …]`
 * (`airflow/executors/celery_executor.py` and `local_executor.py` `_execute_work_in_fork`, 2.x).
 */
export function fromAirflowTitle(argv: string[]): Attribution | null {
  const title = titleOf(argv);
  const runner = /^airflow task runner: (\S+) (\S+) (\S+)(?: (\S+))?/.exec(title);
  if (runner) {
    return {
      orchestrator: "airflow",
      pipeline: runner[1]!,
      task: runner[2]!,
      runId: runner[3]!,
      tryNumber: null,
      mapIndex: null,
      source: "airflow-title",
    };
  }
  const supervisor = /^airflow task supervisor: \[(.*)\]/.exec(title);
  if (supervisor) return fromAirflowArgv(pythonListItems(supervisor[1]!), "airflow-title");
  return null;
}

/** Airflow 3's ids are UUIDs (v7 since 3.0); the runner's title holds only that. */
const TI_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The Airflow 3 task runner, forked by the supervisor, retitles itself `airflow worker -- <ti id>`
 * (apache/airflow 3.x `task-sdk/src/airflow/sdk/execution_time/task_runner.py` `startup`). Its title tells
 * no task: it takes the attribution its (serving) parent shows.
 */
export function isAirflowRunnerTitle(argv: string[]): boolean {
  const title = /^airflow worker -- (\S+)$/.exec(titleOf(argv));
  return title !== null && TI_UUID.test(title[1]!);
}

/** A serving process: never an execution; `attribution` is what the child it forks next belongs to. */
export interface Serving {
  attribution: Attribution | null;
  /** It keeps the task log open: read its open files to attribute the child. */
  readsLog: boolean;
}

/**
 * LocalExecutor workers: `airflow worker -- LocalExecutor: [command]` (Airflow 2; `LocalWorker` or
 * `QueuedLocalWorker` for the class name in some 2.x releases; apache/airflow 2.x
 * `airflow/executors/local_executor.py` `execute_work`), `airflow worker -- LocalExecutor: <ti id>`
 * (Airflow 3: runs the supervisor in-process; `airflow-core/src/airflow/executors/local_executor.py`
 * `_execute_work`). The Edge worker's job process: `airflow edge worker: TaskInstanceKey(dag_id='…', …)`
 * (apache/airflow `providers/edge3/src/airflow/providers/edge3/cli/worker.py` `_launch_job_af3`).
 */
export function fromAirflowWorkerTitle(argv: string[]): Serving | null {
  const title = titleOf(argv);
  const local = /^airflow worker -- (\w+): (.*)$/.exec(title);
  if (local) {
    const command = local[2]!.trim();
    if (command.startsWith("[")) {
      const attribution = fromAirflowArgv(pythonListItems(command), "airflow-worker");
      return attribution ? { attribution, readsLog: false } : null;
    }
    return TI_UUID.test(command) ? { attribution: null, readsLog: true } : null;
  }
  const edge = /^airflow edge worker: TaskInstanceKey\((.*)\)$/.exec(title);
  if (edge) {
    const fields = new Map<string, string>();
    for (const match of edge[1]!.matchAll(/(\w+)=(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+))/g)) {
      fields.set(match[1]!, match[2] ?? match[3] ?? match[4] ?? "");
    }
    const dag = fields.get("dag_id");
    const task = fields.get("task_id");
    if (!dag || !task) return { attribution: null, readsLog: true };
    return {
      attribution: {
        orchestrator: "airflow",
        pipeline: dag,
        task,
        runId: fields.get("run_id") || null,
        tryNumber: positiveInt(fields.get("try_number")),
        mapIndex: mapIndexOf(fields.get("map_index")),
        source: "airflow-worker",
      },
      readsLog: false,
    };
  }
  return null;
}

/** A workload's `ti` (apache/airflow 3.x `airflow-core/src/airflow/executors/workloads.py` `TaskInstance`). */
function fromTaskInstanceJson(json: string, source: string): Attribution | null {
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    return null;
  }
  const ti = (document as { ti?: Record<string, unknown> } | null)?.ti;
  if (!ti || typeof ti !== "object" || typeof ti.dag_id !== "string" || typeof ti.task_id !== "string")
    return null;
  if (!ti.dag_id || !ti.task_id) return null;
  return {
    orchestrator: "airflow",
    pipeline: ti.dag_id,
    task: ti.task_id,
    runId: typeof ti.run_id === "string" && ti.run_id ? ti.run_id : null,
    tryNumber: positiveInt(String(ti.try_number ?? "")),
    mapIndex: mapIndexOf(ti.map_index),
    source,
  };
}

function flagValue(argv: string[], flag: string): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === flag) return argv[i + 1] ?? null;
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return null;
}

/** Upper bound on a `--json-path` workload file: the JSON of one ExecuteTask is a few KiB (chosen value). */
export const MAX_WORKLOAD_FILE_BYTES = 1 << 20;

/**
 * Airflow 3 `python -m airflow.sdk.execution_time.execute_workload --json-string {…}|--json-path FILE`
 * (apache/airflow 3.x `task-sdk/src/airflow/sdk/execution_time/execute_workload.py` `main`; the
 * KubernetesExecutor passes `--json-string`, older cncf.kubernetes releases wrote FILE from an init
 * container). The process is the supervisor: serving. `readFile` reads FILE as the process sees it (the
 * caller confines it to `/proc/PID/root`, collector/procfs/file-in-root.ts); without it `--json-path` is unread.
 */
export function fromAirflowWorkload(
  argv: string[],
  readFile?: (path: string) => string | null,
): Serving | null {
  if (!argv.some((arg) => /(^|[./])execute_workload(\.py)?$/.test(arg))) return null;
  const inline = flagValue(argv, "--json-string");
  if (inline !== null) {
    const attribution = fromTaskInstanceJson(inline, "airflow-workload");
    return attribution ? { attribution, readsLog: false } : null;
  }
  const path = flagValue(argv, "--json-path");
  if (path === null || !readFile) return null;
  const text = readFile(path);
  const attribution = text === null ? null : fromTaskInstanceJson(text, "airflow-workload");
  return attribution ? { attribution, readsLog: false } : null;
}

/**
 * A runner re-exec'd for `run_as_user` (`sudo -E -H -u USER python -c …task_runner import main`) carries
 * the StartupDetails JSON in `_AIRFLOW__STARTUP_MSG` with `_AIRFLOW__REEXECUTED_PROCESS=1`, and no longer
 * holds the log (apache/airflow 3.x `task-sdk/src/airflow/sdk/execution_time/task_runner.py` `startup`).
 */
export function fromStartupMessage(env: Record<string, string>): Attribution | null {
  const message = env._AIRFLOW__STARTUP_MSG;
  if (!message) return null;
  return fromTaskInstanceJson(message, "airflow-startup-msg");
}

/**
 * An open Airflow task log, by the configured template(s), else the default and the pre-2.3 one.
 * `extraTemplates` come first: configuration, then the process's own AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE.
 */
export function fromAirflowLogPath(
  path: string,
  extraTemplates: readonly LogTemplate[] = [],
): Attribution | null {
  for (const template of [...extraTemplates, ...DEFAULT_LOG_TEMPLATES]) {
    const found = matchLogPath(path, template);
    if (found) return found;
  }
  return null;
}

/** Templates for one process: configured ones, then the one its own environment names. */
export function logTemplatesFor(
  configured: readonly LogTemplate[],
  env: Record<string, string>,
): LogTemplate[] {
  const own = env.AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE;
  const fromEnv = own ? cachedLogTemplate(own) : null;
  return fromEnv ? [...configured, fromEnv] : [...configured];
}

/**
 * The newest task log among open files: a process that leaked an earlier task's log still holds it, and
 * file descriptors are handed out lowest-free-first, so the highest-numbered one is the latest opened.
 */
export function fromOpenLogs(
  fdTargets: readonly string[],
  templates: readonly LogTemplate[],
): Attribution | null {
  for (let i = fdTargets.length - 1; i >= 0; i--) {
    const found = fromAirflowLogPath(fdTargets[i]!, templates);
    if (found) return found;
  }
  return null;
}

/**
 * `AIRFLOW_CTX_*`, which Airflow exports to processes a task execs (BashOperator, subprocess): DAG_ID,
 * TASK_ID, DAG_RUN_ID, TRY_NUMBER, EXECUTION_DATE/LOGICAL_DATE, DAG_OWNER, DAG_EMAIL — no map index
 * (apache/airflow 2.x `airflow/utils/operator_helpers.py` `AIRFLOW_VAR_NAME_FORMAT_MAPPING`; 3.x
 * `task-sdk/src/airflow/sdk/execution_time/context.py`). setproctitle destroys the environment a forked
 * process shows, so only exec'd children carry these readably.
 */
export function fromAirflowContextEnv(env: Record<string, string>): Attribution | null {
  const dag = env.AIRFLOW_CTX_DAG_ID;
  const task = env.AIRFLOW_CTX_TASK_ID;
  if (!dag || !task) return null;
  return {
    orchestrator: "airflow",
    pipeline: dag,
    task,
    runId:
      env.AIRFLOW_CTX_DAG_RUN_ID || env.AIRFLOW_CTX_EXECUTION_DATE || env.AIRFLOW_CTX_LOGICAL_DATE || null,
    tryNumber: positiveInt(env.AIRFLOW_CTX_TRY_NUMBER),
    mapIndex: null,
    source: "airflow-ctx-env",
  };
}

/** Whether the fds are worth reading: only a Python, Airflow or Celery process keeps task logs. */
export function mayHoldAirflowLog(argv: string[]): boolean {
  return argv.some((arg) => /airflow|python|celery/.test(arg));
}
