/**
 * Prefect deployments against their work pool's base job template: a deployment that wants another value
 * than the pool's default gets the job variable of its own in prefect.yaml (in its `work_pool` without
 * job variables, in a flow mapping of them, in a block mapping), deployments sharing a whole `work_pool`
 * through an anchor keep the pool's default; and a job variable the template names only outside the
 * job's resources does not apply. An exact diff `git apply --check` accepts, read back by PyYAML (as
 * Prefect reads prefect.yaml) and by Python's json (the pools' templates).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { poolOverrideAnalysis, poolOverrideFiles } from "../test-support/work-pool-fixtures.js";
import {
  patchedRepository,
  readWithPyYaml,
  useScratchFolder,
  writeRepository,
} from "../test-support/repositories.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { checkRequests } from "./check.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";

const work = useScratchFolder("work-pool-overrides");

const envOnly =
  "memory request 12 GiB does not apply: the base job template of work pool fixed sizes the job's memory request with a value of its own (pools/fixed.json:6) and places {{ memory }} only elsewhere, so the job variable memory sizes nothing. The effective value is set in the work pool fixed's base job template (pools/fixed.json:6)";
const cpuShared =
  "cpu request at pools/k8s.json:12 is shared by tasks that need different values (nightly/small: 0.25 cores (0.25); nightly/medium: 0.5 cores (0.5); nightly/large: 2 cores (2); nightly/first-shared: 1 core (1); nightly/second-shared: 0.75 cores (0.75))";
const memoryShared =
  "memory request at pools/k8s.json:13 is shared by tasks that need different values (nightly/small: 512 MiB (512Mi); nightly/medium: 1 GiB (1Gi); nightly/large: 6 GiB (6Gi); nightly/first-shared: 2 GiB (2Gi); nightly/second-shared: 1.5 GiB (1536Mi))";

describe("work pools' per-deployment overrides", () => {
  it("a job variable the template places only outside the job's resources does not apply", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "check"), poolOverrideFiles),
      defaultPrefectNames,
    );
    expect(scan.problems).toEqual([]);
    const report = checkRequests(
      scan,
      poolOverrideAnalysis(),
      { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 },
      "warning",
    );
    const envItems = report.items.filter(
      (item) => item.pipeline === "nightly/env-only" && item.resource === "memory",
    );
    expect(envItems.map((item) => `${item.file}:${item.line} ${item.verdict} ${item.message}`)).toEqual([
      `prefect.yaml:33 does-not-apply ${envOnly}`,
      // What the job really gets is the template's own value: that is what is judged.
      "pools/fixed.json:6 under-provisioned memory request 4 GiB is below the observed peak 8.7 GiB; recommended 10 GiB",
    ]);
  });

  it("writes the deployments' own job variables with a diff git apply accepts, read back by PyYAML", async () => {
    const repo = writeRepository(join(work(), "patch"), poolOverrideFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      poolOverrideAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    const override = (name: string) =>
      `# override for nightly/${name} in prefect.yaml: ${cpuShared}; ${memoryShared}`;
    expect(patch).toBe(
      [
        '# pools/fixed.json:6 nightly/env-only: memory request "4Gi" -> "10Gi"',
        '# pools/k8s.json:12 nightly/small: cpu request "1" -> "0.25" (per-task override)',
        '# pools/k8s.json:12 nightly/medium: cpu request "1" -> "0.5" (per-task override)',
        '# pools/k8s.json:12 nightly/large: cpu request "1" -> "2" (per-task override)',
        '# pools/k8s.json:13 nightly/first-shared, nightly/second-shared: memory request "4Gi" -> "2Gi"',
        '# pools/k8s.json:13 nightly/small: memory request "4Gi" -> "512Mi" (per-task override)',
        '# pools/k8s.json:13 nightly/medium: memory request "4Gi" -> "1Gi" (per-task override)',
        '# pools/k8s.json:13 nightly/large: memory request "4Gi" -> "6Gi" (per-task override)',
        `# ${cpuShared}: no per-task override is possible for nightly/second-shared in pools/k8s.json (work_pool_template); the shared value is the largest one wanted`,
        `# ${memoryShared}: no per-task override is possible for nightly/second-shared in pools/k8s.json (work_pool_template); the shared value is the largest one wanted`,
        override("small"),
        override("medium"),
        override("large"),
        `# prefect.yaml:33 nightly/env-only/__flow__: left as it is, ${envOnly}`,
        "diff --git a/pools/fixed.json b/pools/fixed.json",
        "--- a/pools/fixed.json",
        "+++ b/pools/fixed.json",
        "@@ -3,7 +3,7 @@",
        '     "env": {"PIPELINE_MEMORY": "{{ memory }}"},',
        '     "job_manifest": {',
        '       "spec": {"template": {"spec": {"containers": [',
        '-        {"image": "{{ image }}", "resources": {"requests": {"memory": "4Gi"}}}',
        '+        {"image": "{{ image }}", "resources": {"requests": {"memory": "10Gi"}}}',
        "       ]}}}",
        "     }",
        "   },",
        "diff --git a/pools/k8s.json b/pools/k8s.json",
        "--- a/pools/k8s.json",
        "+++ b/pools/k8s.json",
        "@@ -10,7 +10,7 @@",
        '     "properties": {',
        '       "image": {"type": "string", "default": "prefecthq/prefect:3-latest"},',
        '       "cpu": {"type": "string", "default": "1"},',
        '-      "memory": {"type": "string", "default": "4Gi"}',
        '+      "memory": {"type": "string", "default": "2Gi"}',
        "     }",
        "   }",
        " }",
        "diff --git a/prefect.yaml b/prefect.yaml",
        "--- a/prefect.yaml",
        "+++ b/prefect.yaml",
        "@@ -8,17 +8,22 @@",
        "     entrypoint: flows/etl.py:nightly",
        "     work_pool:",
        "       name: k8s",
        `+      # rightsize: per-deployment override, ${cpuShared}; ${memoryShared}`,
        '+      job_variables: {cpu: "0.25", memory: "512Mi"}',
        "   - name: medium",
        "     entrypoint: flows/etl.py:nightly",
        "     work_pool:",
        "       name: k8s",
        '-      job_variables: {image: "etl:2"}',
        '+      job_variables: {image: "etl:2", cpu: "0.5", memory: "1Gi"}',
        "   - name: large",
        "     entrypoint: flows/etl.py:nightly",
        "     work_pool:",
        "       name: k8s",
        "       job_variables:",
        '         image: "etl:2" # pinned',
        `+        # rightsize: per-deployment override, ${cpuShared}; ${memoryShared}`,
        '+        cpu: "2"',
        '+        memory: "6Gi"',
        "   - name: first-shared",
        "     entrypoint: flows/etl.py:nightly",
        "     work_pool: *shared",
        "",
      ].join("\n"),
    );
    const clean = patchedRepository(join(work(), "clean"), poolOverrideFiles, patch);
    const read = readWithPyYaml(
      `import json, sys, yaml
deployments = yaml.safe_load(open(sys.argv[1]))["deployments"]
pools = {name: json.load(open(path))["variables"]["properties"] for name, path in (("k8s", sys.argv[2]), ("fixed", sys.argv[3]))}
fixed = json.load(open(sys.argv[3]))["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"][0]["resources"]
print(json.dumps({
  "jobVariables": {d["name"]: d["work_pool"].get("job_variables") for d in deployments},
  "k8sDefaults": {k: v.get("default") for k, v in pools["k8s"].items()},
  "fixed": fixed,
}))`,
      [join(clean, "prefect.yaml"), join(clean, "pools/k8s.json"), join(clean, "pools/fixed.json")],
    );
    expect(read).toEqual({
      jobVariables: {
        small: { cpu: "0.25", memory: "512Mi" },
        medium: { image: "etl:2", cpu: "0.5", memory: "1Gi" },
        large: { image: "etl:2", cpu: "2", memory: "6Gi" },
        "first-shared": null,
        "second-shared": null,
        "env-only": { memory: "12Gi" },
      },
      k8sDefaults: { image: "prefecthq/prefect:3-latest", cpu: "1", memory: "2Gi" },
      fixed: { requests: { memory: "10Gi" } },
    });
  });
});
