/**
 * The DAG repository the request tests build in a temp folder: every declaration pattern the scanner
 * knows, a prefect.yaml with comments and anchors, a Python `.deploy` call, a file with a syntax error
 * and dynamic values. Tests only.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { emptyScanResult, type ScanResult } from "../sources/findings.js";
import type { PrefectNames } from "../sources/declaration-patterns.js";
import { pythonParser } from "../sources/python-syntax.js";
import { settleDeployedFlows } from "../sources/prefect.js";
import { pythonFirst, scanSourceInto } from "../sources/scan-repository.js";
import { settleWorkPoolDefaults } from "../sources/work-pool-template.js";

export const fixtureFiles: Record<string, string> = {
  "dags/resources_dag.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("resources_dag", schedule="@daily") as dag:
    crunch = BashOperator(
        task_id="crunch",
        bash_command="crunch.sh",
        resources={"cpus": 4, "ram": 8192},  # sized for the 2023 backfill
    )
    notify = BashOperator(task_id="notify", bash_command="notify.sh")
    crunch >> notify
`,
  "dags/pod_inline.py": `from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes.client import models as k8s

with DAG(dag_id="pod_inline") as dag:
    PythonOperator(
        task_id="score",
        python_callable=print,
        executor_config={
            "pod_override": k8s.V1Pod(
                spec=k8s.V1PodSpec(
                    containers=[
                        k8s.V1Container(
                            name="base",
                            resources=k8s.V1ResourceRequirements(
                                requests={"cpu": "2000m", "memory": "8Gi"},
                                limits={"cpu": "4000m", "memory": "16Gi"},
                            ),
                        )
                    ]
                )
            )
        },
    )
`,
  "dags/pod_shared.py": `from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes.client import models as k8s

# Both tasks run the same image with the same sizing.
POD = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(
                name="base",
                resources=k8s.V1ResourceRequirements(requests={'cpu': 2, 'memory': '4096Mi'}),
            )
        ]
    )
)

dag = DAG("pod_shared", schedule=None)

extract = PythonOperator(task_id="extract", python_callable=print, executor_config={"pod_override": POD}, dag=dag)
transform = PythonOperator(task_id="transform", python_callable=print, executor_config={"pod_override": POD}, dag=dag)
`,
  "dags/pod_split.py": `from airflow import DAG
from airflow.operators.python import PythonOperator
from kubernetes.client import models as k8s

SIZING = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "2Gi"}))]))}

with DAG("pod_split") as dag:
    small = PythonOperator(
        task_id="small",
        python_callable=print,
        executor_config=SIZING,
    )
    large = PythonOperator(
        task_id="large",
        python_callable=print,
        executor_config=SIZING,
    )
`,
  "dags/taskflow.py": `import pendulum
from airflow.decorators import dag, task
from kubernetes.client import models as k8s

HEAVY = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(
                name="base",
                resources=k8s.V1ResourceRequirements(
                    requests={"cpu": 0.5, "memory": "1Gi"},
                    limits={"memory": "1Gi"},
                ),
            )
        ]
    )
)


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1))
def taskflow_etl():
    @task(executor_config={"pod_override": HEAVY})
    def load():
        return 1

    @task(task_id="publish_report")
    def publish():
        return 2

    publish(load())


taskflow_etl()
`,
  "dags/kpo.py": `from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

with DAG(dag_id="kpo_dag") as dag:
    KubernetesPodOperator(
        task_id="train",
        image="trainer:1",
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": 1, "memory": "1024Mi"},
            limits={"cpu": 2.0, "memory": "2048Mi"},
        ),
    )
`,
  "dags/legacy.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("legacy_dag") as dag:
    BashOperator(
        task_id="archive",
        bash_command="tar czf out.tgz data/",
        executor_config={"KubernetesExecutor": {"request_cpu": "1", "request_memory": "1G", "limit_memory": "2G"}},
    )
`,
  "dags/defaults.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

default_args = {
    "owner": "data",
    "resources": {"cpus": 1, "ram": 2048},
}

with DAG("defaults_dag", default_args=default_args) as dag:
    a = BashOperator(task_id="a", bash_command="a.sh")
    b = BashOperator(
        task_id="b",
        bash_command="b.sh",
    )
    c = BashOperator(task_id="c", bash_command="c.sh", resources={"cpus": 0.5, "ram": 512})
    a >> b >> c
`,
  "dags/decorated_defaults.py": `from airflow.decorators import dag, task


@dag(dag_id="decorated_defaults", default_args={"executor_config": {"KubernetesExecutor": {"request_cpu": "500m", "request_memory": "512Mi"}}})
def pipeline():
    @task
    def fetch():
        return 1

    @task
    def parse(x):
        return x

    parse(fetch())


pipeline()
`,
  "dags/dynamic.py": `import os

from airflow import DAG
from airflow.operators.bash import BashOperator


def cpu_for(name):
    return 2


MEMORY = os.environ.get("MEMORY", "1Gi")

with DAG("dynamic_dag") as dag:
    BashOperator(
        task_id="computed",
        bash_command="run.sh",
        executor_config={"KubernetesExecutor": {"request_cpu": cpu_for("computed"), "request_memory": f"{2 * 1024}Mi"}},
    )
    BashOperator(
        task_id="templated",
        bash_command="run.sh",
        executor_config={"KubernetesExecutor": {"request_cpu": "{{ var.value.cpu }}", "request_memory": MEMORY}},
    )
    BashOperator(task_id="unknown_name", bash_command="run.sh", resources={"cpus": UNDEFINED_CPUS, "ram": 1024})
`,
  "dags/broken.py": `from airflow import DAG

with DAG("broken_dag") as dag:
    BashOperator(task_id="x", bash_command="x.sh"
    print("unbalanced"
`,
  "flows/deploy_flows.py": `from prefect import flow


@flow(name="nightly-warehouse")
def nightly():
    pass


if __name__ == "__main__":
    nightly.deploy(
        name="nightly-ecs",
        work_pool_name="ecs-pool",
        image="registry.example/nightly:1",
        job_variables={"cpu": 2048, "memory": 8192},
    )
`,
  "prefect.yaml": `# Prefect deployments for the warehouse flows.
name: warehouse
prefect-version: 3.1.0

definitions:
  job_variables: &small_job
    cpu: "1000m"   # Cloud Run: one vCPU
    memory: "2Gi"

deployments:
  - name: hourly-sync
    entrypoint: flows/sync.py:sync
    work_pool:
      name: cloud-run
      job_variables: *small_job
  - name: daily-rollup
    entrypoint: flows/rollup.py:rollup
    work_pool:
      name: cloud-run
      job_variables: *small_job
  - name: ecs-export
    entrypoint: flows/deploy_flows.py:nightly
    work_pool:
      name: ecs
      job_variables:
        cpu: 4096 # four vCPU
        memory: 16384
        image: export:2
`,
};

/** Writes the fixture repository under `folder` and returns `folder`. */
export function writeFixtureRepository(folder: string): string {
  for (const [file, text] of Object.entries(fixtureFiles)) {
    const path = join(folder, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return folder;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

interface FixtureTask {
  orchestrator?: string;
  pipeline: string;
  task: string;
  cpuCores: number;
  memoryBytes: number;
  peakBytes?: number;
  throttledShare?: number;
  confidence?: TaskAnalysis["recommendation"]["confidence"];
  runs?: number;
  monthlySavingsUsd?: number | null;
}

/** One analysis-document task entry with the figures a test cares about and plausible rest. */
export function analysisTask(spec: FixtureTask): TaskAnalysis {
  const peak = spec.peakBytes ?? spec.memoryBytes / 1.15;
  return {
    orchestrator: spec.orchestrator ?? "airflow",
    pipeline: spec.pipeline,
    task: spec.task,
    runs: spec.runs ?? 12,
    durationSeconds: { p50: 600, p95: 700, max: 800 },
    cpu: {
      requestCores: null,
      limitCores: null,
      requestSource: null,
      p50: spec.cpuCores / 2,
      p90: spec.cpuCores / 1.2,
      p95: spec.cpuCores / 1.15,
      p99: spec.cpuCores,
      max: spec.cpuCores,
      cpuSecondsPerRun: { p50: 300, max: 400 },
      throttledShare: spec.throttledShare ?? 0,
    },
    memory: {
      requestBytes: null,
      limitBytes: null,
      requestSource: null,
      peakBytes: { p50: peak * 0.8, p95: peak * 0.95, max: peak },
      oomKills: 0,
    },
    disk: { readBytesPerRun: { p50: 0 }, writeBytesPerRun: { p50: 0 } },
    network: { rxBytesPerRun: { p50: null }, txBytesPerRun: { p50: null } },
    timeShares: { cpu: 0.6, cpuWait: 0.05, diskWait: 0.05, networkWait: 0.1, idle: 0.2, childWait: 0 },
    bottleneck: (spec.throttledShare ?? 0) > 0.05 ? "cpu-throttled" : "balanced",
    evidence: [],
    processes: [],
    recommendation: {
      cpuCores: spec.cpuCores,
      memoryBytes: spec.memoryBytes,
      confidence: spec.confidence ?? "high",
      severity: "warning",
      monthlySavingsUsd: spec.monthlySavingsUsd === undefined ? 10 : spec.monthlySavingsUsd,
      reason: "fixture",
    },
  };
}

/** Recommendations for the fixture repository: over-, under-, un-declared, shared and split tasks. */
export function fixtureAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({
        pipeline: "resources_dag",
        task: "crunch",
        cpuCores: 0.3,
        memoryBytes: 900 * MiB,
        monthlySavingsUsd: 41.5,
      }),
      analysisTask({ pipeline: "resources_dag", task: "notify", cpuCores: 0.1, memoryBytes: 200 * MiB }),
      analysisTask({
        pipeline: "pod_inline",
        task: "score",
        cpuCores: 1.2,
        memoryBytes: 5 * GiB,
        monthlySavingsUsd: 12,
      }),
      analysisTask({ pipeline: "pod_shared", task: "extract", cpuCores: 0.7, memoryBytes: 3 * GiB }),
      analysisTask({ pipeline: "pod_shared", task: "transform", cpuCores: 0.7, memoryBytes: 3 * GiB }),
      analysisTask({ pipeline: "pod_split", task: "small", cpuCores: 0.2, memoryBytes: 600 * MiB }),
      analysisTask({ pipeline: "pod_split", task: "large", cpuCores: 3.1, memoryBytes: 7 * GiB }),
      analysisTask({ pipeline: "taskflow_etl", task: "load", cpuCores: 0.2, memoryBytes: 700 * MiB }),
      analysisTask({
        pipeline: "kpo_dag",
        task: "train",
        cpuCores: 3,
        memoryBytes: 3 * GiB,
        peakBytes: 2.8 * GiB,
        monthlySavingsUsd: null,
      }),
      analysisTask({
        pipeline: "legacy_dag",
        task: "archive",
        cpuCores: 1.5,
        memoryBytes: 600 * MiB,
        throttledShare: 0.2,
      }),
      analysisTask({ pipeline: "defaults_dag", task: "a", cpuCores: 0.25, memoryBytes: GiB }),
      analysisTask({ pipeline: "defaults_dag", task: "b", cpuCores: 0.25, memoryBytes: 3 * GiB }),
      analysisTask({
        pipeline: "defaults_dag",
        task: "c",
        cpuCores: 0.1,
        memoryBytes: 100 * MiB,
        confidence: "none",
        runs: 0,
      }),
      analysisTask({ pipeline: "decorated_defaults", task: "fetch", cpuCores: 0.1, memoryBytes: 256 * MiB }),
      analysisTask({ pipeline: "decorated_defaults", task: "parse", cpuCores: 0.8, memoryBytes: 256 * MiB }),
      analysisTask({ pipeline: "dynamic_dag", task: "unknown_name", cpuCores: 0.5, memoryBytes: 2 * GiB }),
      analysisTask({
        orchestrator: "prefect",
        pipeline: "sync/hourly-sync",
        task: "__flow__",
        cpuCores: 0.5,
        memoryBytes: GiB,
      }),
      analysisTask({
        orchestrator: "prefect",
        pipeline: "rollup/daily-rollup",
        task: "__flow__",
        cpuCores: 0.5,
        memoryBytes: 3 * GiB,
      }),
      analysisTask({
        orchestrator: "prefect",
        pipeline: "nightly-warehouse/ecs-export",
        task: "__flow__",
        cpuCores: 0.9,
        memoryBytes: 3 * GiB,
      }),
      analysisTask({
        orchestrator: "prefect",
        pipeline: "nightly-warehouse/nightly-ecs",
        task: "__flow__",
        cpuCores: 0.1,
        memoryBytes: 100 * MiB,
        confidence: "none",
      }),
      analysisTask({ pipeline: "elsewhere_dag", task: "not_in_this_repo", cpuCores: 1, memoryBytes: GiB }),
    ],
  };
}

/** The configuration's default Prefect variable names. */
export const defaultPrefectNames: PrefectNames = {
  cpuVariables: ["cpu", "cpu_request"],
  memoryVariables: ["memory", "memory_request"],
};

/** Scans in-memory files (path → text) the way scanRepository scans a folder, in path order. */
export async function scanFiles(
  files: Record<string, string> = fixtureFiles,
  names: PrefectNames = defaultPrefectNames,
): Promise<ScanResult> {
  const parser = await pythonParser();
  const result = emptyScanResult();
  for (const file of pythonFirst(Object.keys(files).sort((a, b) => a.localeCompare(b)))) {
    scanSourceInto(result, parser, file, files[file]!, names);
  }
  settleDeployedFlows(result);
  settleWorkPoolDefaults(result);
  return result;
}
