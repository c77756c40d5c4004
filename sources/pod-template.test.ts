import { describe, expect, it } from "vitest";
import { emptyScanResult, type ScanResult } from "./findings.js";
import {
  applyPodTemplates,
  podTemplateValues,
  type RepositoryFile,
  scanAirflowConfig,
  scanEnvironmentFile,
  templatePathCandidates,
} from "./pod-template.js";
import { scanFiles } from "../test-support/source-fixtures.js";

describe("airflow.cfg", () => {
  it("reads [kubernetes_executor] pod_template_file, preferring it to the pre-2.5 [kubernetes] section", () => {
    const scan = scanAirflowConfig(
      "config/airflow.cfg",
      [
        "[kubernetes]",
        "pod_template_file = /old/pod.yaml",
        "",
        "[KUBERNETES_EXECUTOR]",
        "; the template every task pod starts from",
        "# pod_template_file = /commented/out.yaml",
        "Pod_Template_File: templates/pod.yaml",
        "[core]",
        "pod_template_file = /not/this/section.yaml",
      ].join("\n"),
    );
    expect(scan.podTemplates).toEqual([
      { file: "config/airflow.cfg", line: 7, path: "templates/pod.yaml", tail: false, task: null },
    ]);
    expect(scan.files).toEqual(["config/airflow.cfg"]);
  });

  it("falls back to [kubernetes], and keeps only the known end of a path under a variable", () => {
    expect(
      scanAirflowConfig("airflow.cfg", "[kubernetes]\npod_template_file = /opt/pod.yaml\n").podTemplates,
    ).toEqual([{ file: "airflow.cfg", line: 2, path: "/opt/pod.yaml", tail: false, task: null }]);
    for (const value of [
      "{AIRFLOW_HOME}/pods/x.yaml",
      "$AIRFLOW_HOME/pods/x.yaml",
      "${AIRFLOW_HOME}/pods/x.yaml",
    ]) {
      expect(
        scanAirflowConfig("airflow.cfg", `[kubernetes_executor]\npod_template_file = ${value}\n`)
          .podTemplates[0],
      ).toMatchObject({ path: "pods/x.yaml", tail: true });
    }
    expect(
      scanAirflowConfig("airflow.cfg", "[kubernetes_executor]\npod_template_file =\n").podTemplates,
    ).toEqual([]);
  });
});

describe("the environment form", () => {
  it("reads AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE from a .env, before the pre-2.5 name", () => {
    const scan = scanEnvironmentFile(
      "deploy/.env",
      [
        "AIRFLOW__KUBERNETES__POD_TEMPLATE_FILE=/old.yaml",
        "export AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE='/opt/airflow/pods/base.yaml'",
        "AIRFLOW__CORE__EXECUTOR=KubernetesExecutor",
      ].join("\n"),
    );
    expect(scan.podTemplates).toEqual([
      {
        file: "deploy/.env",
        line: 2,
        path: "/opt/airflow/pods/base.yaml",
        tail: false,
        task: null,
        fromEnvironment: true,
      },
    ]);
  });

  it("reads a compose file's services, through anchors and merges, in both environment forms", () => {
    const scan = scanEnvironmentFile(
      "docker-compose.yaml",
      [
        "x-airflow-common: &airflow-common",
        "  environment: &airflow-common-env",
        "    AIRFLOW__CORE__EXECUTOR: KubernetesExecutor",
        "    AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE: /opt/airflow/pods/base.yaml",
        "services:",
        "  scheduler:",
        "    <<: *airflow-common",
        "  triggerer:",
        "    environment:",
        "      <<: *airflow-common-env",
        "  tool:",
        "    environment:",
        '      - "AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE=${TEMPLATE:-x.yaml}"',
      ].join("\n"),
    );
    expect(scan.podTemplates.map((reference) => [reference.line, reference.path])).toEqual([
      [4, "/opt/airflow/pods/base.yaml"],
    ]);
    expect(scan.problems).toEqual([
      {
        file: "docker-compose.yaml",
        line: 13,
        message: 'pod_template_file "${TEMPLATE:-x.yaml}" is computed; not read',
      },
    ]);
  });
});

describe("templatePathCandidates", () => {
  it("takes a relative path from the repository root, and refuses one that leaves it", () => {
    expect(templatePathCandidates({ path: "pods/./base.yaml", tail: false })).toEqual(["pods/base.yaml"]);
    expect(templatePathCandidates({ path: "pods/../../etc/passwd", tail: false })).toBeNull();
    expect(templatePathCandidates({ path: "../pod.yaml", tail: true })).toBeNull();
    expect(templatePathCandidates({ path: "pods/x.yaml\n+++ b/other", tail: false })).toBeNull();
  });

  it("tries an absolute or joined path's tails, longest first", () => {
    expect(templatePathCandidates({ path: "/opt/airflow/../airflow/dags/pod.yaml", tail: false })).toEqual([
      "opt/airflow/dags/pod.yaml",
      "airflow/dags/pod.yaml",
      "dags/pod.yaml",
      "pod.yaml",
    ]);
    expect(templatePathCandidates({ path: "pods\\x.yaml", tail: true })).toEqual(["pods/x.yaml", "x.yaml"]);
  });
});

describe("podTemplateValues", () => {
  it("reads only the base container, through anchors, and refuses a template whose first container is not base", () => {
    const { values, problem } = podTemplateValues(
      "pod.yaml",
      [
        "defaults: &sizes",
        "  requests: {cpu: 250m}",
        "spec:",
        "  containers:",
        "    - name: base",
        "      resources:",
        "        <<: *sizes",
        "        limits:",
        "          memory: '{{ var.value.memory }}'",
      ].join("\n"),
    );
    expect(problem).toBeNull();
    expect(values.map((value) => [value.resource, value.kind, value.raw, value.literal, value.line])).toEqual(
      [
        ["cpu", "request", "250m", { kind: "string", text: "250m" }, 2],
        ["memory", "limit", "'{{ var.value.memory }}'", null, 9],
      ],
    );
    const sidecarFirst = podTemplateValues(
      "pod.yaml",
      "spec:\n  containers:\n    - name: sidecar\n    - name: base\n",
    );
    expect(sidecarFirst.values).toEqual([]);
    expect(sidecarFirst.problem?.message).toContain("spec.containers[0] is not a container named base");
    expect(podTemplateValues("pod.yaml", "spec: [unclosed\n").problem?.message).toMatch(/^not valid YAML/);
  });
});

describe("applyPodTemplates", () => {
  const template =
    "spec:\n  containers:\n    - name: base\n      resources:\n        requests: {cpu: 500m}\n";
  const reader =
    (files: Record<string, string>) =>
    (path: string): RepositoryFile =>
      path in files ? { kind: "file", text: files[path]! } : { kind: "missing" };

  async function scanWith(python: string, configs: Record<string, string>): Promise<ScanResult> {
    const scan = await scanFiles({ "dags/d.py": python });
    for (const [file, text] of Object.entries(configs)) {
      scan.podTemplates.push(...scanAirflowConfig(file, text).podTemplates);
    }
    return scan;
  }

  const dag = `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("d", default_args={"executor_config": {"pod_template_file": "own.yaml"}}) as dag:
    BashOperator(task_id="inherits", bash_command="x")
    BashOperator(task_id="plain", bash_command="x", executor_config={})
    BashOperator(task_id="computed", bash_command="x", executor_config={"pod_template_file": pick()})
`;

  it("gives default_args' template to the tasks that inherit it and the default to the rest", async () => {
    const scan = await scanWith(dag, {
      "airflow.cfg": "[kubernetes_executor]\npod_template_file = default.yaml\n",
    });
    applyPodTemplates(scan, reader({ "own.yaml": template, "default.yaml": template }));
    expect(scan.findings.map((finding) => [finding.file, finding.tasks, finding.via])).toEqual([
      ["own.yaml", ["inherits"], "default_args"],
      ["default.yaml", ["computed", "plain"], "executor_default"],
    ]);
    // A computed path is reported; the task then still starts from the default.
    expect(scan.problems).toEqual([
      {
        file: "dags/d.py",
        line: 7,
        message: "pod_template_file of d/computed is computed (pick()); its template is not read",
      },
    ]);
  });

  it("takes the environment's default over airflow.cfg's", async () => {
    const scan = await scanWith(dag, {
      "airflow.cfg": "[kubernetes_executor]\npod_template_file = default.yaml\n",
    });
    scan.podTemplates.push(
      ...scanEnvironmentFile(".env", "AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE=env.yaml\n")
        .podTemplates,
    );
    applyPodTemplates(scan, reader({ "own.yaml": template, "env.yaml": template }));
    expect(scan.findings.map((finding) => [finding.file, finding.tasks])).toEqual([
      ["own.yaml", ["inherits"]],
      ["env.yaml", ["computed", "plain"]],
    ]);
    // airflow.cfg's template, overridden, is not even looked for.
    expect(scan.problems.some((problem) => problem.message.includes("default.yaml"))).toBe(false);
  });

  it("applies no default when two airflow.cfg files disagree", async () => {
    const scan = await scanWith(dag, {
      "prod/airflow.cfg": "[kubernetes_executor]\npod_template_file = default.yaml\n",
      "dev/airflow.cfg": "[kubernetes_executor]\npod_template_file = other.yaml\n",
    });
    applyPodTemplates(
      scan,
      reader({ "own.yaml": template, "default.yaml": template, "other.yaml": template }),
    );
    expect(scan.findings.map((finding) => finding.file)).toEqual(["own.yaml"]);
    expect(
      scan.problems.filter((problem) => problem.message.startsWith("the repository names different")),
    ).toEqual([
      {
        file: "prod/airflow.cfg",
        line: 2,
        message:
          "the repository names different default pod templates (prod/airflow.cfg:2, dev/airflow.cfg:2); none applied",
      },
      {
        file: "dev/airflow.cfg",
        line: 2,
        message:
          "the repository names different default pod templates (prod/airflow.cfg:2, dev/airflow.cfg:2); none applied",
      },
    ]);
  });

  it("reports a refused read at the template's path", () => {
    const scan = emptyScanResult();
    scan.podTemplates.push({ file: "airflow.cfg", line: 3, path: "pod.yaml", tail: false, task: null });
    scan.tasks.push({
      orchestrator: "airflow",
      pipeline: "d",
      task: "t",
      file: "dags/d.py",
      line: 1,
      insertAt: 0,
      bare: false,
      indent: null,
      keywords: {},
      k8sModule: "k8s",
    });
    applyPodTemplates(scan, () => ({
      kind: "refused",
      message: "symbolic link out of the repository; not followed",
    }));
    expect(scan.findings).toEqual([]);
    expect(scan.problems).toEqual([
      { file: "pod.yaml", line: 1, message: "symbolic link out of the repository; not followed" },
    ]);
  });
});
