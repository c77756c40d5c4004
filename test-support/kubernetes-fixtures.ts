/**
 * Two DAG repositories the request tests build in temp folders: one whose KubernetesExecutor tasks start
 * from pod template files (a default named by airflow.cfg, a per-task one named two ways), and one whose
 * Celery workers are sized by the Airflow Helm chart's values. Tests only.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import { analysisTask } from "./source-fixtures.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const podTemplateFixtureFiles: Record<string, string> = {
  "airflow.cfg": `[core]
executor = KubernetesExecutor

[kubernetes_executor]
# Every task pod starts from this template unless its task names another.
pod_template_file = /opt/airflow/pod_templates/default_template.yaml
namespace = airflow
`,
  "pod_templates/default_template.yaml": `# The pod every task starts from (KubernetesExecutor).
apiVersion: v1
kind: Pod
metadata:
  name: placeholder-name
spec:
  containers:
    - name: base
      image: apache/airflow:2.9.3
      resources:
        requests:
          cpu: 500m # per-task pods start here
          memory: "1Gi"
        limits:
          memory: 2Gi
    - name: log-shipper
      image: busybox:1.36
      resources:
        requests:
          cpu: 100m
  restartPolicy: Never
`,
  "pod_templates/heavy.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: heavy
spec:
  containers:
  - name: base
    image: apache/airflow:2.9.3
    resources:
      requests: {cpu: "4", memory: 16Gi}
      limits: {cpu: "8", memory: 16Gi}
`,
  "dags/k8s_etl.py": `import os

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.settings import AIRFLOW_HOME

with DAG("k8s_etl", schedule="@daily") as dag:
    extract = BashOperator(task_id="extract", bash_command="extract.sh")
    load = BashOperator(task_id="load", bash_command="load.sh")
    train = BashOperator(
        task_id="train",
        bash_command="train.sh",
        executor_config={"pod_template_file": os.path.join(AIRFLOW_HOME, "pod_templates/heavy.yaml")},
    )
    extract >> load >> train
`,
  "dags/reports.py": `from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes.client import models as k8s

HEAVY = {"pod_template_file": "pod_templates/heavy.yaml"}

with DAG(dag_id="reports") as dag:
    render = PythonOperator(task_id="render", python_callable=print, executor_config=HEAVY)
    summarize = PythonOperator(task_id="summarize", python_callable=print)
    publish = PythonOperator(
        task_id="publish",
        python_callable=print,
        executor_config={
            "pod_override": k8s.V1Pod(
                spec=k8s.V1PodSpec(
                    containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "250m"}))]
                )
            )
        },
    )
    escape = PythonOperator(task_id="escape", python_callable=print, executor_config={"pod_template_file": "../shared/pod.yaml"})
`,
};

/** Recommendations for the pod-template repository's tasks. */
export function podTemplateAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({ pipeline: "k8s_etl", task: "extract", cpuCores: 0.3, memoryBytes: 640 * MiB }),
      analysisTask({ pipeline: "k8s_etl", task: "load", cpuCores: 1.05, memoryBytes: 704 * MiB }),
      analysisTask({ pipeline: "k8s_etl", task: "train", cpuCores: 3.1, memoryBytes: 10 * GiB }),
      analysisTask({ pipeline: "reports", task: "render", cpuCores: 2, memoryBytes: 6 * GiB }),
      analysisTask({ pipeline: "reports", task: "summarize", cpuCores: 0.2, memoryBytes: 320 * MiB }),
      analysisTask({ pipeline: "reports", task: "publish", cpuCores: 0.1, memoryBytes: 128 * MiB }),
    ],
  };
}

export const helmValuesFixtureFiles: Record<string, string> = {
  "dags/celery_etl.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

with DAG("celery_etl", schedule="@hourly") as dag:
    extract = BashOperator(task_id="extract", bash_command="extract.sh")
    transform = BashOperator(task_id="transform", bash_command="transform.sh")
    load = BashOperator(task_id="load", bash_command="load.sh")
    train = KubernetesPodOperator(
        task_id="train",
        image="trainer:1",
        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "8", "memory": "32Gi"}),
    )
    extract >> transform >> load >> train
`,
  "deploy/airflow/values.yaml": `# Production overrides for the apache-airflow/airflow chart.
executor: CeleryExecutor

config:
  celery:
    worker_concurrency: 2 # two task slots per worker

workers:
  replicas: 3
  resources:
    requests:
      cpu: "4"
      memory: 16Gi # sized for the 2023 backfill
    limits:
      cpu: 6
      memory: 16Gi

scheduler:
  resources:
    requests:
      cpu: "1"
`,
  "deploy/redis/values.yaml": `# Another chart's values: no Airflow workers here.
replica:
  resources:
    requests:
      cpu: 250m
`,
};

/** Recommendations for the Helm-values repository's tasks (the KubernetesPodOperator task's is its pod's). */
export function helmValuesAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({ pipeline: "celery_etl", task: "extract", cpuCores: 0.5, memoryBytes: GiB }),
      analysisTask({ pipeline: "celery_etl", task: "transform", cpuCores: 1.5, memoryBytes: 3 * GiB }),
      analysisTask({ pipeline: "celery_etl", task: "load", cpuCores: 0.25, memoryBytes: 512 * MiB }),
      analysisTask({ pipeline: "celery_etl", task: "train", cpuCores: 8, memoryBytes: 30 * GiB }),
    ],
  };
}
