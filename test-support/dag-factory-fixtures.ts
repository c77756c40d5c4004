/**
 * A DAG repository built with dag-factory, for the dag-factory scanner's tests: a YAML file with a
 * `default` block, DAG-level `default_args` merged over it, a task group, a `__type__` pod_override, a
 * KubernetesPodOperator's `container_resources`, a Jinja value, and YAML files that are no DAGs. Tests only.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import { analysisTask } from "./source-fixtures.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const dagFactoryFiles: Record<string, string> = {
  "dags/load_dags.py": `# dag-factory builds the DAGs of every YAML file in this folder.
from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals())
`,
  "dags/warehouse.yml": `# Warehouse DAGs (dag-factory).
default:
  default_args:
    owner: data
    start_date: 2024-01-01
    resources:
      cpus: 2
      ram: 4096

warehouse_etl:
  schedule: "@daily"
  default_args:
    resources:
      ram: 8192   # the nightly join needs it
  task_groups:
    transform:
      tooltip: transforms
  tasks:
    extract:
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: extract.sh
    aggregate:
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: aggregate.sh
      task_group_name: transform
      dependencies: [extract]
    score:
      operator: airflow.providers.standard.operators.python.PythonOperator
      python_callable_name: score
      python_callable_file: /usr/local/airflow/dags/score.py
      executor_config:
        pod_override:
          __type__: kubernetes.client.models.V1Pod
          spec:
            __type__: kubernetes.client.models.V1PodSpec
            containers:
              __type__: builtins.list
              items:
                - __type__: kubernetes.client.models.V1Container
                  name: "base"
                  resources:
                    __type__: kubernetes.client.models.V1ResourceRequirements
                    requests:
                      cpu: "2000m"
                      memory: "8Gi"
                    limits:
                      memory: "8Gi"

reporting:
  tasks:
    - task_id: train
      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator
      image: trainer:1
      container_resources:
        __type__: kubernetes.client.models.V1ResourceRequirements
        requests:
          cpu: 1
          memory: 2Gi
    - task_id: publish
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: publish.sh
      resources:
        cpus: '{{ var.value.publish_cpus }}'
        ram: 512
`,
  // YAML that is no dag-factory file: never parsed as one, never reported.
  "config/settings.yaml": `tasks:
  retention: 14d
`,
  ".github/workflows/ci.yml": `on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest
`,
};

/** Recommendations for the dag-factory repository's tasks. */
export function dagFactoryAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({ pipeline: "warehouse_etl", task: "extract", cpuCores: 0.5, memoryBytes: GiB }),
      analysisTask({
        pipeline: "warehouse_etl",
        task: "transform.aggregate",
        cpuCores: 1.5,
        memoryBytes: 6 * GiB,
      }),
      analysisTask({ pipeline: "warehouse_etl", task: "score", cpuCores: 1.2, memoryBytes: 5 * GiB }),
      analysisTask({ pipeline: "reporting", task: "train", cpuCores: 0.75, memoryBytes: 3 * GiB }),
      analysisTask({ pipeline: "reporting", task: "publish", cpuCores: 0.25, memoryBytes: 300 * MiB }),
    ],
  };
}

/** The exact `rightsize.patch` for the dag-factory repository and its analysis. */
export const dagFactoryExpectedPatch = `# dags/warehouse.yml:7 warehouse_etl/extract: cpu request 2 -> 0.5
# dags/warehouse.yml:7 warehouse_etl/score: cpu request 2 -> 1.2 (per-task override)
# dags/warehouse.yml:7 warehouse_etl/transform.aggregate: cpu request 2 -> 1.5 (per-task override)
# dags/warehouse.yml:7 reporting/train: cpu request 2 -> 0.75 (per-task override)
# dags/warehouse.yml:8 reporting/train: memory request 4096 -> 3072
# dags/warehouse.yml:14 warehouse_etl/extract: memory request 8192 -> 1024
# dags/warehouse.yml:14 warehouse_etl/score: memory request 8192 -> 5120 (per-task override)
# dags/warehouse.yml:14 warehouse_etl/transform.aggregate: memory request 8192 -> 6144 (per-task override)
# dags/warehouse.yml:44 warehouse_etl/score: cpu request "2000m" -> "1200m"
# dags/warehouse.yml:45 warehouse_etl/score: memory request "8Gi" -> "5Gi"
# dags/warehouse.yml:57 reporting/train: cpu request 1 -> 0.75
# dags/warehouse.yml:58 reporting/train: memory request 2Gi -> 3Gi
# dags/warehouse.yml:64 reporting/publish: memory request 512 -> 320
# override for warehouse_etl/score in dags/warehouse.yml: cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75)); memory request at dags/warehouse.yml:14 is shared by tasks that need different values (warehouse_etl/extract: 1 GiB (1024); warehouse_etl/score: 5 GiB (5120); warehouse_etl/transform.aggregate: 6 GiB (6144))
# override for warehouse_etl/transform.aggregate in dags/warehouse.yml: cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75)); memory request at dags/warehouse.yml:14 is shared by tasks that need different values (warehouse_etl/extract: 1 GiB (1024); warehouse_etl/score: 5 GiB (5120); warehouse_etl/transform.aggregate: 6 GiB (6144))
# override for reporting/train in dags/warehouse.yml: cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75))
diff --git a/dags/warehouse.yml b/dags/warehouse.yml
--- a/dags/warehouse.yml
+++ b/dags/warehouse.yml
@@ -4,14 +4,14 @@
     owner: data
     start_date: 2024-01-01
     resources:
-      cpus: 2
-      ram: 4096
+      cpus: 0.5
+      ram: 3072
 
 warehouse_etl:
   schedule: "@daily"
   default_args:
     resources:
-      ram: 8192   # the nightly join needs it
+      ram: 1024   # the nightly join needs it
   task_groups:
     transform:
       tooltip: transforms
@@ -21,11 +21,15 @@
       bash_command: extract.sh
     aggregate:
       operator: airflow.providers.standard.operators.bash.BashOperator
+      # rightsize: per-task override, cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75)); memory request at dags/warehouse.yml:14 is shared by tasks that need different values (warehouse_etl/extract: 1 GiB (1024); warehouse_etl/score: 5 GiB (5120); warehouse_etl/transform.aggregate: 6 GiB (6144))
+      resources: {cpus: 1.5, ram: 6144}
       bash_command: aggregate.sh
       task_group_name: transform
       dependencies: [extract]
     score:
       operator: airflow.providers.standard.operators.python.PythonOperator
+      # rightsize: per-task override, cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75)); memory request at dags/warehouse.yml:14 is shared by tasks that need different values (warehouse_etl/extract: 1 GiB (1024); warehouse_etl/score: 5 GiB (5120); warehouse_etl/transform.aggregate: 6 GiB (6144))
+      resources: {cpus: 1.2, ram: 5120}
       python_callable_name: score
       python_callable_file: /usr/local/airflow/dags/score.py
       executor_config:
@@ -41,24 +45,26 @@
                   resources:
                     __type__: kubernetes.client.models.V1ResourceRequirements
                     requests:
-                      cpu: "2000m"
-                      memory: "8Gi"
+                      cpu: "1200m"
+                      memory: "5Gi"
                     limits:
                       memory: "8Gi"
 
 reporting:
   tasks:
     - task_id: train
+      # rightsize: per-task override, cpu request at dags/warehouse.yml:7 is shared by tasks that need different values (warehouse_etl/extract: 0.5 cores (0.5); warehouse_etl/score: 1.2 cores (1.2); warehouse_etl/transform.aggregate: 1.5 cores (1.5); reporting/train: 0.75 cores (0.75))
+      resources: {cpus: 0.75, ram: 3072}
       operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator
       image: trainer:1
       container_resources:
         __type__: kubernetes.client.models.V1ResourceRequirements
         requests:
-          cpu: 1
-          memory: 2Gi
+          cpu: 0.75
+          memory: 3Gi
     - task_id: publish
       operator: airflow.providers.standard.operators.bash.BashOperator
       bash_command: publish.sh
       resources:
         cpus: '{{ var.value.publish_cpus }}'
-        ram: 512
+        ram: 320
`;

/**
 * dag-factory's `defaults.yml` files: one for every DAG folder, a nearer one for `marketing/` whose
 * `resources` replace the outer ones whole (and whose `queue` its tasks get), and a DAG whose own
 * `default_args.resources` deep-merge over the defaults.
 */
export const dagFactoryDefaultsFiles: Record<string, string> = {
  "dags/load_dags.py": `from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals())
`,
  "dags/defaults.yml": `# Defaults for every dag-factory DAG below this folder.
default_args:
  owner: data
  resources:
    cpus: 2
    ram: 8192 # sized for the 2023 backfill
`,
  "dags/marketing/defaults.yml": `default_args:
  queue: kubernetes
  resources:
    cpus: 1
`,
  "dags/marketing/campaigns.yml": `campaigns:
  default_args:
    start_date: 2024-01-01
  tasks:
    fetch:
      operator: airflow.operators.bash.BashOperator
      bash_command: fetch.sh
    score:
      operator: airflow.operators.bash.BashOperator
      bash_command: score.sh
`,
  "dags/finance/ledger.yml": `ledger:
  default_args:
    start_date: 2024-01-01
    resources:
      ram: 4096
  tasks:
    close:
      operator: airflow.operators.bash.BashOperator
      bash_command: close.sh
    report:
      operator: airflow.operators.bash.BashOperator
      bash_command: report.sh
      resources: {cpus: 0.5, ram: 1024}
`,
};

export function dagFactoryDefaultsAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      analysisTask({ pipeline: "campaigns", task: "fetch", cpuCores: 0.5, memoryBytes: GiB }),
      analysisTask({ pipeline: "campaigns", task: "score", cpuCores: 1.5, memoryBytes: 2 * GiB }),
      analysisTask({ pipeline: "ledger", task: "close", cpuCores: 1, memoryBytes: 3 * GiB }),
      analysisTask({ pipeline: "ledger", task: "report", cpuCores: 0.5, memoryBytes: 1024 * MiB }),
    ],
  };
}
