/**
 * Repositories whose executor decides which requests reach a task: one deployed with the CeleryExecutor
 * (named in `.env` over airflow.cfg's LocalExecutor), one with the KubernetesExecutor and a default pod
 * template that a task's own pod competes with; each with an analysis of what the runs really had.
 */
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";
import { analysisTask } from "./source-fixtures.js";

export const celeryExecutorFiles: Record<string, string> = {
  "airflow.cfg": "[core]\nexecutor = LocalExecutor\n",
  ".env": "AIRFLOW__CORE__EXECUTOR=CeleryExecutor\n",
  "dags/etl.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

with DAG("etl") as dag:
    extract = BashOperator(
        task_id="extract",
        bash_command="extract.sh",
        executor_config={
            "pod_override": k8s.V1Pod(
                spec=k8s.V1PodSpec(
                    containers=[
                        k8s.V1Container(
                            name="base",
                            resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "4Gi"}),
                        )
                    ]
                )
            )
        },
    )
    load = BashOperator(task_id="load", bash_command="load.sh", resources={"cpus": 2, "ram": 4096})
`,
};

export function celeryExecutorAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({ pipeline: "etl", task: "extract", cpuCores: 0.5, memoryBytes: GiB }),
      analysisTask({ pipeline: "etl", task: "load", cpuCores: 0.75, memoryBytes: 1536 * MiB }),
    ],
  };
}

export const kubernetesExecutorFiles: Record<string, string> = {
  "airflow.cfg": `[core]
executor = KubernetesExecutor

[kubernetes_executor]
pod_template_file = pod_templates/base.yaml
`,
  "pod_templates/base.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: task
spec:
  containers:
    - name: base
      image: apache/airflow:2.10.5
      resources:
        requests:
          cpu: 500m
          memory: 2Gi # every task's pod starts here
`,
  "dags/scoring.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

from sizing import make_config

SIDECAR_FIRST = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(name="proxy"),
            k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "6Gi"})),
        ]
    )
)

with DAG("scoring") as dag:
    score = BashOperator(task_id="score", bash_command="score.sh", executor_config={"pod_override": SIDECAR_FIRST})
    legacy = BashOperator(
        task_id="legacy",
        bash_command="legacy.sh",
        executor_config={"KubernetesExecutor": {"request_memory": "1Gi"}},
    )
    render = BashOperator(task_id="render", bash_command="render.sh", executor_config=make_config())
    plain = BashOperator(task_id="plain", bash_command="plain.sh")
    weighed = BashOperator(task_id="weighed", bash_command="weighed.sh", resources={"cpus": 4, "ram": 8192})
`,
};

/** What a KubernetesExecutor pod's spec held, as the collector records it. */
function podSpec(cpu: number, memory: number): TaskAnalysis["effectiveRequest"] {
  return {
    cpu: { request: cpu, limit: null, source: "pod-spec", runs: 12 },
    memory: { request: memory, limit: null, source: "pod-spec", runs: 12 },
  };
}

export function kubernetesExecutorAnalysis(): AnalysisDocument {
  const task = (name: string, cpuCores: number, memoryBytes: number, had: [number, number]) => ({
    ...analysisTask({ pipeline: "scoring", task: name, cpuCores, memoryBytes }),
    effectiveRequest: podSpec(...had),
  });
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      // The template's 2 GiB, not the override's 6 GiB (on the override's second container).
      task("score", 0.25, 5 * GiB, [0.5, 2 * GiB]),
      // The template's 2 GiB, not the legacy keys' 1 GiB.
      task("legacy", 0.25, GiB, [0.5, 2 * GiB]),
      // make_config()'s 3 GiB over the template's 2 GiB.
      task("render", 0.25, 2.5 * GiB, [0.5, 3 * GiB]),
      task("plain", 0.25, GiB, [0.5, 2 * GiB]),
      task("weighed", 0.25, 1.5 * GiB, [0.5, 2 * GiB]),
    ],
  };
}

/**
 * The Helm chart under CeleryKubernetesExecutor, its worker_concurrency set only through `workers.env`
 * (over `env` and `config.celery.worker_concurrency`): three slots per worker; the kubernetes-queue task
 * runs in its own pod, the pod_override on a default-queue task reaches nothing.
 */
export const celeryKubernetesChartFiles: Record<string, string> = {
  "chart/values.yaml": `executor: CeleryKubernetesExecutor
env:
  - name: AIRFLOW__CELERY__WORKER_CONCURRENCY
    value: "8"
config:
  celery:
    worker_concurrency: 16
workers:
  env:
    - name: AIRFLOW__CELERY__WORKER_CONCURRENCY
      value: "3" # three tasks at once per worker
  resources:
    requests:
      cpu: 2
      memory: 3Gi
    limits:
      memory: 6Gi
`,
  "dags/warehouse.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

BIG_POD = {
    "pod_override": k8s.V1Pod(
        spec=k8s.V1PodSpec(
            containers=[
                k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "8Gi"}))
            ]
        )
    )
}

with DAG("warehouse") as dag:
    a = BashOperator(task_id="a", bash_command="a.sh")
    b = BashOperator(task_id="b", bash_command="b.sh")
    c = BashOperator(task_id="c", bash_command="c.sh")
    d = BashOperator(task_id="d", bash_command="d.sh")
    heavy = BashOperator(task_id="heavy", bash_command="heavy.sh", queue="kubernetes", executor_config=BIG_POD)
    misrouted = BashOperator(task_id="misrouted", bash_command="m.sh", executor_config=BIG_POD)
`,
};

export function celeryKubernetesChartAnalysis(): AnalysisDocument {
  const task = (name: string, cpuCores: number, memoryBytes: number) =>
    analysisTask({ pipeline: "warehouse", task: name, cpuCores, memoryBytes, peakBytes: memoryBytes / 1.25 });
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      task("a", 1, 2 * GiB),
      task("b", 0.5, GiB),
      task("c", 0.5, GiB),
      task("d", 0.25, 512 * MiB),
      task("heavy", 4, 7 * GiB),
      task("misrouted", 0.25, 512 * MiB),
    ],
  };
}
