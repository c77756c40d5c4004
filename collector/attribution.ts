/**
 * Attribution resolvers (DESIGN.md "Attribution"): given what a process shows (argv, the attribution keys
 * of its environment, its open files), which task execution does it start? First match wins; the result
 * is inherited by the process's descendants. Pure functions of plain data.
 */

/** A task execution's identity as far as one process tells it (DESIGN.md "Task identity"). */
export interface Attribution {
  orchestrator: string;
  pipeline: string;
  task: string;
  /** null: not told; the collector makes one from the root process's start. */
  runId: string | null;
  tryNumber: number | null;
  mapIndex: number | null;
  /** Which resolver matched: env, airflow-argv, airflow-title, airflow-workload, airflow-log, airflow-ctx-env, prefect-env, wrapper. */
  source: string;
}

/** What a resolver may look at. `fdTargets` is read lazily by the caller (it costs a readdir). */
export interface ProcessFacts {
  argv: string[];
  /** Only the attribution keys (see isAttributionEnvKey). */
  env: Record<string, string>;
  fdTargets?: string[];
}

function positiveInt(value: string | undefined | null): number | null {
  if (value === undefined || value === null || !/^\d+$/.test(value.trim())) return null;
  const number = Number(value);
  return number > 0 ? number : null;
}

function mapIndexOf(value: unknown): number | null {
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isInteger(number) && number >= 0 ? number : null;
}

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

/** Finds `tasks run DAG TASK RUN [--map-index N]` after an `airflow` executable in an argv. */
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

/**
 * Airflow 2 process titles (setproctitle overwrites argv, so /proc/PID/cmdline holds one string):
 * `airflow task runner: DAG TASK RUN [JOB]` and `airflow task supervisor: ['airflow', 'tasks', 'run', …]`.
 */
export function fromAirflowTitle(argv: string[]): Attribution | null {
  const title = argv.join(" ").trim();
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
  if (supervisor) {
    // A Python list repr: 'a', 'b', "c'd"
    const items = [...supervisor[1]!.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map(
      (match) => match[1] ?? match[2] ?? "",
    );
    return fromAirflowArgv(items, "airflow-title");
  }
  return null;
}

/** Airflow 3 `… execute_workload --json-string {"ti": {…}}` (Kubernetes executor pods). */
export function fromAirflowWorkload(argv: string[]): Attribution | null {
  const at = argv.findIndex((arg) => arg === "--json-string" || arg.startsWith("--json-string="));
  if (at < 0 || !argv.some((arg) => arg.endsWith("execute_workload"))) return null;
  const flag = argv[at]!;
  const json = flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : argv[at + 1];
  if (!json) return null;
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    return null;
  }
  const ti = (document as { ti?: Record<string, unknown> } | null)?.ti;
  if (!ti || typeof ti.dag_id !== "string" || typeof ti.task_id !== "string") return null;
  return {
    orchestrator: "airflow",
    pipeline: ti.dag_id,
    task: ti.task_id,
    runId: typeof ti.run_id === "string" ? ti.run_id : null,
    tryNumber: positiveInt(String(ti.try_number ?? "")),
    mapIndex: mapIndexOf(ti.map_index),
    source: "airflow-workload",
  };
}

const AIRFLOW_LOG_PATH =
  /\/dag_id=([^/]+)\/run_id=([^/]+)\/task_id=([^/]+)\/(?:map_index=(-?\d+)\/)?attempt=(\d+)\.log$/;

/** An open Airflow task log `…/dag_id=D/run_id=R/task_id=T/[map_index=M/]attempt=K.log`. */
export function fromAirflowLogPath(path: string): Attribution | null {
  const match = AIRFLOW_LOG_PATH.exec(path);
  if (!match) return null;
  return {
    orchestrator: "airflow",
    pipeline: match[1]!,
    task: match[3]!,
    runId: match[2]!,
    tryNumber: positiveInt(match[5]),
    mapIndex: mapIndexOf(match[4]),
    source: "airflow-log",
  };
}

/** `AIRFLOW_CTX_*` variables, which Airflow exports to processes a task execs (BashOperator, subprocess). */
export function fromAirflowContextEnv(env: Record<string, string>): Attribution | null {
  const dag = env.AIRFLOW_CTX_DAG_ID;
  const task = env.AIRFLOW_CTX_TASK_ID;
  if (!dag || !task) return null;
  return {
    orchestrator: "airflow",
    pipeline: dag,
    task,
    runId: env.AIRFLOW_CTX_DAG_RUN_ID || null,
    tryNumber: positiveInt(env.AIRFLOW_CTX_TRY_NUMBER),
    mapIndex: mapIndexOf(env.AIRFLOW_CTX_MAP_INDEX),
    source: "airflow-ctx-env",
  };
}

/** Prefect flow runs: the deployment (or, without one, the flow) is the pipeline; the task is `__flow__`. */
export function fromPrefectEnv(env: Record<string, string>): Attribution | null {
  const runId = env.PREFECT__FLOW_RUN_ID;
  if (!runId) return null;
  return {
    orchestrator: "prefect",
    pipeline: env.PREFECT__DEPLOYMENT_NAME || env.PREFECT__FLOW_NAME || "unknown-flow",
    task: "__flow__",
    runId,
    tryNumber: null,
    mapIndex: null,
    source: "prefect-env",
  };
}

/** Whether the fds are worth reading for this process: only a Python-ish or airflow process keeps task logs. */
export function mayHoldAirflowLog(argv: string[]): boolean {
  return argv.some((arg) => /airflow|python/.test(arg));
}

/** Runs the resolvers in order; the first match wins. */
export function resolveAttribution(facts: ProcessFacts): Attribution | null {
  const fromLog = () => {
    for (const target of facts.fdTargets ?? []) {
      const found = fromAirflowLogPath(target);
      if (found) return found;
    }
    return null;
  };
  return (
    fromExplicitEnv(facts.env) ??
    fromAirflowArgv(facts.argv) ??
    fromAirflowTitle(facts.argv) ??
    fromAirflowWorkload(facts.argv) ??
    fromLog() ??
    fromAirflowContextEnv(facts.env) ??
    fromPrefectEnv(facts.env)
  );
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
