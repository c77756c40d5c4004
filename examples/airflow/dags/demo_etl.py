"""Nightly orders ETL: the Airflow half of the rightsize demo.

Each task declares its resources in one of the ways Airflow users do, so `rightsize scan` and
`rightsize patch` have real declarations to read and rewrite.
"""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

default_args = {"owner": "data-platform", "retries": 1}


def transform_orders(**context):
    """Joins orders with customers on every core it is given."""


with DAG(
    dag_id="demo_etl",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=default_args,
) as dag:
    # gzip is single-threaded, whatever the pod asks for.
    compress_orders = BashOperator(
        task_id="compress_orders",
        bash_command="gzip -9 -c /data/orders.csv > /data/orders.csv.gz",
        executor_config={
            "pod_override": k8s.V1Pod(
                spec=k8s.V1PodSpec(
                    containers=[
                        k8s.V1Container(
                            name="base",
                            resources=k8s.V1ResourceRequirements(
                                requests={"cpu": "4", "memory": "1Gi"},
                                limits={"cpu": "4", "memory": "2Gi"},
                            ),
                        )
                    ]
                )
            )
        },
    )

    transform_parallel = PythonOperator(
        task_id="transform_parallel",
        python_callable=transform_orders,
        resources={"cpus": 2, "ram": 1024},
    )

    build_index = BashOperator(
        task_id="build_index",
        bash_command="python -m jobs.build_index",
        executor_config={
            "KubernetesExecutor": {
                "request_cpu": "1",
                "request_memory": "8Gi",  # sized for last year's catalogue
                "limit_memory": "8Gi",
            }
        },
    )

    write_parquet = KubernetesPodOperator(
        task_id="write_parquet",
        name="write-parquet",
        image="registry.example.com/etl/writer:2.3",
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "1", "memory": "2Gi"},
            limits={"memory": "2Gi"},
        ),
    )

    compress_orders >> transform_parallel >> build_index >> write_parquet
