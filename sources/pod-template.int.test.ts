import { execFileSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { podTemplateAnalysis, podTemplateFixtureFiles } from "../test-support/kubernetes-fixtures.js";
import { runCli } from "../test-support/cli.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";
import { git, useScratchFolder, writeRepository } from "../test-support/repositories.js";

const work = useScratchFolder("pod-templates");

describe("pod template files", () => {
  it("finds the base container's requests with file:line, for the tasks each template reaches", async () => {
    const repo = writeRepository(join(work(), "scan"), podTemplateFixtureFiles);
    const scan = await scanRepository(repo, defaultPrefectNames);
    const found = scan.findings
      .filter((finding) => finding.pattern === "pod_template")
      .map(
        (finding) =>
          `${finding.file}:${finding.line}:${finding.column} ${finding.pipeline}/${finding.tasks.join(",")} ${finding.resource} ${finding.kind} ${finding.raw} via ${finding.via}`,
      );
    expect(found).toEqual([
      // Named per task: os.path.join(AIRFLOW_HOME, "pod_templates/heavy.yaml") and a module variable.
      'pod_templates/heavy.yaml:10:23 k8s_etl/train cpu request "4" via task',
      "pod_templates/heavy.yaml:10:36 k8s_etl/train memory request 16Gi via task",
      'pod_templates/heavy.yaml:11:21 k8s_etl/train cpu limit "8" via task',
      "pod_templates/heavy.yaml:11:34 k8s_etl/train memory limit 16Gi via task",
      'pod_templates/heavy.yaml:10:23 reports/render cpu request "4" via task',
      "pod_templates/heavy.yaml:10:36 reports/render memory request 16Gi via task",
      'pod_templates/heavy.yaml:11:21 reports/render cpu limit "8" via task',
      "pod_templates/heavy.yaml:11:34 reports/render memory limit 16Gi via task",
      // airflow.cfg's default (an image path, found at its longest tail in the repository) reaches every
      // task without its own template or pod_override resources: not publish, not escape; the
      // log-shipper sidecar's request is not the task's.
      "pod_templates/default_template.yaml:12:16 k8s_etl/extract,load cpu request 500m via executor_default",
      'pod_templates/default_template.yaml:13:19 k8s_etl/extract,load memory request "1Gi" via executor_default',
      "pod_templates/default_template.yaml:15:19 k8s_etl/extract,load memory limit 2Gi via executor_default",
      "pod_templates/default_template.yaml:12:16 reports/summarize cpu request 500m via executor_default",
      'pod_templates/default_template.yaml:13:19 reports/summarize memory request "1Gi" via executor_default',
      "pod_templates/default_template.yaml:15:19 reports/summarize memory limit 2Gi via executor_default",
    ]);
    expect(scan.problems).toEqual([
      {
        file: "dags/reports.py",
        line: 21,
        message:
          'pod_template_file "../shared/pod.yaml" leaves the repository or is not a plain path; not read',
      },
    ]);
    expect(scan.files).toEqual(
      expect.arrayContaining([
        "airflow.cfg",
        "pod_templates/heavy.yaml",
        "pod_templates/default_template.yaml",
      ]),
    );
  });

  it("never follows a template link out of the repository, and says when a template is missing", async () => {
    const repo = writeRepository(join(work(), "guarded"), {
      ...podTemplateFixtureFiles,
      "dags/linked.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("linked") as dag:
    BashOperator(task_id="out", bash_command="x", executor_config={"pod_template_file": "pod_templates/outside.yaml"})
    BashOperator(task_id="gone", bash_command="x", executor_config={"pod_template_file": "/opt/airflow/nowhere/pod.yaml"})
`,
    });
    const outside = join(work(), "outside.yaml");
    writeFileSync(outside, podTemplateFixtureFiles["pod_templates/heavy.yaml"]!.replace('"4"', '"64"'));
    symlinkSync(outside, join(repo, "pod_templates", "outside.yaml"));
    const scan = await scanRepository(repo, defaultPrefectNames);
    expect(scan.problems).toContainEqual({
      file: "pod_templates/outside.yaml",
      line: 1,
      message: "symbolic link out of the repository; not followed",
    });
    expect(scan.problems).toContainEqual({
      file: "dags/linked.py",
      line: 6,
      message:
        'pod_template_file "/opt/airflow/nowhere/pod.yaml" is not in the repository; its requests are not known',
    });
    expect(scan.findings.some((finding) => finding.pipeline === "linked")).toBe(false);
    expect(scan.findings.some((finding) => finding.raw === '"64"')).toBe(false);
  });

  it("rightsize check judges the tasks by their templates' requests", async () => {
    const repo = writeRepository(join(work(), "cli"), podTemplateFixtureFiles);
    const analysis = join(work(), "pod-analysis.json");
    writeFileSync(analysis, JSON.stringify(podTemplateAnalysis()));
    const result = await runCli([
      "check",
      "--repo",
      repo,
      "--recommendations",
      analysis,
      "--format",
      "github",
    ]);
    expect(result.stderr).toContain("dags/reports.py:21: pod_template_file");
    // render gets heavy.yaml's 16 GiB for 6 GiB recommended; extract has the default template's request.
    expect(result.stdout).toContain(
      "::warning file=pod_templates/heavy.yaml,line=10,title=rightsize%3A reports/render over-provisioned::",
    );
    expect(result.stdout).not.toContain("k8s_etl/extract no-request");
  });

  it("patches the templates in place with a diff git apply accepts", async () => {
    const repo = writeRepository(join(work(), "patch"), podTemplateFixtureFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      podTemplateAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    const sharedNote = (resource: string, line: number, wanted: string, task: string) =>
      `# ${resource} request at pod_templates/default_template.yaml:${line} is shared by tasks that need different values (${wanted}): no per-task override is possible for ${task} in pod_templates/default_template.yaml (pod_template); the shared value is the largest one wanted`;
    const cpuWanted =
      "k8s_etl/extract: 0.3 cores (300m); k8s_etl/load: 1.05 cores (1050m); reports/summarize: 0.2 cores (200m)";
    const memoryWanted =
      "k8s_etl/extract: 640 MiB (640Mi); k8s_etl/load: 704 MiB (704Mi); reports/summarize: 320 MiB (320Mi)";
    expect(patch).toBe(
      [
        '# dags/reports.py:16 reports/publish: cpu request "250m" -> "100m"',
        "# pod_templates/default_template.yaml:12 k8s_etl/load, k8s_etl/extract, reports/summarize: cpu request 500m -> 1050m",
        '# pod_templates/default_template.yaml:13 k8s_etl/load, k8s_etl/extract, reports/summarize: memory request "1Gi" -> "704Mi"',
        '# pod_templates/heavy.yaml:10 k8s_etl/train, reports/render: cpu request "4" -> "3.1"',
        "# pod_templates/heavy.yaml:10 k8s_etl/train, reports/render: memory request 16Gi -> 10Gi",
        "# cpu request at pod_templates/heavy.yaml:10 is shared by tasks that need different values (k8s_etl/train: 3.1 cores (3.1); reports/render: 2 cores (2)): no per-task override is possible for reports/render in pod_templates/heavy.yaml (pod_template); the shared value is the largest one wanted",
        "# memory request at pod_templates/heavy.yaml:10 is shared by tasks that need different values (k8s_etl/train: 10 GiB (10Gi); reports/render: 6 GiB (6Gi)): no per-task override is possible for reports/render in pod_templates/heavy.yaml (pod_template); the shared value is the largest one wanted",
        sharedNote("cpu", 12, cpuWanted, "k8s_etl/extract, reports/summarize"),
        sharedNote("memory", 13, memoryWanted, "k8s_etl/extract, reports/summarize"),
        "diff --git a/dags/reports.py b/dags/reports.py",
        "--- a/dags/reports.py",
        "+++ b/dags/reports.py",
        "@@ -13,7 +13,7 @@",
        "         executor_config={",
        '             "pod_override": k8s.V1Pod(',
        "                 spec=k8s.V1PodSpec(",
        '-                    containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "250m"}))]',
        '+                    containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "100m"}))]',
        "                 )",
        "             )",
        "         },",
        "diff --git a/pod_templates/default_template.yaml b/pod_templates/default_template.yaml",
        "--- a/pod_templates/default_template.yaml",
        "+++ b/pod_templates/default_template.yaml",
        "@@ -9,8 +9,8 @@",
        "       image: apache/airflow:2.9.3",
        "       resources:",
        "         requests:",
        "-          cpu: 500m # per-task pods start here",
        '-          memory: "1Gi"',
        "+          cpu: 1050m # per-task pods start here",
        '+          memory: "704Mi"',
        "         limits:",
        "           memory: 2Gi",
        "     - name: log-shipper",
        "diff --git a/pod_templates/heavy.yaml b/pod_templates/heavy.yaml",
        "--- a/pod_templates/heavy.yaml",
        "+++ b/pod_templates/heavy.yaml",
        "@@ -7,5 +7,5 @@",
        "   - name: base",
        "     image: apache/airflow:2.9.3",
        "     resources:",
        '-      requests: {cpu: "4", memory: 16Gi}',
        '+      requests: {cpu: "3.1", memory: 10Gi}',
        '       limits: {cpu: "8", memory: 16Gi}',
        "",
      ].join("\n"),
    );

    const clean = writeRepository(join(work(), "clean"), podTemplateFixtureFiles);
    git(clean, "init", "-q", "-b", "main");
    git(clean, "add", ".");
    git(clean, "commit", "-q", "-m", "fixture");
    const patchFile = join(work(), "pod-templates.patch");
    writeFileSync(patchFile, patch);
    git(clean, "apply", "--check", patchFile);
    git(clean, "apply", patchFile);
    // The Kubernetes client reads the template with PyYAML: the patched values must mean what they say.
    const base = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import json, sys, yaml; print(json.dumps([yaml.safe_load(open(f))['spec']['containers'][0]['resources'] for f in sys.argv[1:]]))",
        join(clean, "pod_templates/default_template.yaml"),
        join(clean, "pod_templates/heavy.yaml"),
      ]).toString(),
    ) as unknown[];
    expect(base).toEqual([
      { requests: { cpu: "1050m", memory: "704Mi" }, limits: { memory: "2Gi" } },
      { requests: { cpu: "3.1", memory: "10Gi" }, limits: { cpu: "8", memory: "16Gi" } },
    ]);
  });
});
