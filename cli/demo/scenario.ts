/**
 * The demo's sample pipeline: an Airflow DAG and three Prefect deployments (declared in examples/), each
 * task doing one kind of work in the process shape its orchestrator gives it, so the collector's real
 * attribution path sees them.
 */
import { DIAGNOSIS_MIN_RUNS } from "../../analyzer/diagnosis.js";
import type { BottleneckClass } from "../../common/analysis-document.js";

/** Runs of every task from which the demo slows a last run: one more than a diagnosis compares it with. */
export const SLOWED_RUN_MIN_RUNS = DIAGNOSIS_MIN_RUNS + 1;

/** How the orchestrator's task process looks from /proc. */
export type ProcessShape =
  /** Airflow 2: argv `airflow tasks run DAG TASK RUN --raw`. */
  | "airflow-argv"
  /**
   * Airflow 3: a supervisor (argv `airflow celery worker`, as in a Celery pool child) holding
   * `…/dag_id=D/run_id=R/task_id=T/attempt=K.log` open, which starts the runner titled
   * `airflow worker -- <ti id>`: the runner is the task, the supervisor never is.
   */
  | "airflow-log"
  /** Prefect: PREFECT__FLOW_RUN_ID, PREFECT__FLOW_NAME and PREFECT__DEPLOYMENT_NAME in the environment. */
  | "prefect-env";

export interface DemoTask {
  orchestrator: "airflow" | "prefect";
  /** DAG id, or Prefect `FLOW/DEPLOYMENT` (the flow's name as Prefect derives it from the entrypoint). */
  pipeline: string;
  /** Task id; `__flow__` for a Prefect flow run. */
  task: string;
  shape: ProcessShape;
  /** DEMO_WORKLOAD of cli/demo/workload.ts, plus its settings. */
  workload: "cpu" | "threads" | "memory" | "disk" | "http" | "sleep" | "spawn";
  env?: Record<string, string>;
  /** Runs this many times the demo's seconds per task. @defaultValue 1 */
  durationFactor?: number;
  /**
   * When the demo runs every task at least {@link SLOWED_RUN_MIN_RUNS} times, the task's last run is given
   * this many times its usual input: its work is bound by time, so this many times its seconds. The report
   * then shows a slowed run beside its diagnosis.
   */
  lastRunInputFactor?: number;
  /** The bottleneck class the task is built to show. */
  expected: BottleneckClass;
  /** What it stands for, for the terminal summary. */
  story: string;
}

export const demoTasks: DemoTask[] = [
  {
    orchestrator: "airflow",
    pipeline: "demo_etl",
    task: "compress_orders",
    shape: "airflow-argv",
    workload: "cpu",
    lastRunInputFactor: 3,
    expected: "cpu",
    story: "single-threaded gzip with a 4-core request",
  },
  {
    orchestrator: "airflow",
    pipeline: "demo_etl",
    task: "transform_parallel",
    shape: "airflow-argv",
    workload: "threads",
    env: { DEMO_THREADS: "2" },
    expected: "cpu",
    story: "multi-threaded join on every core",
  },
  {
    orchestrator: "airflow",
    pipeline: "demo_etl",
    task: "build_index",
    shape: "airflow-argv",
    workload: "memory",
    env: { DEMO_MEGABYTES: "400" },
    // Holding memory is not a bottleneck: its time goes to waiting. What it shows is the memory
    // recommendation, 8 GiB requested against a 400 MiB peak. It runs longer than the others so that
    // faulting the pages in (about 0.7 CPU seconds here) stays a small part of its run.
    durationFactor: 3,
    expected: "idle",
    story: "holds 400 MiB against an 8 GiB request",
  },
  {
    orchestrator: "airflow",
    pipeline: "demo_etl",
    task: "write_parquet",
    shape: "airflow-log",
    workload: "disk",
    expected: "disk-io",
    story: "writes and fsyncs, blocked on the disk",
  },
  {
    orchestrator: "prefect",
    pipeline: "fetch-api/fetch-api",
    task: "__flow__",
    shape: "prefect-env",
    workload: "http",
    expected: "network-wait",
    story: "waits on a slow HTTP API",
  },
  {
    orchestrator: "prefect",
    pipeline: "wait-for-upstream/nightly-sleeper",
    task: "__flow__",
    shape: "prefect-env",
    workload: "sleep",
    expected: "idle",
    story: "sleeps, waiting for an upstream",
  },
  {
    orchestrator: "prefect",
    pipeline: "split-files/split-files",
    task: "__flow__",
    shape: "prefect-env",
    workload: "spawn",
    expected: "cpu",
    story: "spawns hundreds of short-lived shells",
  },
];

/** How long one run of `task` works: its share of the demo's seconds, and more on a slowed last run. */
export function taskSeconds(task: DemoTask, run: number, runs: number, secondsPerTask: number): number {
  const seconds = secondsPerTask * (task.durationFactor ?? 1);
  const slowed = task.lastRunInputFactor !== undefined && runs >= SLOWED_RUN_MIN_RUNS && run === runs;
  return slowed ? seconds * task.lastRunInputFactor! : seconds;
}
