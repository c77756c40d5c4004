/**
 * Worker-level requests in the CI check and the patch: the Helm chart's `workers.resources` against the
 * tasks that run on those workers, with `worker_concurrency` set only through `workers.env` and the
 * kubernetes-queue task of a CeleryKubernetesExecutor counted out. The patch is an exact diff
 * `git apply --check` accepts, read back by PyYAML as Helm's values are read.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  celeryKubernetesChartAnalysis,
  celeryKubernetesChartFiles,
} from "../test-support/executor-fixtures.js";
import {
  patchedRepository,
  readWithPyYaml,
  useScratchFolder,
  writeRepository,
} from "../test-support/repositories.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { checkRequests, renderGithubAnnotations } from "./check.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";

const work = useScratchFolder("worker-check");
const options = { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 };
const slots = "chart/values.yaml:11 (workers.env AIRFLOW__CELERY__WORKER_CONCURRENCY)";

describe("worker-level requests", () => {
  it("take worker_concurrency from workers.env over env and config.celery", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "scan"), celeryKubernetesChartFiles),
      defaultPrefectNames,
    );
    expect(scan.problems).toEqual([]);
    expect(scan.executors).toEqual([
      { file: "chart/values.yaml", line: 1, executor: "CeleryKubernetesExecutor", from: "helm" },
    ]);
    for (const finding of scan.findings.filter((candidate) => candidate.via === "worker")) {
      expect(finding.workers).toEqual({
        executor: "CeleryKubernetesExecutor",
        slots: 3,
        slotsFrom: slots,
        queues: ["default"],
        defaultQueue: "default",
        resourcesAt: "workers.resources",
      });
    }
  });

  it("get a verdict in check against the observed use of the tasks on those workers", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "check"), celeryKubernetesChartFiles),
      defaultPrefectNames,
    );
    const report = checkRequests(scan, celeryKubernetesChartAnalysis(), options, "critical");
    expect(
      report.items
        .filter((item) => item.pipeline === "*")
        .map(
          (item) =>
            `${item.file}:${item.line} ${item.resource} ${item.declared} ${item.recommended} ${item.verdict}`,
        ),
    ).toEqual([
      "chart/values.yaml:14 cpu 2 cores 2 cores ok",
      "chart/values.yaml:15 memory 3 GiB 4 GiB under-provisioned",
      "chart/values.yaml:17 memory 6 GiB 4 GiB ok",
    ]);
    // a, b and c (2, 1 and 1 GiB recommended, peaks 1.6, 0.8 and 0.8 GiB) meet on one worker; heavy runs on
    // the kubernetes queue, in its own pod.
    expect(report.failed).toBe(true);
    expect(
      renderGithubAnnotations(report)
        .split("\n")
        .filter((line) => line.startsWith("::error")),
    ).toEqual([
      `::error file=chart/values.yaml,line=15,title=rightsize%3A */workers (CeleryKubernetesExecutor) under-provisioned::workers' memory request 3 GiB is below the 3.2 GiB the 3 heaviest of the 5 task(s) that run there (${slots}) used at their peaks; recommended 4 GiB`,
    ]);
  });

  it("are patched with a diff git apply accepts and PyYAML reads back", async () => {
    const repo = writeRepository(join(work(), "patch"), celeryKubernetesChartFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      celeryKubernetesChartAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        "# chart/values.yaml:15 workers (CeleryKubernetesExecutor): memory request 3Gi -> 4Gi",
        '# dags/warehouse.py:9 warehouse/heavy: memory request "8Gi" -> "7Gi"',
        `# workers.resources at chart/values.yaml sizes CeleryKubernetesExecutor workers running 3 tasks at once (${slots}): the sum of the 3 largest recommendations among the 5 task(s) that run there`,
        `# dags/warehouse.py:9 warehouse/misrouted: left as it is, memory request 8 GiB does not apply: under CeleryKubernetesExecutor only tasks with queue="kubernetes" run in a pod the KubernetesExecutor starts; this task has the default queue, so it runs on a Celery worker, where executor_config is never read; and the task runs on the Helm chart's Celery workers, whose worker container's memory limit 6 GiB (chart/values.yaml:17) caps every task in it. The effective value is set in chart/values.yaml:17 (workers.resources.limits.memory)`,
        "diff --git a/chart/values.yaml b/chart/values.yaml",
        "--- a/chart/values.yaml",
        "+++ b/chart/values.yaml",
        "@@ -12,6 +12,6 @@",
        "   resources:",
        "     requests:",
        "       cpu: 2",
        "-      memory: 3Gi",
        "+      memory: 4Gi",
        "     limits:",
        "       memory: 6Gi",
        "diff --git a/dags/warehouse.py b/dags/warehouse.py",
        "--- a/dags/warehouse.py",
        "+++ b/dags/warehouse.py",
        "@@ -6,7 +6,7 @@",
        '     "pod_override": k8s.V1Pod(',
        "         spec=k8s.V1PodSpec(",
        "             containers=[",
        '-                k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "8Gi"}))',
        '+                k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"memory": "7Gi"}))',
        "             ]",
        "         )",
        "     )",
        "",
      ].join("\n"),
    );
    const clean = patchedRepository(join(work(), "clean"), celeryKubernetesChartFiles, patch);
    const read = readWithPyYaml(
      "import json, sys, yaml; w = yaml.safe_load(open(sys.argv[1]))['workers']; print(json.dumps([w['resources'], w['env']]))",
      [join(clean, "chart/values.yaml")],
    );
    expect(read).toEqual([
      { requests: { cpu: 2, memory: "4Gi" }, limits: { memory: "6Gi" } },
      [{ name: "AIRFLOW__CELERY__WORKER_CONCURRENCY", value: "3" }],
    ]);
  });
});
