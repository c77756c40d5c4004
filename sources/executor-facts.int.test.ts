/**
 * The executor as a fact (sources/executor.ts) and a pod template against a task's own pod
 * (sources/effective.ts): fixture repositories whose requests do not reach their tasks, the check's
 * does-not-apply warnings with the reason, and the patch that leaves those values alone — an exact diff
 * `git apply --check` accepts, read back by PyYAML (the pod template, as the Kubernetes client reads it)
 * and by Python's own parser (the DAG file).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  celeryExecutorAnalysis,
  celeryExecutorFiles,
  kubernetesExecutorAnalysis,
  kubernetesExecutorFiles,
} from "../test-support/executor-fixtures.js";
import { committedRepository, git, useScratchFolder, writeRepository } from "../test-support/repositories.js";
import { runCli } from "../test-support/cli.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { checkRequests, renderGithubAnnotations } from "./check.js";
import {
  deploymentExecutor,
  executorNames,
  onlyKubernetesExecutor,
  readsExecutorConfig,
} from "./executor.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";

const work = useScratchFolder("executor-facts");
const options = { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 };
/** Debian's interpreter, whose python3-yaml is PyYAML. */
const python = "/usr/bin/python3";

/** The patch applied with `git apply --check`, then for real, on a committed copy of the fixture. */
function applied(name: string, files: Record<string, string>, patch: string): string {
  const clean = committedRepository(join(work(), `${name}-clean`), files);
  const patchFile = join(work(), `${name}.patch`);
  writeFileSync(patchFile, patch);
  git(clean, "apply", "--check", patchFile);
  git(clean, "apply", patchFile);
  return clean;
}

const celeryReason =
  "the executor is CeleryExecutor (.env:1), which starts no pods: executor_config and pod templates size only a pod the KubernetesExecutor starts. The effective value is set in the worker the task runs on (its container or service limits, or the Helm chart's workers.resources)";

describe("the executor a repository names", () => {
  it("is the environment's over airflow.cfg's, and none when deployments disagree", () => {
    const cfg = { file: "airflow.cfg", line: 2, executor: "LocalExecutor", from: "airflow.cfg" } as const;
    const env = { file: ".env", line: 1, executor: "CeleryExecutor", from: "environment" } as const;
    expect(deploymentExecutor({ executors: [cfg, env] })).toEqual({
      executor: "CeleryExecutor",
      where: ".env:1",
    });
    expect(deploymentExecutor({ executors: [cfg] })).toEqual({
      executor: "LocalExecutor",
      where: "airflow.cfg:2",
    });
    const chart = { file: "values.yaml", line: 3, executor: "KubernetesExecutor", from: "helm" } as const;
    expect(deploymentExecutor({ executors: [env, chart] })).toBeNull();
    // Airflow 2.10+ lists, module paths and aliases are read by their class names.
    expect(
      executorNames(
        "CeleryExecutor, fast:airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
      ),
    ).toEqual(["CeleryExecutor", "KubernetesExecutor"]);
    expect(readsExecutorConfig("LocalExecutor,CeleryExecutor")).toBe(false);
    expect(readsExecutorConfig("CeleryExecutor,KubernetesExecutor")).toBe(true);
    expect(onlyKubernetesExecutor("CeleryExecutor,KubernetesExecutor")).toBe(false);
  });

  it("rightsize check --format github annotates the declaration with the executor's reason", async () => {
    const repo = writeRepository(join(work(), "cli"), celeryExecutorFiles);
    const analysis = join(work(), "celery-analysis.json");
    writeFileSync(analysis, JSON.stringify(celeryExecutorAnalysis()));
    const check = await runCli(
      ["check", "--repo", repo, "--recommendations", analysis, "--format", "github", "--fail-on", "warning"],
      { cwd: repo, env: { GITHUB_WORKSPACE: repo, GITHUB_STEP_SUMMARY: "" } },
    );
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(
      `::warning file=dags/etl.py,line=15,title=rightsize%3A etl/extract does-not-apply::memory request 4 GiB does not apply: ${celeryReason}\n`,
    );
  });

  it("under CeleryExecutor, executor_config does not apply: check warns, patch leaves it and sizes the rest", async () => {
    const repo = writeRepository(join(work(), "celery"), celeryExecutorFiles);
    const scan = await scanRepository(repo, defaultPrefectNames);
    expect(scan.executors).toEqual([
      { file: ".env", line: 1, executor: "CeleryExecutor", from: "environment" },
      { file: "airflow.cfg", line: 2, executor: "LocalExecutor", from: "airflow.cfg" },
    ]);
    const report = checkRequests(scan, celeryExecutorAnalysis(), options, "warning");
    expect(report.failed).toBe(true);
    expect(
      renderGithubAnnotations(report)
        .split("\n")
        .filter((line) => line.includes("does-not-apply")),
    ).toEqual([
      `::warning file=dags/etl.py,line=15,title=rightsize%3A etl/extract does-not-apply::CPU request 1 cores does not apply: ${celeryReason}`,
      `::warning file=dags/etl.py,line=15,title=rightsize%3A etl/extract does-not-apply::memory request 4 GiB does not apply: ${celeryReason}`,
    ]);

    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      celeryExecutorAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        "# dags/etl.py:22 etl/load: cpu request 2 -> 0.75",
        "# dags/etl.py:22 etl/load: memory request 4096 -> 1536",
        `# dags/etl.py:15 etl/extract: left as it is, CPU request 1 cores does not apply: ${celeryReason}`,
        `# dags/etl.py:15 etl/extract: left as it is, memory request 4 GiB does not apply: ${celeryReason}`,
        "diff --git a/dags/etl.py b/dags/etl.py",
        "--- a/dags/etl.py",
        "+++ b/dags/etl.py",
        "@@ -19,4 +19,4 @@",
        "             )",
        "         },",
        "     )",
        '-    load = BashOperator(task_id="load", bash_command="load.sh", resources={"cpus": 2, "ram": 4096})',
        '+    load = BashOperator(task_id="load", bash_command="load.sh", resources={"cpus": 0.75, "ram": 1536})',
        "",
      ].join("\n"),
    );
    const clean = applied("celery", celeryExecutorFiles, patch);
    // Python's own parser reads the keyword arguments back: the new values, and extract's untouched.
    const read = execFileSync(
      python,
      [
        "-c",
        `import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
calls = {next(k.value.value for k in c.keywords if k.arg == "task_id"): c for c in ast.walk(tree) if isinstance(c, ast.Call) and any(k.arg == "task_id" for k in c.keywords)}
load = next(k.value for k in calls["load"].keywords if k.arg == "resources")
extract = [n.value for n in ast.walk(calls["extract"]) if isinstance(n, ast.Constant) and n.value in ("1", "4Gi")]
print(json.dumps({"load": ast.literal_eval(load), "extract": extract}))`,
        join(clean, "dags/etl.py"),
      ],
      { encoding: "utf8" },
    );
    expect(JSON.parse(read)).toEqual({ load: { cpus: 0.75, ram: 1536 }, extract: ["1", "4Gi"] });
  });
});

describe("a pod template against a task's own pod, under the KubernetesExecutor", () => {
  const positionReason =
    "Airflow merges a pod_override over the template container by container, by position (PodGenerator.reconcile_containers), so resources that are not on the override's first container leave the template's in place";
  const legacyReason =
    "the cncf.kubernetes provider no longer reads executor_config's Airflow 1.10 KubernetesExecutor keys (PodGenerator.from_obj takes only a pod_override V1Pod)";
  const notApplied = {
    score: `dags/scoring.py:11 scoring/score: left as it is, memory request 6 GiB does not apply: the runs had a 2 GiB memory request in their pod spec; the pod template pod_templates/base.yaml:12 gives the base container that request, and the runs had it: the task's own value did not replace it (${positionReason}). The effective value is set in pod_templates/base.yaml:12 (the pod template)`,
    legacy: `dags/scoring.py:21 scoring/legacy: left as it is, memory request 1 GiB does not apply: the runs had a 2 GiB memory request in their pod spec; the pod template pod_templates/base.yaml:12 gives the base container that request, and the runs had it: the task's own value did not replace it (${legacyReason}). The effective value is set in pod_templates/base.yaml:12 (the pod template)`,
    weighedCpu:
      "dags/scoring.py:25 scoring/weighed: left as it is, CPU request 4 cores does not apply: the runs had a 0.5 cores CPU request in their pod spec; the executor is KubernetesExecutor (airflow.cfg:2), which builds the task's pod from the pod template, its own pod and executor_config's pod_override alone (PodGenerator.construct_pod); resources= is not read. The effective value is set in the pod template, or the task's executor_config pod_override",
    weighedMemory:
      "dags/scoring.py:25 scoring/weighed: left as it is, memory request 8 GiB does not apply: the runs had a 2 GiB memory request in their pod spec; the executor is KubernetesExecutor (airflow.cfg:2), which builds the task's pod from the pod template, its own pod and executor_config's pod_override alone (PodGenerator.construct_pod); resources= is not read. The effective value is set in the pod template, or the task's executor_config pod_override",
    render:
      "pod_templates/base.yaml:12 scoring/render: left as it is, memory request 2 GiB does not apply: the runs had a 3 GiB memory request in their pod spec; the task passes its own executor_config (dags/scoring.py:23), which the KubernetesExecutor reconciles over the template last (PodGenerator.construct_pod: the pod template, then the executor's pod, then pod_override). The effective value is set in dags/scoring.py:23 (the task's executor_config)",
  };

  it("says which one won, in check and in the patch, which sizes the template for the tasks it reaches", async () => {
    const repo = writeRepository(join(work(), "k8s"), kubernetesExecutorFiles);
    const scan = await scanRepository(repo, defaultPrefectNames);
    expect(scan.problems).toEqual([]);
    const report = checkRequests(scan, kubernetesExecutorAnalysis(), options, "warning");
    expect(
      report.items
        .filter((item) => item.verdict === "does-not-apply")
        .map(
          (item) =>
            `${item.file}:${item.line} ${item.task} ${item.resource} ${item.declared} -> ${item.effective}`,
        ),
    ).toEqual([
      "dags/scoring.py:11 score memory 6 GiB -> 2 GiB request",
      "dags/scoring.py:21 legacy memory 1 GiB -> 2 GiB request",
      "pod_templates/base.yaml:12 render memory 2 GiB -> 3 GiB request",
      "dags/scoring.py:25 weighed cpu 4 cores -> 0.5 cores request",
      "dags/scoring.py:25 weighed memory 8 GiB -> 2 GiB request",
    ]);

    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      kubernetesExecutorAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        "# pod_templates/base.yaml:11 scoring/plain, scoring/render, scoring/weighed: cpu request 500m -> 250m",
        "# pod_templates/base.yaml:12 scoring/weighed, scoring/plain: memory request 2Gi -> 1536Mi",
        "# memory request at pod_templates/base.yaml:12 is shared by tasks that need different values (scoring/plain: 1 GiB (1Gi); scoring/weighed: 1.5 GiB (1536Mi)): no per-task override is possible for scoring/plain in pod_templates/base.yaml (pod_template); the shared value is the largest one wanted",
        `# ${notApplied.score}`,
        `# ${notApplied.legacy}`,
        `# ${notApplied.weighedCpu}`,
        `# ${notApplied.weighedMemory}`,
        `# ${notApplied.render}`,
        "diff --git a/pod_templates/base.yaml b/pod_templates/base.yaml",
        "--- a/pod_templates/base.yaml",
        "+++ b/pod_templates/base.yaml",
        "@@ -8,5 +8,5 @@",
        "       image: apache/airflow:2.10.5",
        "       resources:",
        "         requests:",
        "-          cpu: 500m",
        "-          memory: 2Gi # every task's pod starts here",
        "+          cpu: 250m",
        "+          memory: 1536Mi # every task's pod starts here",
        "",
      ].join("\n"),
    );
    const clean = applied("k8s", kubernetesExecutorFiles, patch);
    const read = execFileSync(
      python,
      [
        "-c",
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['spec']['containers'][0]['resources']))",
        join(clean, "pod_templates/base.yaml"),
      ],
      { encoding: "utf8" },
    );
    expect(JSON.parse(read)).toEqual({ requests: { cpu: "250m", memory: "1536Mi" } });
  });
});
