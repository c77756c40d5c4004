import { describe, expect, it } from "vitest";
import { analysisTask, scanFiles } from "../test-support/source-fixtures.js";
import {
  workPoolAnalysis,
  workPoolExpectedPatch,
  workPoolFiles,
} from "../test-support/work-pool-fixtures.js";
import type { Finding } from "./findings.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planPatches, usableRecommendations } from "./patcher.js";
import { syntaxChecker } from "./scan-repository.js";
import { scanWorkPoolTemplate } from "./work-pool-template.js";

const describe_ = (finding: Finding) =>
  `${finding.file}:${finding.line}:${finding.column} ${finding.pipeline} ${finding.resource} ${finding.kind} ${finding.raw}${finding.dynamic ? " dynamic" : ""} ${finding.unit}${finding.variable ? ` (${finding.variable})` : ""} via ${finding.via}`;

describe("Prefect work-pool base job templates", () => {
  it("gives each pool default to the deployments that name the pool and do not set the variable", async () => {
    const scan = await scanFiles(workPoolFiles);
    expect(scan.findings.map(describe_)).toEqual([
      'prefect.yaml:14:22 hourly-sync/hourly cpu request "250m" k8s-cpu (cpu_request) via task',
      // The ECS pool in the API's {name, base_job_template} shape: CPU units and MiB.
      "work-pools/ecs.json:18:59 export/export memory request 8192 MiB (memory) via work_pool",
      "work-pools/ecs.json:19:56 export/export cpu request 2048 ecs-cpu-units (cpu) via work_pool",
      // A limit written into the job: every deployment of the pool gets it, whatever its variables.
      'work-pools/k8s-pool.json:21:38 nightly-etl/nightly cpu limit "2" k8s-cpu via work_pool',
      'work-pools/k8s-pool.json:21:38 hourly-sync/hourly cpu limit "2" k8s-cpu via work_pool',
      // hourly sets cpu_request itself: only nightly inherits the default.
      'work-pools/k8s-pool.json:39:77 nightly-etl/nightly cpu request "1000m" k8s-cpu (cpu_request) via work_pool',
      'work-pools/k8s-pool.json:40:83 nightly-etl/nightly memory request "2Gi" k8s-memory (memory_request) via work_pool',
      'work-pools/k8s-pool.json:40:83 hourly-sync/hourly memory request "2Gi" k8s-memory (memory_request) via work_pool',
      'work-pools/k8s-pool.json:41:79 nightly-etl/nightly memory limit "4Gi" k8s-memory (memory_limit) via work_pool',
      'work-pools/k8s-pool.json:41:79 hourly-sync/hourly memory limit "4Gi" k8s-memory (memory_limit) via work_pool',
    ]);
    // The sidecar's own requests, the image default and package.json are no requests of a flow.
    expect(scan.findings.some((finding) => finding.raw === '"50m"')).toBe(false);
    expect(scan.files).toEqual(["prefect.yaml", "work-pools/ecs.json", "work-pools/k8s-pool.json"]);
    expect(scan.problems).toEqual([]);
  });

  it("writes the exact patch, keeping the JSON's indentation and key order", async () => {
    const scan = await scanFiles(workPoolFiles);
    const plan = planPatches(
      scan,
      new Map(Object.entries(workPoolFiles)),
      usableRecommendations(workPoolAnalysis().tasks),
    );
    const diff = renderUnifiedDiff(plan);
    expect(diff).toBe(workPoolExpectedPatch);
    for (const file of plan.files)
      expect(() => file.file.endsWith(".json") && JSON.parse(file.after)).not.toThrow();
  });

  it("reads Cloud Run limits as the job's size, `{{ memory }}Mi` as MiB, and .deploy() and merge-key deployments", async () => {
    const template = (configuration: string, variables: string) =>
      `{"job_configuration": ${configuration}, "variables": {"properties": ${variables}}}`;
    const files = {
      "pools/run.base-job-template.json": template(
        `{"job_body": {"template": {"template": {"containers": [{"resources": {"limits": {"cpu": "{{ cpu }}", "memory": "{{ memory }}"}}}]}}}}`,
        `{"cpu": {"default": "1000m"}, "memory": {"default": "512Mi"}}`,
      ),
      "pools/k8s-mi/base-job-template.json": template(
        `{"job_manifest": {"spec": {"template": {"spec": {"containers": [{"resources": {"requests": {"memory": "{{ memory }}Mi", "cpu": "{{ cpu }}m"}}}]}}}}}`,
        `{"memory": {"default": 2048}, "cpu": {"default": 500}}`,
      ),
      "flows/deploy.py": `from prefect import flow


@flow
def nightly():
    pass


nightly.deploy(name="py", work_pool_name="run", job_variables={"memory": "1Gi"})
`,
      "prefect.yaml": `definitions:
  sizes: &sizes
    cpu: "2"
deployments:
  - name: merged
    entrypoint: flows/deploy.py:nightly
    work_pool:
      name: run
      job_variables:
        <<: *sizes
  - name: mebibytes
    entrypoint: flows/deploy.py:nightly
    work_pool:
      name: k8s-mi
  - name: own-mebibytes
    entrypoint: flows/deploy.py:nightly
    work_pool:
      name: k8s-mi
      job_variables:
        memory: 4096
`,
    };
    const scan = await scanFiles(files);
    expect(
      scan.findings
        .filter((finding) => finding.pattern === "work_pool_template")
        .map(
          (finding) =>
            `${finding.file} ${finding.pipeline} ${finding.resource} ${finding.kind} ${finding.raw} ${finding.unit}${finding.dynamic ? " dynamic" : ""}`,
        ),
    ).toEqual([
      // `"{{ cpu }}m"` is a template around the variable: shown, never patched.
      'pools/k8s-mi/base-job-template.json nightly/mebibytes cpu request "{{ cpu }}m" k8s-cpu dynamic',
      'pools/k8s-mi/base-job-template.json nightly/own-mebibytes cpu request "{{ cpu }}m" k8s-cpu dynamic',
      "pools/k8s-mi/base-job-template.json nightly/mebibytes memory request 2048 MB",
      // Cloud Run: the limit is the job's size. `py` sets memory, `merged` sets cpu through the anchor.
      'pools/run.base-job-template.json nightly/py cpu request "1000m" k8s-cpu',
      'pools/run.base-job-template.json nightly/merged memory request "512Mi" k8s-memory',
    ]);
    // A deployment's own number for that `"{{ memory }}Mi"` is MiB sized for Kubernetes, not ECS MiB
    // sized for Fargate (which prefect.yaml alone would make of it).
    const own = scan.findings.find(
      (finding) => finding.pipeline === "nightly/own-mebibytes" && finding.pattern === "prefect_yaml",
    )!;
    expect(own).toMatchObject({ pattern: "prefect_yaml", raw: "4096", unit: "MB", value: 4096 * 1024 ** 2 });
    const plan = planPatches(
      scan,
      new Map(Object.entries(files)),
      usableRecommendations([
        analysisTask({
          orchestrator: "prefect",
          pipeline: "nightly/own-mebibytes",
          task: "__flow__",
          cpuCores: 0.5,
          memoryBytes: 1.5 * 1024 ** 3,
        }),
      ]),
    );
    expect(
      plan.changes.map((change) => `${change.file}:${change.line} ${change.from} -> ${change.to}`),
    ).toEqual(["prefect.yaml:20 4096 -> 1536"]);
  });

  it("accepts a patched template only when it is still JSON, not merely YAML", async () => {
    const verify = await syntaxChecker();
    expect(verify("pools/k8s.json", '{"variables": {"cpu": {"default": "500m"}}}')).toBeNull();
    expect(verify("pools/k8s.json", "{variables: {cpu: {default: 500m}}}")).toMatch(/^not valid JSON: /);
    expect(verify("prefect.yaml", "{variables: {cpu: {default: 500m}}}")).toBeNull();
  });

  it("leaves other JSON alone and reports a broken template or one whose pool cannot be told", () => {
    expect(scanWorkPoolTemplate("tsconfig.json", '{"compilerOptions": {"strict": true}}')).toBeNull();
    expect(scanWorkPoolTemplate("notes.json", '{"text": "see job_configuration"}')).toBeNull();
    const broken = scanWorkPoolTemplate("pools/bad.json", '{\n  "job_configuration": {\n    "x": [\n}\n')!;
    expect(broken.problems).toEqual([expect.objectContaining({ file: "pools/bad.json", line: 4 })]);
    expect(broken.problems[0]!.message).toMatch(/^not valid JSON: .*; file skipped$/);
    const nameless = scanWorkPoolTemplate(
      "base-job-template.json",
      '{"job_configuration": {}, "variables": {}}',
    )!;
    expect(nameless.problems[0]!.message).toContain("its pool cannot be told");
  });
});
