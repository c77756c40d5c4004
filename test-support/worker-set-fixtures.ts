/**
 * The Airflow Helm chart with Celery worker sets (`workers.celery.sets`): the default workers sized by
 * `workers.celery.resources` (which replaces `workers.resources` whole), a `highmem` set with resources
 * and a worker_concurrency of its own, and a `reports` set serving two queues that inherits the default
 * workers' resources. Tasks are routed by their `queue=` (a dag-factory `defaults.yml` gives one too);
 * one declares more memory than its set's limit.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";
import { analysisTask } from "./source-fixtures.js";

export const workerSetFiles: Record<string, string> = {
  "chart/values.yaml": `executor: CeleryExecutor
config:
  celery:
    worker_concurrency: 4
workers:
  resources:
    requests:
      memory: 1Gi # replaced whole by workers.celery.resources
  celery:
    queue: default
    resources:
      requests:
        cpu: 1
        memory: 2Gi
      limits:
        memory: 6Gi
    sets:
      - name: highmem
        queue: highmem
        env:
          - name: AIRFLOW__CELERY__WORKER_CONCURRENCY
            value: "2"
        resources:
          requests:
            cpu: 2
            memory: 8Gi
          limits:
            memory: 12Gi
      - name: reports
        queue: reports,exports
`,
  "dags/etl.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("etl") as dag:
    extract = BashOperator(task_id="extract", bash_command="extract.sh")
    clean = BashOperator(task_id="clean", bash_command="clean.sh")
    join = BashOperator(task_id="join", bash_command="join.sh", queue="highmem")
    train = BashOperator(task_id="train", bash_command="train.sh", queue="highmem", resources={"cpus": 2, "ram": 16384})
    report = BashOperator(task_id="report", bash_command="report.sh", queue="reports")
`,
  "dags/load_dags.py": `from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals())
`,
  "dags/exports/defaults.yml": `default_args:
  queue: exports
`,
  "dags/exports/export.yml": `export:
  default_args:
    start_date: 2024-01-01
  tasks:
    dump:
      operator: airflow.operators.bash.BashOperator
      bash_command: dump.sh
`,
};

export function workerSetAnalysis(): AnalysisDocument {
  const task = (pipeline: string, name: string, cpuCores: number, memoryBytes: number) =>
    analysisTask({ pipeline, task: name, cpuCores, memoryBytes, peakBytes: memoryBytes / 1.25 });
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      task("etl", "extract", 0.5, GiB),
      task("etl", "clean", 0.5, 1536 * MiB),
      task("etl", "join", 1.5, 5 * GiB),
      task("etl", "train", 2, 6 * GiB),
      task("etl", "report", 0.25, 512 * MiB),
      task("export", "dump", 0.5, 3 * GiB),
    ],
  };
}
