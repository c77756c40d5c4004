/**
 * Requests that do not apply, end to end with the built command on the embedded database: runs recorded
 * with a 1 GiB cgroup memory limit (as the collector stores a task's cgroup) for a task whose DAG
 * declares 8 GiB; `scan` stores the declaration, `analyze` writes what the runs really had, and then
 * `check --format github`, `scan`, `report` and `patch` each say the declaration does not apply.
 */
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analysisDocumentSchema } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";
import { openDatabase } from "../db/client.js";
import { upsertExecution } from "../db/queries/executions.js";
import { upsertHost } from "../db/queries/hosts.js";
import { insertSamples } from "../db/queries/samples.js";
import { migrateDatabase } from "../db/migrate.js";
import { runCli } from "../test-support/cli.js";
import { testSample } from "../test-support/writer-test-rows.js";

const windowEnd = "2026-11-20T02:00:00.000Z";
const folder = realpathSync(mkdtempSync(join(tmpdir(), "rightsize-effective-")));
const db = join(folder, "db");
const repo = join(folder, "repo");
const env = { REDIS_URL: "", RIGHTSIZE_REPORTS_DIR: join(folder, "reports"), GITHUB_WORKSPACE: repo };

const dag = `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("etl") as dag:
    BashOperator(task_id="extract", bash_command="x", resources={"cpus": 1, "ram": 512})
    BashOperator(task_id="load", bash_command="x", resources={"cpus": 1, "ram": 8192})
`;

beforeAll(async () => {
  mkdirSync(join(repo, "dags"), { recursive: true });
  writeFileSync(join(repo, "dags/etl.py"), dag);
  const handle = await openDatabase(db);
  try {
    await migrateDatabase(handle);
    await upsertHost(handle.db, { id: "host-a", hostname: "host-a", cores: 4, memoryBytes: 16 * GiB });
    for (const task of ["extract", "load"]) {
      for (let run = 0; run < 4; run++) {
        const id = `00000000-0000-4000-8000-${task === "load" ? "1" : "2"}${String(run).padStart(11, "0")}`;
        const startedAt = new Date(Date.parse(windowEnd) - (run + 1) * 12 * 3_600_000);
        await upsertExecution(handle.db, {
          id,
          orchestrator: "airflow",
          pipeline: "etl",
          task,
          runId: `scheduled__${startedAt.toISOString()}`,
          hostId: "host-a",
          attribution: "airflow-argv",
          startedAt,
          endedAt: new Date(startedAt.getTime() + 30_000),
          exitCode: 0,
          status: "succeeded",
          // What the collector reads from the task's cgroup: memory.max of 1 GiB, no request.
          limitMemoryBytes: GiB,
          memorySource: "cgroup",
        });
        await insertSamples(
          handle.db,
          Array.from({ length: 30 }, (_, tick) => testSample(id, startedAt, tick + 1)),
        );
      }
    }
  } finally {
    await handle.close();
  }
});

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe("a declared request the runs never had", () => {
  it("is in the analysis document, check --format github, scan, the report and the patch notes", async () => {
    const stored = await runCli(["scan", "--repo", repo, "--db", db], { env });
    expect(stored.code).toBe(0);

    const file = join(folder, "analysis.json");
    const analyzed = await runCli(["analyze", "--db", db, "--window-end", windowEnd, "--json", file], {
      env,
    });
    expect(analyzed.code).toBe(0);
    const document = analysisDocumentSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    const load = document.tasks.find((task) => task.task === "load")!;
    expect(load.effectiveRequest).toEqual({
      cpu: null,
      memory: { request: null, limit: GiB, source: "cgroup", runs: 4 },
      notApplied: [
        {
          resource: "memory",
          kind: "request",
          declared: 8 * GiB,
          message:
            "the declared memory request of 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup",
        },
      ],
    });
    expect(load.evidence).toContain(
      "the declared memory request of 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup",
    );
    // 512 MiB fits under the 1 GiB limit: nothing to say about extract.
    expect(document.tasks.find((task) => task.task === "extract")!.evidence.join(" ")).not.toMatch(
      /does not apply/,
    );

    const check = await runCli(
      ["check", "--repo", repo, "--db", db, "--format", "github", "--fail-on", "warning"],
      { env, cwd: repo },
    );
    expect(check.code).toBe(1);
    const annotations = check.stdout.split("\n").filter((line) => line.includes("does-not-apply"));
    expect(annotations).toEqual([
      "::warning file=dags/etl.py,line=6,title=rightsize%3A etl/load does-not-apply::memory request 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup; Airflow applies resources= only through Airflow 2's CgroupTaskRunner ([core] task_runner) on a worker outside any container; the default runner ignores it and Airflow 3 has no task runners. The effective value is set in the cgroup the task ran in (its worker's container or service limits)",
    ]);

    const scan = await runCli(["scan", "--repo", repo, "--db", db], { env });
    expect(scan.code).toBe(0);
    expect(scan.stdout).toContain(
      "warning: dags/etl.py:6 etl/load: memory request 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup;",
    );
    expect(scan.stdout).toMatch(/, 1 that do not apply; stored\n$/);

    const out = join(folder, "report");
    const report = await runCli(["report", "--db", db, "--out", out, "--format", "md"], { env });
    expect(report.code).toBe(0);
    const markdown = readdirSync(out)
      .filter((name) => name.endsWith(".md"))
      .map((name) => readFileSync(join(out, name), "utf8"))
      .join("\n");
    expect(markdown).toContain("does not apply: the runs had a 1 GiB memory limit in their cgroup");

    const patches = join(folder, "patches");
    const patch = await runCli(["patch", "--repo", repo, "--db", db, "--out", patches], { env });
    expect(patch.code).toBe(0);
    expect(patch.stdout).toContain(
      "note: dags/etl.py:6 etl/load: left as it is, memory request 8 GiB does not apply",
    );
    const diff = readFileSync(join(patches, "rightsize.patch"), "utf8");
    // The 8192 is not "fixed"; what the patch does change still applies to the repository.
    expect(diff).toMatch(/^\+.*task_id="load".*"ram": 8192\}/m);
    execFileSync("git", ["init", "-q"], { cwd: repo });
    execFileSync("git", ["apply", "--check", join(patches, "rightsize.patch")], { cwd: repo });
  });
});
