import { describe, expect, it } from "vitest";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { GiB } from "../common/units.js";
import { analysisTask, scanFiles } from "../test-support/source-fixtures.js";
import { checkRequests, renderGithubAnnotations } from "./check.js";
import { notAppliedDeclarations, withoutNotApplied } from "./effective.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planPatches, usableRecommendations } from "./patcher.js";

const options = { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 };

const dag = `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

with DAG("etl") as dag:
    BashOperator(task_id="load", bash_command="x", resources={"cpus": 1, "ram": 8192})
    BashOperator(
        task_id="pod",
        bash_command="x",
        executor_config={"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "6Gi"}))]))},
    )
    BashOperator(task_id="fits", bash_command="x", resources={"cpus": 1, "ram": 1024})
`;

function withEffective(task: TaskAnalysis, effective: TaskAnalysis["effectiveRequest"]): TaskAnalysis {
  return { ...task, effectiveRequest: effective };
}

const cgroupGiB = { cpu: null, memory: { request: null, limit: GiB, source: "cgroup" as const, runs: 5 } };

function documentOf(tasks: TaskAnalysis[]): AnalysisDocument {
  return { generatedAt: "2026-11-20T02:00:00Z", windowDays: 14, tasks };
}

describe("declared against effective", () => {
  it("tells resources= and pod_override that never reached their tasks, with the reason", async () => {
    const scan = await scanFiles({ "dags/etl.py": dag });
    const document = documentOf([
      withEffective(
        analysisTask({ pipeline: "etl", task: "load", cpuCores: 0.5, memoryBytes: GiB }),
        cgroupGiB,
      ),
      withEffective(
        analysisTask({ pipeline: "etl", task: "pod", cpuCores: 0.5, memoryBytes: GiB }),
        cgroupGiB,
      ),
      withEffective(
        analysisTask({ pipeline: "etl", task: "fits", cpuCores: 0.5, memoryBytes: GiB }),
        cgroupGiB,
      ),
    ]);
    const found = notAppliedDeclarations(scan, document);
    expect(
      found.map((item) => `${item.finding.file}:${item.finding.line} ${item.task}: ${item.message}`),
    ).toEqual([
      "dags/etl.py:6 load: memory request 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup; Airflow applies resources= only through Airflow 2's CgroupTaskRunner ([core] task_runner) on a worker outside any container; the default runner ignores it and Airflow 3 has no task runners. The effective value is set in the cgroup the task ran in (its worker's container or service limits)",
      "dags/etl.py:10 pod: memory request 6 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup; executor_config sizes only a pod the KubernetesExecutor starts, and these runs had no pod spec. The effective value is set in the cgroup the task ran in (its worker's container or service limits)",
    ]);
  });

  it("names the Helm chart's worker limit when it is the cap the runs had", async () => {
    const scan = await scanFiles({
      "dags/etl.py": dag,
      "chart/values.yaml":
        "executor: CeleryExecutor\nworkers:\n  resources:\n    limits:\n      memory: 1Gi\n",
    });
    const document = documentOf([
      withEffective(
        analysisTask({ pipeline: "etl", task: "load", cpuCores: 0.5, memoryBytes: GiB }),
        cgroupGiB,
      ),
    ]);
    const [found] = notAppliedDeclarations(scan, document);
    // The repository alone tells it: the task declares more than the limit of the workers it runs on.
    expect(found?.reason).toBe(
      "the task runs on the Helm chart's Celery workers, whose worker container's memory limit 1 GiB (chart/values.yaml:5) caps every task in it",
    );
    expect(found?.where).toBe("chart/values.yaml:5 (workers.resources.limits.memory)");
  });

  it("tells a job variable the work pool's template never names, from the repository alone", async () => {
    const scan = await scanFiles({
      "flows/etl.py": "from prefect import flow\n\n\n@flow\ndef nightly():\n    pass\n",
      "prefect.yaml": `deployments:
  - name: big
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: k8s
      job_variables:
        memory: 12Gi
`,
      "pools/k8s.json": `{
  "job_configuration": {
    "job_manifest": {"spec": {"template": {"spec": {"containers": [{"image": "{{ image }}", "resources": {"requests": {"memory": "4Gi"}}}]}}}}
  },
  "variables": {"properties": {"image": {"default": "flows:1"}}}
}
`,
    });
    const document = documentOf([
      analysisTask({
        orchestrator: "prefect",
        pipeline: "nightly/big",
        task: "__flow__",
        cpuCores: 0.5,
        memoryBytes: GiB,
      }),
    ]);
    const found = notAppliedDeclarations(scan, document);
    expect(found.map((item) => [item.finding.file, item.finding.line, item.message])).toEqual([
      [
        "prefect.yaml",
        7,
        "memory request 12 GiB does not apply: the base job template of work pool k8s (pools/k8s.json:2) has no {{ memory }} placeholder, so the job variable memory is dropped. The effective value is set in the work pool k8s's base job template (pools/k8s.json:2)",
      ],
    ]);
  });

  it("is a warning in check, annotated on its file and line, that fails at --fail-on warning only", async () => {
    const hostile = `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("etl,x::y") as dag:
    BashOperator(task_id="load%0A", bash_command="x", resources={"cpus": 1, "ram": 8192})
`;
    const scan = await scanFiles({ "dags/a,b.py": hostile });
    const document = documentOf([
      withEffective(
        analysisTask({
          pipeline: "etl,x::y",
          task: "load%0A",
          cpuCores: 1,
          memoryBytes: 8 * GiB,
          peakBytes: 0.5 * GiB,
        }),
        cgroupGiB,
      ),
    ]);
    const warning = checkRequests(scan, document, options, "warning");
    const item = warning.items.find((candidate) => candidate.verdict === "does-not-apply");
    expect(item).toMatchObject({
      file: "dags/a,b.py",
      line: 5,
      severity: "warning",
      effective: "1 GiB limit",
    });
    expect(warning.failed).toBe(true);
    // The memory request that does not apply is not also sized against the recommendation; the CPU one is.
    expect(warning.items.map((candidate) => `${candidate.resource} ${candidate.verdict}`)).toEqual([
      "memory does-not-apply",
      "cpu ok",
    ]);
    expect(checkRequests(scan, document, options, "critical").failed).toBe(false);
    const annotation = renderGithubAnnotations(warning)
      .split("\n")
      .find((line) => line.includes("does-not-apply"));
    expect(annotation).toMatch(
      /^::warning file=dags\/a%2Cb\.py,line=5,title=rightsize%3A etl%2Cx%3A%3Ay\/load%250A does-not-apply::memory request 8 GiB does not apply: /,
    );
  });

  it("is left alone by patch, with a note saying where the effective value lives", async () => {
    const scan = await scanFiles({ "dags/etl.py": dag });
    const document = documentOf([
      withEffective(
        analysisTask({ pipeline: "etl", task: "load", cpuCores: 0.5, memoryBytes: 2 * GiB }),
        cgroupGiB,
      ),
      withEffective(
        analysisTask({ pipeline: "etl", task: "fits", cpuCores: 0.5, memoryBytes: 2 * GiB }),
        cgroupGiB,
      ),
    ]);
    const applying = withoutNotApplied(scan, notAppliedDeclarations(scan, document));
    const plan = planPatches(
      applying.scan,
      new Map([["dags/etl.py", dag]]),
      usableRecommendations(document.tasks),
    );
    plan.notes.push(...applying.notes);
    expect(
      plan.changes.map(
        (change) =>
          `${change.line} ${change.tasks.join(",")} ${change.resource} ${change.from} -> ${change.to}`,
      ),
    ).toEqual(["6 etl/load cpu 1 -> 0.5", "12 etl/fits cpu 1 -> 0.5", "12 etl/fits memory 1024 -> 2048"]);
    expect(renderUnifiedDiff(plan)).toContain(
      "# dags/etl.py:6 etl/load: left as it is, memory request 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup; ",
    );
    // The scan itself keeps every finding: scan and check still show the value.
    expect(scan.findings.filter((finding) => finding.tasks.includes("load"))).toHaveLength(2);
  });

  it("tells executor_config on a task CeleryKubernetesExecutor sends to a Celery worker, from the repository alone", async () => {
    const queued = `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

POD = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "6Gi"}))]))}

with DAG("mixed") as dag:
    BashOperator(task_id="celery", bash_command="x", executor_config=POD)
    BashOperator(task_id="other", bash_command="x", queue="heavy", executor_config=POD)
    BashOperator(task_id="pod", bash_command="x", queue="kubernetes", executor_config=POD)
`;
    const scan = await scanFiles({
      "dags/mixed.py": queued,
      "chart/values.yaml":
        "executor: CeleryKubernetesExecutor\nworkers:\n  resources:\n    limits:\n      memory: 4Gi\n",
    });
    const document = documentOf(
      ["celery", "other", "pod"].map((task) =>
        analysisTask({ pipeline: "mixed", task, cpuCores: 0.5, memoryBytes: GiB }),
      ),
    );
    expect(notAppliedDeclarations(scan, document).map((item) => `${item.task}: ${item.message}`)).toEqual([
      "celery: memory request 6 GiB does not apply: under CeleryKubernetesExecutor only tasks with queue=\"kubernetes\" run in a pod the KubernetesExecutor starts; this task has the default queue, so it runs on a Celery worker, where executor_config is never read; and the task runs on the Helm chart's Celery workers, whose worker container's memory limit 4 GiB (chart/values.yaml:5) caps every task in it. The effective value is set in chart/values.yaml:5 (workers.resources.limits.memory)",
      // Queue "heavy" is not the default workers' queue: which workers run it the chart does not say.
      'other: memory request 6 GiB does not apply: under CeleryKubernetesExecutor only tasks with queue="kubernetes" run in a pod the KubernetesExecutor starts; this task has queue "heavy", so it runs on a Celery worker, where executor_config is never read. The effective value is set in the Celery worker\'s own resources (its container, or the Helm chart\'s workers.resources)',
    ]);
  });
});
