/**
 * dag-factory YAML DAG definitions and Prefect work-pool base job templates end to end: the built command
 * scans each fixture repository, `patch` writes exactly the expected patch, and real git applies it to a
 * committed copy, after which PyYAML and JSON read the values written.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { runCli } from "../test-support/cli.js";
import {
  dagFactoryAnalysis,
  dagFactoryExpectedPatch,
  dagFactoryFiles,
} from "../test-support/dag-factory-fixtures.js";
import {
  workPoolAnalysis,
  workPoolExpectedPatch,
  workPoolFiles,
} from "../test-support/work-pool-fixtures.js";
import { git, useScratchFolder } from "../test-support/repositories.js";

const work = useScratchFolder("yaml-json");

/** Writes the files as a committed git repository and the analysis beside it. */
function repository(name: string, files: Record<string, string>, analysis: AnalysisDocument) {
  const repo = join(work(), name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    writeFileSync(join(repo, file), text);
  }
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "fixture");
  const analysisFile = join(work(), `${name}-analysis.json`);
  writeFileSync(analysisFile, JSON.stringify(analysis));
  return { repo, analysisFile };
}

/** `patch` into a folder of its own; returns the patch's text after `git apply --check` accepted it. */
async function patchAndApply(repo: string, analysisFile: string): Promise<string> {
  const out = join(work(), `${repo.split("/").at(-1)}-patches`);
  const result = await runCli(["patch", "--repo", repo, "--recommendations", analysisFile, "--out", out]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const patch = join(out, "rightsize.patch");
  git(repo, "apply", "--check", patch);
  git(repo, "apply", patch);
  return readFileSync(patch, "utf8");
}

const python = (script: string, ...args: string[]) =>
  JSON.parse(execFileSync("python3", ["-c", script, ...args], { encoding: "utf8" })) as unknown;

describe("dag-factory YAML DAG definitions", () => {
  it("scans with file:line, writes the exact patch, and git applies it", async () => {
    const { repo, analysisFile } = repository("dag-factory", dagFactoryFiles, dagFactoryAnalysis());
    const scan = await runCli(["scan", "--repo", repo, "--no-store"]);
    expect(scan.code).toBe(0);
    expect(scan.stderr).toBe("");
    const lines = scan.stdout.split("\n");
    expect(lines).toContain(
      "dags/warehouse.yml:14:12  warehouse_etl/extract,score,transform.aggregate  memory request 8192 = 8 GiB  [dag_factory_resources via default_args]",
    );
    expect(lines).toContain(
      'dags/warehouse.yml:44:28  warehouse_etl/score  cpu request "2000m" = 2 cores  [dag_factory_pod_override]',
    );
    expect(lines).toContain(
      "dags/warehouse.yml:57:16  reporting/train  cpu request 1 = 1 core  [dag_factory_container_resources]",
    );

    expect(await patchAndApply(repo, analysisFile)).toBe(dagFactoryExpectedPatch);
    expect(git(repo, "diff", "--name-only").trim()).toBe("dags/warehouse.yml");
    // dag-factory loads the file with PyYAML: the values written read as meant, comments kept.
    const loaded = python(
      "import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1])); t = d['warehouse_etl']['tasks']; print(json.dumps({'default': d['default']['default_args']['resources'], 'dag': d['warehouse_etl']['default_args']['resources'], 'aggregate': t['aggregate']['resources'], 'score': t['score']['executor_config']['pod_override']['spec']['containers']['items'][0]['resources']['requests'], 'train': d['reporting']['tasks'][0]['container_resources']['requests']}))",
      join(repo, "dags/warehouse.yml"),
    );
    expect(loaded).toEqual({
      default: { cpus: 0.5, ram: 3072 },
      dag: { ram: 1024 },
      aggregate: { cpus: 1.5, ram: 6144 },
      score: { cpu: "1200m", memory: "5Gi" },
      train: { cpu: 0.75, memory: "3Gi" },
    });
    expect(readFileSync(join(repo, "dags/warehouse.yml"), "utf8")).toContain(
      "ram: 1024   # the nightly join needs it",
    );
  });
});

describe("Prefect work-pool base job templates", () => {
  it("reports the deployments that inherit a pool default, writes the exact patch, and git applies it", async () => {
    const { repo, analysisFile } = repository("work-pools", workPoolFiles, workPoolAnalysis());
    const scan = await runCli(["scan", "--repo", repo, "--no-store"]);
    expect(scan.code).toBe(0);
    const lines = scan.stdout.split("\n");
    expect(lines).toContain(
      'work-pools/k8s-pool.json:39:77  nightly-etl/nightly/__flow__  cpu request "1000m" = 1 core  [work_pool_template via work_pool]',
    );
    expect(lines).toContain(
      'work-pools/k8s-pool.json:40:83  hourly-sync/hourly/__flow__  memory request "2Gi" = 2 GiB  [work_pool_template via work_pool]',
    );
    expect(lines).toContain(
      "work-pools/ecs.json:19:56  export/export/__flow__  cpu request 2048 = 2 cores  [work_pool_template via work_pool]",
    );

    // The CI check judges the inherited defaults at their place in the template.
    const check = await runCli([
      "check",
      "--repo",
      repo,
      "--recommendations",
      analysisFile,
      "--format",
      "json",
    ]);
    expect(check.code).toBe(1);
    const report = JSON.parse(check.stdout) as {
      violations: Array<{ pipeline: string; resource: string; verdict: string; file: string; line: number }>;
    };
    expect(report.violations).toContainEqual(
      expect.objectContaining({
        pipeline: "export/export",
        resource: "memory",
        verdict: "over-provisioned",
        file: "work-pools/ecs.json",
        line: 18,
      }),
    );

    expect(await patchAndApply(repo, analysisFile)).toBe(workPoolExpectedPatch);
    expect(git(repo, "diff", "--name-only").trim().split("\n")).toEqual([
      "prefect.yaml",
      "work-pools/ecs.json",
      "work-pools/k8s-pool.json",
    ]);
    // The templates stay JSON that Prefect (and Python) reads, with the values written.
    const k8s = python(
      "import json, sys; print(json.dumps(json.load(open(sys.argv[1]))['variables']['properties']))",
      join(repo, "work-pools/k8s-pool.json"),
    ) as Record<string, { default: unknown }>;
    expect(k8s.cpu_request!.default).toBe("500m");
    expect(k8s.memory_request!.default).toBe("1536Mi");
    expect(k8s.memory_limit!.default).toBe("4Gi");
    const ecs = JSON.parse(readFileSync(join(repo, "work-pools/ecs.json"), "utf8")) as {
      base_job_template: { variables: { properties: Record<string, { default: number }> } };
    };
    expect(ecs.base_job_template.variables.properties.cpu!.default).toBe(512);
    expect(ecs.base_job_template.variables.properties.memory!.default).toBe(2048);
  });
});
