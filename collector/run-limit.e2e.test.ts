/**
 * A limit set above the task's cgroup, end to end with real processes: `rightsize run` started inside a
 * cgroup limited to 1 GiB (as a worker's container or a systemd service would be) makes its command a
 * cgroup of its own below it, which sets no limit itself. The runs must still be recorded with the
 * 1 GiB that bound them, so a DAG declaring 8 GiB gets the "does not apply" finding in
 * `check --format github` and in the report. Needs root and `npm run build`, as `run` does.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
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
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GiB } from "../common/units.js";
import { queryRows } from "../db/client.js";
import { cliPath, runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { createOwnCgroup, detectCgroupLayout, type OwnCgroup } from "./procfs/cgroup.js";
import { ProcReader } from "./procfs/proc-reader.js";

const folder = realpathSync(mkdtempSync(join(tmpdir(), "rightsize-run-limit-")));
const repo = join(folder, "repo");
const env = { REDIS_URL: "", RIGHTSIZE_REPORTS_DIR: join(folder, "reports"), GITHUB_WORKSPACE: repo };
const RUNS = 4;

let database: TestDatabase;
let limited: OwnCgroup;

/** `rightsize run` for etl/load, started by a shell that first joins the limited cgroup. */
function runInLimitedCgroup(runId: string): Promise<{ code: number | null; stderr: string }> {
  const command = [
    cliPath,
    "run",
    "--orchestrator",
    "airflow",
    "--pipeline",
    "etl",
    "--task",
    "load",
    "--run",
    runId,
    "--db",
    database.url,
    "--",
    "python3",
    "-c",
    "import time; block = bytearray(64 << 20); time.sleep(1)",
  ];
  const script = 'IFS=:; for f in $PROCS; do echo $$ > "$f"; done; unset IFS; exec "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script, "sh", process.execPath, ...command], {
      env: { ...process.env, ...env, LOG_LEVEL: "warn", PROCS: limited.procsFiles.join(":") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  mkdirSync(join(repo, "dags"), { recursive: true });
  writeFileSync(
    join(repo, "dags/etl.py"),
    `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("etl") as dag:
    BashOperator(task_id="load", bash_command="x", resources={"cpus": 1, "ram": 8192})
`,
  );
  database = await createPostgresTestDatabase();
  const reader = new ProcReader();
  const made = createOwnCgroup(
    reader,
    "/proc",
    detectCgroupLayout("/sys/fs/cgroup"),
    `rightsize-limit-${randomUUID()}`,
  );
  if (!made) throw new Error("no cgroup could be made here: this test needs root and a cgroup file system");
  limited = made;
  const memory = limited.cgroup.version === 2 ? limited.cgroup.unified! : limited.cgroup.memory!;
  writeFileSync(
    join(memory, limited.cgroup.version === 2 ? "memory.max" : "memory.limit_in_bytes"),
    `${GiB}\n`,
  );
}, 60_000);

afterAll(async () => {
  limited?.remove();
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

describe("run inside a cgroup limited to 1 GiB, for a task whose DAG declares 8 GiB", () => {
  it("records the 1 GiB that bound it, and check and the report say the 8 GiB does not apply", async () => {
    for (let run = 0; run < RUNS; run++) {
      const result = await runInLimitedCgroup(`manual__limit_${run}`);
      expect(result.code, result.stderr).toBe(0);
    }
    const stored = await queryRows<{ limit_memory_bytes: number; memory_source: string; peak: number }>(
      database.handle.db,
      sql`select e.limit_memory_bytes::float8 as limit_memory_bytes, e.memory_source,
                 (select max(rss_bytes) from samples s where s.execution_id = e.id)::float8 as peak
            from task_executions e where e.pipeline = 'etl' and e.task = 'load'`,
    );
    expect(stored).toHaveLength(RUNS);
    for (const row of stored) {
      expect(row).toMatchObject({ limit_memory_bytes: GiB, memory_source: "cgroup" });
      expect(row.peak).toBeGreaterThan(64 * 2 ** 20);
    }

    const windowEnd = new Date(Date.now() + 60_000).toISOString();
    expect((await runCli(["scan", "--repo", repo, "--db", database.url], { env })).code).toBe(0);
    const analyzed = await runCli(["analyze", "--db", database.url, "--window-end", windowEnd], { env });
    expect(analyzed.code, analyzed.stderr).toBe(0);

    const check = await runCli(
      ["check", "--repo", repo, "--db", database.url, "--format", "github", "--fail-on", "warning"],
      { env, cwd: repo },
    );
    expect(check.code, check.stderr).toBe(1);
    const annotations = check.stdout.split("\n").filter((line) => line.includes("does-not-apply"));
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatch(
      /^::warning file=dags\/etl\.py,line=5,title=rightsize%3A etl\/load does-not-apply::memory request 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup;/,
    );

    const out = join(folder, "report");
    const report = await runCli(["report", "--db", database.url, "--out", out, "--format", "md"], { env });
    expect(report.code, report.stderr).toBe(0);
    const markdown = readdirSync(out)
      .filter((name) => name.endsWith(".md"))
      .map((name) => readFileSync(join(out, name), "utf8"))
      .join("\n");
    expect(markdown).toContain("does not apply: the runs had a 1 GiB memory limit in their cgroup");
  }, 240_000);
});
