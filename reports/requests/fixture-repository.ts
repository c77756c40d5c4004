/**
 * The DAG repository the request tests build in a temp folder: every declaration pattern the scanner
 * knows, a prefect.yaml with comments and anchors, a Python `.deploy` call, a file with a syntax error
 * and dynamic values. Tests only.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

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
    b = BashOperator(task_id="b", bash_command="b.sh")
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


@flow
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
    entrypoint: flows/export.py:export
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
