import { describe, expect, it } from "vitest";
import { analysisTask, scanFiles } from "../test-support/source-fixtures.js";
import { isHelmValuesName, scanHelmValues, tasksOnWorkers, workerTarget } from "./helm-values.js";

const GiB = 1024 ** 3;

describe("isHelmValuesName", () => {
  it("knows how values files are named", () => {
    for (const name of [
      "values.yaml",
      "values.yml",
      "values-prod.yaml",
      "prod-values.yaml",
      "airflow.values.yaml",
    ]) {
      expect(isHelmValuesName(name), name).toBe(true);
    }
    for (const name of ["prefect.yaml", "valuesprod.yaml", "values.json", "myvalues.yaml"]) {
      expect(isHelmValuesName(name), name).toBe(false);
    }
  });
});

describe("scanHelmValues", () => {
  const values = (head: string) =>
    `${head}\nworkers:\n  resources:\n    requests:\n      cpu: 2\n      memory: "{{ .Values.memory }}"\n`;

  it("takes worker_concurrency from workers.celery, then config.celery, then the chart's default 16", () => {
    // A second `workers` key is a YAML error: reported, not guessed.
    const twice = scanHelmValues("v.yaml", values("workers:\n  celery:\n    worker_concurrency: 4"));
    expect(twice.findings).toEqual([]);
    expect(twice.problems[0]).toMatchObject({ file: "v.yaml", line: 4 });
    const own = scanHelmValues(
      "values.yaml",
      "config:\n  celery:\n    worker_concurrency: 8\nworkers:\n  celery:\n    worker_concurrency: 4\n  resources:\n    requests: {cpu: 2}\n",
    );
    expect(own.findings[0]?.workers).toEqual({
      executor: "CeleryExecutor",
      slots: 4,
      slotsFrom: "values.yaml:6 (workers.celery.worker_concurrency)",
      queues: ["default"],
      defaultQueue: "default",
      resourcesAt: "workers.resources",
    });
    const templated = scanHelmValues(
      "values.yaml",
      values("config:\n  celery:\n    worker_concurrency: '{{ .Values.slots }}'"),
    );
    expect(templated.findings[0]?.workers).toMatchObject({
      executor: "CeleryExecutor",
      slots: 16,
      slotsFrom: "the chart's default config.celery.worker_concurrency",
    });
    // A templated value is reported, never patched.
    expect(templated.findings.map((finding) => [finding.resource, finding.raw, finding.dynamic])).toEqual([
      ["cpu", "2", false],
      ["memory", '"{{ .Values.memory }}"', true],
    ]);
  });

  it("sizes one task per pod under the KubernetesExecutor and refuses a LocalExecutor's unused workers", () => {
    expect(
      scanHelmValues("values.yaml", values("executor: KubernetesExecutor")).findings[0]?.workers,
    ).toEqual({
      executor: "KubernetesExecutor",
      slots: 1,
      slotsFrom: "one task per KubernetesExecutor pod",
      resourcesAt: "workers.resources",
    });
    expect(
      scanHelmValues("values.yaml", values("executor: CeleryExecutor,KubernetesExecutor")).findings[0]
        ?.workers?.slots,
    ).toBe(16);
    const local = scanHelmValues("values.yaml", values("executor: LocalExecutor"));
    expect(local.findings).toEqual([]);
    expect(local.problems).toEqual([
      {
        file: "values.yaml",
        line: 1,
        message: "workers.resources is not used: the executor runs no worker pods; not read",
      },
    ]);
    expect(scanHelmValues("values.yaml", "workers: [\n").problems[0]?.message).toMatch(/^not valid YAML/);
    expect(scanHelmValues("values.yaml", "workers:\n  resources: {}\n").findings).toEqual([]);
  });
});

describe("worker sets", () => {
  const sets = `executor: CeleryExecutor
config:
  operators:
    default_queue: main
workers:
  celery:
    enableDefault: false
    resources:
      requests: {cpu: 1, memory: 2Gi}
      limits: {memory: 4Gi}
    sets:
      - name: small
        queue: default
      - name: big
        queue: " big , bigger "
        resources:
          requests: {memory: 8Gi}
`;
  it("take the parent's resources whole, or their own whole, and no default set when enableDefault is false", () => {
    const { findings, problems } = scanHelmValues("values.yaml", sets);
    expect(problems).toEqual([]);
    expect(
      findings.map(
        (finding) =>
          `${finding.line} ${finding.resource} ${finding.kind} ${finding.raw} ${finding.workers!.set} ${finding.workers!.queues!.join("|")}`,
      ),
    ).toEqual([
      // `default` is Airflow's [operators] default_queue, here "main".
      "9 cpu request 1 small main",
      "9 memory request 2Gi small main",
      "10 memory limit 4Gi small main",
      // `resources` is replaced whole (workersMergeValues' $fullOverwrite): no CPU request, no limit.
      "17 memory request 8Gi big big|bigger",
    ]);
  });

  it("route a task by its queue, a task without one to the sets on the default queue", async () => {
    const scan = await scanFiles({
      "dags/d.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("d") as dag:
    BashOperator(task_id="plain", bash_command="x")
    BashOperator(task_id="main", bash_command="x", queue="main")
    BashOperator(task_id="big", bash_command="x", queue="bigger")
    BashOperator(task_id="lost", bash_command="x", queue="nobody")
`,
    });
    const recommendations = ["plain", "main", "big", "lost"].map((task) =>
      analysisTask({ pipeline: "d", task, cpuCores: 1, memoryBytes: GiB }),
    );
    const { findings } = scanHelmValues("values.yaml", sets);
    const routed = (set: string) =>
      tasksOnWorkers(
        findings.find((finding) => finding.workers?.set === set)!,
        scan,
        recommendations,
      ).map((analysis) => analysis.task);
    expect(routed("small")).toEqual(["plain", "main"]);
    expect(routed("big")).toEqual(["big"]);
  });
});

describe("workerTarget", () => {
  it("sums the largest recommendations, one per slot, of the tasks the workers run", async () => {
    const scan = await scanFiles({
      "dags/d.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

with DAG("d") as dag:
    BashOperator(task_id="a", bash_command="x")
    BashOperator(task_id="b", bash_command="x")
    BashOperator(task_id="c", bash_command="x", executor_config={"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "1"}))]))})
`,
    });
    const recommendations = [
      analysisTask({ pipeline: "d", task: "a", cpuCores: 0.5, memoryBytes: 4 * GiB }),
      analysisTask({ pipeline: "d", task: "b", cpuCores: 2, memoryBytes: GiB }),
      analysisTask({ pipeline: "d", task: "c", cpuCores: 1, memoryBytes: 2 * GiB }),
      analysisTask({ pipeline: "elsewhere", task: "z", cpuCores: 9, memoryBytes: 9 * GiB }),
    ];
    const celery = scanHelmValues(
      "values.yaml",
      "config:\n  celery:\n    worker_concurrency: 2\nworkers:\n  resources:\n    requests: {cpu: 1}\n",
    ).findings[0]!;
    // Celery runs pod_override tasks on its workers too; the other repository's task is not here.
    expect(workerTarget(celery, scan, recommendations)).toMatchObject({
      cpuCores: 3,
      memoryBytes: 6 * GiB,
      tasks: ["d/a", "d/c", "d/b"],
    });
    // One task per KubernetesExecutor pod: the largest; the task with its own pod resources is not here.
    const pods = scanHelmValues(
      "values.yaml",
      "executor: KubernetesExecutor\nworkers:\n  resources:\n    requests: {cpu: 1}\n",
    ).findings[0]!;
    expect(workerTarget(pods, scan, recommendations)).toMatchObject({ cpuCores: 2, memoryBytes: 4 * GiB });
    expect(workerTarget(celery, scan, [])).toBeNull();
  });
});
