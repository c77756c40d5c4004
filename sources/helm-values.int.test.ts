import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { helmValuesAnalysis, helmValuesFixtureFiles } from "../test-support/kubernetes-fixtures.js";
import { runCli } from "../test-support/cli.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { checkRequests } from "./check.js";
import { declaredRows } from "./declared-rows.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";
import { git, useScratchFolder, writeRepository } from "../test-support/repositories.js";

const work = useScratchFolder("helm-values");

describe("Airflow Helm chart values", () => {
  it("reports workers.resources with file:line as a worker-level request, belonging to no task", async () => {
    const repo = writeRepository(join(work(), "scan"), helmValuesFixtureFiles);
    const scan = await scanRepository(repo, defaultPrefectNames);
    const workers = scan.findings.filter((finding) => finding.pattern === "helm_workers");
    expect(
      workers.map(
        (finding) =>
          `${finding.file}:${finding.line}:${finding.column} ${finding.resource} ${finding.kind} ${finding.raw}`,
      ),
    ).toEqual([
      'deploy/airflow/values.yaml:12:12 cpu request "4"',
      "deploy/airflow/values.yaml:13:15 memory request 16Gi",
      "deploy/airflow/values.yaml:15:12 cpu limit 6",
      "deploy/airflow/values.yaml:16:15 memory limit 16Gi",
    ]);
    for (const finding of workers) {
      expect(finding).toMatchObject({
        via: "worker",
        pipeline: "*",
        tasks: [],
        workers: {
          executor: "CeleryExecutor",
          slots: 2,
          slotsFrom: "deploy/airflow/values.yaml:6 (config.celery.worker_concurrency)",
        },
      });
    }
    // scheduler.resources and another chart's values are not task requests.
    expect(scan.findings.filter((finding) => finding.file.startsWith("deploy/"))).toHaveLength(4);
    expect(scan.files).toContain("deploy/redis/values.yaml");
    expect(scan.problems).toEqual([]);
    // Not stored as any task's declared request, and no task is judged against the worker's size: the
    // workers are judged against the tasks that run on them (two slots: transform and extract).
    expect(declaredRows(repo, scan).filter((row) => row.file.startsWith("deploy/"))).toEqual([]);
    const report = checkRequests(
      scan,
      helmValuesAnalysis(),
      { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 },
      "warning",
    );
    expect(
      report.items
        .filter((item) => item.file.startsWith("deploy/"))
        .map((item) => `${item.line} ${item.task} ${item.resource} ${item.declared} ${item.verdict}`),
    ).toEqual([
      "12 workers (CeleryExecutor) cpu 4 cores ok",
      "13 workers (CeleryExecutor) memory 16 GiB over-provisioned",
      "15 workers (CeleryExecutor) cpu 6 cores ok",
      "16 workers (CeleryExecutor) memory 16 GiB ok",
    ]);
    expect(
      report.items.filter((item) => item.pipeline !== "*").every((item) => !item.file.startsWith("deploy/")),
    ).toBe(true);
  });

  it("sizes the workers for their heaviest slots with a diff git apply accepts", async () => {
    const repo = writeRepository(join(work(), "patch"), helmValuesFixtureFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () => helmValuesAnalysis());
    const patch = renderUnifiedDiff(plan);
    // Two slots: transform (1.5 cores, 3 GiB) and extract (0.5 cores, 1 GiB); the KubernetesPodOperator
    // task's 8 cores run in its own pod. The limits stay: the new requests fit under them.
    expect(patch).toBe(
      [
        '# dags/celery_etl.py:13 celery_etl/train: memory request "32Gi" -> "30Gi"',
        '# deploy/airflow/values.yaml:12 workers (CeleryExecutor): cpu request "4" -> "2"',
        "# deploy/airflow/values.yaml:13 workers (CeleryExecutor): memory request 16Gi -> 4Gi",
        "# workers.resources at deploy/airflow/values.yaml sizes CeleryExecutor workers running 2 tasks at once (deploy/airflow/values.yaml:6 (config.celery.worker_concurrency)): the sum of the 2 largest recommendations among the 3 task(s) that run there",
        "diff --git a/dags/celery_etl.py b/dags/celery_etl.py",
        "--- a/dags/celery_etl.py",
        "+++ b/dags/celery_etl.py",
        "@@ -10,6 +10,6 @@",
        "     train = KubernetesPodOperator(",
        '         task_id="train",',
        '         image="trainer:1",',
        '-        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "8", "memory": "32Gi"}),',
        '+        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "8", "memory": "30Gi"}),',
        "     )",
        "     extract >> transform >> load >> train",
        "diff --git a/deploy/airflow/values.yaml b/deploy/airflow/values.yaml",
        "--- a/deploy/airflow/values.yaml",
        "+++ b/deploy/airflow/values.yaml",
        "@@ -9,8 +9,8 @@",
        "   replicas: 3",
        "   resources:",
        "     requests:",
        '-      cpu: "4"',
        "-      memory: 16Gi # sized for the 2023 backfill",
        '+      cpu: "2"',
        "+      memory: 4Gi # sized for the 2023 backfill",
        "     limits:",
        "       cpu: 6",
        "       memory: 16Gi",
        "",
      ].join("\n"),
    );

    const clean = writeRepository(join(work(), "clean"), helmValuesFixtureFiles);
    git(clean, "init", "-q", "-b", "main");
    git(clean, "add", ".");
    git(clean, "commit", "-q", "-m", "fixture");
    const patchFile = join(work(), "helm-values.patch");
    writeFileSync(patchFile, patch);
    git(clean, "apply", "--check", patchFile);
    git(clean, "apply", patchFile);
    const resources = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['workers']['resources']))",
        join(clean, "deploy/airflow/values.yaml"),
      ]).toString(),
    ) as unknown;
    expect(resources).toEqual({ requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: 6, memory: "16Gi" } });
  });

  it("rightsize scan lists the worker-level request and patch writes the same diff", async () => {
    const repo = writeRepository(join(work(), "cli"), helmValuesFixtureFiles);
    const scan = await runCli(["scan", "--repo", repo, "--no-store"]);
    expect(scan.code).toBe(0);
    expect(scan.stdout).toContain(
      'deploy/airflow/values.yaml:12:12  */  cpu request "4" = 4 cores  [helm_workers via worker]',
    );
    const analysis = join(work(), "helm-analysis.json");
    writeFileSync(analysis, JSON.stringify(helmValuesAnalysis()));
    const out = join(work(), "helm-patches");
    const patch = await runCli(["patch", "--repo", repo, "--recommendations", analysis, "--out", out]);
    expect(patch.code).toBe(0);
    expect(patch.stdout).toContain(
      "deploy/airflow/values.yaml:13  workers (CeleryExecutor)  memory request 16Gi -> 4Gi (16 GiB -> 4 GiB)",
    );
    expect(readFileSync(join(out, "rightsize.patch"), "utf8")).toContain(
      "+      memory: 4Gi # sized for the 2023 backfill\n",
    );
  });
});
