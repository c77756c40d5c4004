/**
 * Pod template paths built in the DAG file: from its own place (`os.path.dirname(__file__)`,
 * `Path(__file__).parent`), through module constants, and with pathlib's `/` — found, scanned, patched with a
 * diff git apply accepts, and read back by PyYAML as the Kubernetes client reads a template.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";
import { loadConfig } from "../common/config.js";
import { analysisTask, defaultPrefectNames } from "../test-support/source-fixtures.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";
import { useScratchFolder, writeRepository } from "../test-support/repositories.js";

const template = (cpu: string, memory: string) => `apiVersion: v1
kind: Pod
metadata:
  name: placeholder
spec:
  containers:
    - name: base
      image: apache/airflow:2.9.3
      resources:
        requests:
          cpu: "${cpu}"
          memory: ${memory}
`;

const files: Record<string, string> = {
  "dags/computed.py": `import os
from pathlib import Path

from airflow import DAG
from airflow.operators.bash import BashOperator

TEMPLATES = os.path.join(os.path.dirname(__file__), "pod_templates")
HEAVY = os.path.join(TEMPLATES, "heavy.yaml")

with DAG("computed") as dag:
    BashOperator(
        task_id="joined",
        bash_command="x",
        executor_config={"pod_template_file": os.path.join(os.path.dirname(os.path.abspath(__file__)), "pod_templates", "heavy.yaml")},
    )
    BashOperator(task_id="constant", bash_command="x", executor_config={"pod_template_file": HEAVY})
    BashOperator(
        task_id="pathlib",
        bash_command="x",
        executor_config={"pod_template_file": str(Path(__file__).resolve().parent / "pod_templates" / "light.yaml")},
    )
`,
  "dags/pod_templates/heavy.yaml": template("4", "16Gi"),
  "dags/pod_templates/light.yaml": template("1", "2Gi"),
  // Same name at the root: the longest-tail rule for a path joined onto an unknown name would take it.
  "pod_templates/heavy.yaml": template("64", "256Gi"),
};

const document: AnalysisDocument = {
  generatedAt: "2026-11-20T02:00:00Z",
  windowDays: 14,
  tasks: [
    analysisTask({ pipeline: "computed", task: "joined", cpuCores: 2, memoryBytes: 6 * GiB }),
    analysisTask({ pipeline: "computed", task: "constant", cpuCores: 2, memoryBytes: 6 * GiB }),
    analysisTask({ pipeline: "computed", task: "pathlib", cpuCores: 0.5, memoryBytes: 768 * MiB }),
  ],
};

const work = useScratchFolder("template-paths");

describe("pod template paths computed in the DAG file", () => {
  it("resolve beside the DAG file, through constants and pathlib", async () => {
    const scan = await scanRepository(writeRepository(join(work(), "scan"), files), defaultPrefectNames);
    expect(scan.problems).toEqual([]);
    expect(
      scan.findings.map(
        (finding) =>
          `${finding.file}:${finding.line} ${finding.pipeline}/${finding.tasks.join(",")} ${finding.resource} ${finding.raw}`,
      ),
    ).toEqual([
      'dags/pod_templates/heavy.yaml:11 computed/joined cpu "4"',
      "dags/pod_templates/heavy.yaml:12 computed/joined memory 16Gi",
      // The constant names the same file: one finding per place it is named, as for any template.
      'dags/pod_templates/heavy.yaml:11 computed/constant cpu "4"',
      "dags/pod_templates/heavy.yaml:12 computed/constant memory 16Gi",
      'dags/pod_templates/light.yaml:11 computed/pathlib cpu "1"',
      "dags/pod_templates/light.yaml:12 computed/pathlib memory 2Gi",
    ]);
  });

  it("patch the right templates with a diff git apply accepts and PyYAML reads back", async () => {
    const repo = writeRepository(join(work(), "patch"), files);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () => document);
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        '# dags/pod_templates/heavy.yaml:11 computed/joined, computed/constant: cpu request "4" -> "2"',
        "# dags/pod_templates/heavy.yaml:12 computed/joined, computed/constant: memory request 16Gi -> 6Gi",
        '# dags/pod_templates/light.yaml:11 computed/pathlib: cpu request "1" -> "0.5"',
        "# dags/pod_templates/light.yaml:12 computed/pathlib: memory request 2Gi -> 768Mi",
        "diff --git a/dags/pod_templates/heavy.yaml b/dags/pod_templates/heavy.yaml",
        "--- a/dags/pod_templates/heavy.yaml",
        "+++ b/dags/pod_templates/heavy.yaml",
        "@@ -8,5 +8,5 @@",
        "       image: apache/airflow:2.9.3",
        "       resources:",
        "         requests:",
        '-          cpu: "4"',
        "-          memory: 16Gi",
        '+          cpu: "2"',
        "+          memory: 6Gi",
        "diff --git a/dags/pod_templates/light.yaml b/dags/pod_templates/light.yaml",
        "--- a/dags/pod_templates/light.yaml",
        "+++ b/dags/pod_templates/light.yaml",
        "@@ -8,5 +8,5 @@",
        "       image: apache/airflow:2.9.3",
        "       resources:",
        "         requests:",
        '-          cpu: "1"',
        "-          memory: 2Gi",
        '+          cpu: "0.5"',
        "+          memory: 768Mi",
        "",
      ].join("\n"),
    );
    const clean = writeRepository(join(work(), "clean"), files);
    execFileSync("git", ["init", "-q"], { cwd: clean });
    const patchFile = join(work(), "paths.patch");
    writeFileSync(patchFile, patch);
    execFileSync("git", ["apply", "--check", patchFile], { cwd: clean });
    execFileSync("git", ["apply", patchFile], { cwd: clean });
    const read = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import json, sys, yaml; print(json.dumps([yaml.safe_load(open(f))['spec']['containers'][0]['resources'] for f in sys.argv[1:]]))",
        join(clean, "dags/pod_templates/heavy.yaml"),
        join(clean, "dags/pod_templates/light.yaml"),
        join(clean, "pod_templates/heavy.yaml"),
      ]).toString(),
    ) as unknown[];
    expect(read).toEqual([
      { requests: { cpu: "2", memory: "6Gi" } },
      { requests: { cpu: "0.5", memory: "768Mi" } },
      { requests: { cpu: "64", memory: "256Gi" } },
    ]);
  });

  it("match an image path to the repository's only file of that name, and say so", async () => {
    const repo = join(work(), "image");
    const image: Record<string, string> = {
      "dags/image.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("image") as dag:
    BashOperator(task_id="unique", bash_command="x", executor_config={"pod_template_file": "/opt/airflow/pod_templates/heavy_image.yaml"})
    BashOperator(task_id="twice", bash_command="x", executor_config={"pod_template_file": "/opt/airflow/pod_templates/dup.yaml"})
`,
      "deploy/k8s/heavy_image.yaml": template("4", "16Gi"),
      "deploy/a/dup.yaml": template("1", "1Gi"),
      "deploy/b/dup.yaml": template("2", "2Gi"),
    };
    for (const [file, text] of Object.entries(image)) {
      mkdirSync(dirname(join(repo, file)), { recursive: true });
      writeFileSync(join(repo, file), text);
    }
    const scan = await scanRepository(repo, defaultPrefectNames);
    expect(
      scan.findings.map(
        (finding) => `${finding.file}:${finding.line} ${finding.tasks.join(",")} ${finding.raw}`,
      ),
    ).toEqual(['deploy/k8s/heavy_image.yaml:11 unique "4"', "deploy/k8s/heavy_image.yaml:12 unique 16Gi"]);
    expect(new Set(scan.findings.map((finding) => finding.note))).toEqual(
      new Set([
        'pod_template_file "/opt/airflow/pod_templates/heavy_image.yaml" (dags/image.py:5) matched to deploy/k8s/heavy_image.yaml, the only file of that name in the repository',
      ]),
    );
    // Two files of the name: which one the image holds cannot be told.
    expect(scan.problems).toEqual([
      {
        file: "dags/image.py",
        line: 6,
        message:
          'pod_template_file "/opt/airflow/pod_templates/dup.yaml" is not in the repository; its requests are not known',
      },
    ]);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () => ({
      ...document,
      tasks: [analysisTask({ pipeline: "image", task: "unique", cpuCores: 2, memoryBytes: 6 * GiB })],
    }));
    const patchFile = join(work(), "image.patch");
    writeFileSync(patchFile, renderUnifiedDiff(plan));
    execFileSync("git", ["init", "-q"], { cwd: repo });
    execFileSync("git", ["apply", patchFile], { cwd: repo });
    const read = execFileSync("python3", [
      "-c",
      "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['spec']['containers'][0]['resources']))",
      join(repo, "deploy/k8s/heavy_image.yaml"),
    ]).toString();
    expect(JSON.parse(read)).toEqual({ requests: { cpu: "2", memory: "6Gi" } });
  });

  it("map an image path by sources.imagePaths first, and refuse a mapping out of the repository", async () => {
    const repo = join(work(), "mapped");
    const mapped: Record<string, string> = {
      "dags/mapped.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("mapped") as dag:
    BashOperator(task_id="big", bash_command="x", executor_config={"pod_template_file": "/opt/airflow/pod_templates/big.yaml"})
    BashOperator(task_id="lost", bash_command="x", executor_config={"pod_template_file": "/opt/airflow/pod_templates/lost.yaml"})
`,
      // The mapping's file, and a decoy the longest-tail rule would have taken.
      "k8s/templates/big.yaml": template("3", "12Gi"),
      "pod_templates/big.yaml": template("64", "256Gi"),
      "pod_templates/lost.yaml": template("1", "1Gi"),
    };
    for (const [file, text] of Object.entries(mapped)) {
      mkdirSync(dirname(join(repo, file)), { recursive: true });
      writeFileSync(join(repo, file), text);
    }
    const config = loadConfig({
      env: { RIGHTSIZE_IMAGE_PATHS: "/opt/airflow/pod_templates=./k8s/templates/" },
    });
    expect(config.sources.imagePaths).toEqual([
      { image: "/opt/airflow/pod_templates", repository: "k8s/templates" },
    ]);
    const scan = await scanRepository(repo, defaultPrefectNames, config.sources);
    expect(
      scan.findings.map(
        (finding) => `${finding.file}:${finding.line} ${finding.tasks.join(",")} ${finding.raw}`,
      ),
    ).toEqual(['k8s/templates/big.yaml:11 big "3"', "k8s/templates/big.yaml:12 big 12Gi"]);
    expect(scan.findings[0]!.note).toBe(
      'pod_template_file "/opt/airflow/pod_templates/big.yaml" (dags/mapped.py:5) mapped to k8s/templates/big.yaml by sources.imagePaths (/opt/airflow/pod_templates=k8s/templates)',
    );
    // A mapped folder that lacks the file says so, rather than falling back to a same-named file.
    expect(scan.problems).toEqual([
      {
        file: "dags/mapped.py",
        line: 6,
        message:
          'pod_template_file "/opt/airflow/pod_templates/lost.yaml" maps to k8s/templates/lost.yaml by sources.imagePaths, which is not in the repository; its requests are not known',
      },
    ]);
    for (const bad of ["relative=k8s", "/opt/airflow=../outside", "/opt/airflow"]) {
      expect(() => loadConfig({ env: { RIGHTSIZE_IMAGE_PATHS: bad } })).toThrow(
        /^config: sources\.imagePaths = .*RIGHTSIZE_IMAGE_PATHS.*expected IMAGE_FOLDER=REPOSITORY_FOLDER pairs/,
      );
    }
  });
});
