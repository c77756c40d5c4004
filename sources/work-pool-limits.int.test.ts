/**
 * `cpu_limit` / `memory_limit` job variables are limits where the deployment's work pool's base job
 * template names them (as Prefect's default Kubernetes template does) and nothing elsewhere: found, patched
 * with a diff git apply accepts, and read back by PyYAML as Prefect reads prefect.yaml.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GiB } from "../common/units.js";
import { analysisTask, defaultPrefectNames } from "../test-support/source-fixtures.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";
import { useScratchFolder, writeRepository } from "../test-support/repositories.js";

const pool = (limits: string) => `{
  "job_configuration": {
    "job_manifest": {"spec": {"template": {"spec": {"containers": [{"resources": {"requests": {"memory": "{{ memory }}"}, "limits": ${limits}}}]}}}}
  },
  "variables": {"properties": {"memory": {"default": "1Gi"}}}
}
`;

const files: Record<string, string> = {
  "flows/etl.py": "from prefect import flow\n\n\n@flow\ndef nightly():\n    pass\n",
  "prefect.yaml": `deployments:
  - name: limited
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: k8s
      job_variables:
        memory: 4Gi
        memory_limit: 8Gi
  - name: unlimited
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: plain
      job_variables:
        memory: 4Gi
        memory_limit: 8Gi
`,
  "pools/k8s.json": pool('{"memory": "{{ memory_limit }}"}'),
  "pools/plain.json": pool("{}"),
};

const work = useScratchFolder("pool-limits");

describe("limit job variables", () => {
  it("are limits only where the pool's template names them", async () => {
    const scan = await scanRepository(writeRepository(join(work(), "scan"), files), defaultPrefectNames);
    expect(scan.problems).toEqual([]);
    expect(
      scan.findings.map(
        (finding) =>
          `${finding.file}:${finding.line} ${finding.pipeline} ${finding.resource} ${finding.kind} ${finding.raw}`,
      ),
    ).toEqual([
      "prefect.yaml:7 nightly/limited memory request 4Gi",
      "prefect.yaml:8 nightly/limited memory limit 8Gi",
      "prefect.yaml:14 nightly/unlimited memory request 4Gi",
    ]);
  });

  it("move with a request that outgrows them, in a diff git apply accepts", async () => {
    const repo = writeRepository(join(work(), "patch"), files);
    const tasks = ["limited", "unlimited"].map((deployment) =>
      analysisTask({
        orchestrator: "prefect",
        pipeline: `nightly/${deployment}`,
        task: "__flow__",
        cpuCores: 1,
        memoryBytes: 12 * GiB,
        peakBytes: 10 * GiB,
      }),
    );
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () => ({
      generatedAt: "2026-11-20T02:00:00Z",
      windowDays: 14,
      tasks,
    }));
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        "# prefect.yaml:7 nightly/limited: memory request 4Gi -> 12Gi",
        "# prefect.yaml:8 nightly/limited: memory limit 8Gi -> 24Gi",
        "# prefect.yaml:14 nightly/unlimited: memory request 4Gi -> 12Gi",
        "diff --git a/prefect.yaml b/prefect.yaml",
        "--- a/prefect.yaml",
        "+++ b/prefect.yaml",
        "@@ -4,12 +4,12 @@",
        "     work_pool:",
        "       name: k8s",
        "       job_variables:",
        "-        memory: 4Gi",
        "-        memory_limit: 8Gi",
        "+        memory: 12Gi",
        "+        memory_limit: 24Gi",
        "   - name: unlimited",
        "     entrypoint: flows/etl.py:nightly",
        "     work_pool:",
        "       name: plain",
        "       job_variables:",
        "-        memory: 4Gi",
        "+        memory: 12Gi",
        "         memory_limit: 8Gi",
        "",
      ].join("\n"),
    );
    const clean = writeRepository(join(work(), "clean"), files);
    execFileSync("git", ["init", "-q"], { cwd: clean });
    const patchFile = join(work(), "limits.patch");
    writeFileSync(patchFile, patch);
    execFileSync("git", ["apply", "--check", patchFile], { cwd: clean });
    execFileSync("git", ["apply", patchFile], { cwd: clean });
    const read = execFileSync("python3", [
      "-c",
      "import json, sys, yaml; print(json.dumps([d['work_pool']['job_variables'] for d in yaml.safe_load(open(sys.argv[1]))['deployments']]))",
      join(clean, "prefect.yaml"),
    ]).toString();
    expect(JSON.parse(read)).toEqual([
      { memory: "12Gi", memory_limit: "24Gi" },
      { memory: "12Gi", memory_limit: "8Gi" },
    ]);
  });
});
