/**
 * What the backtest tells `patch` and `pr`, as real processes (the built dist/) on a real Postgres: a task
 * whose runs all peak near 300 MiB under a 2 GiB request gets its cut, and the output says what the cut
 * would have done to its past runs; a task whose newest runs grew to 900 MiB keeps its 2 GiB, because
 * sized from its older runs it would have OOM-killed the newest ones, and the patch, the commit and the
 * pull request body say so with the backtest's numbers.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MiB } from "../../common/units.js";
import { upsertHost } from "../../db/queries/hosts.js";
import { seedRun } from "../../test-support/backtest-runs.js";
import { runCli } from "../../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import { type GithubStandIn, startGithubStandIn } from "../../test-support/github-stand-in.js";

const windowEnd = "2026-11-20T02:00:00.000Z";
const dag = `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("etl_daily") as dag:
    BashOperator(task_id="steady", bash_command="x", resources={"cpus": 2, "ram": 2048})
    BashOperator(task_id="grows", bash_command="x", resources={"cpus": 2, "ram": 2048})
`;
const folder = realpathSync(mkdtempSync(join(tmpdir(), "rightsize-patch-backtest-")));
const repo = join(folder, "repo");
const remote = join(folder, "remote.git");
const env = { REDIS_URL: "", RIGHTSIZE_REPORTS_DIR: join(folder, "reports") };
let database: TestDatabase;
let github: GithubStandIn;

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd,
    encoding: "utf8",
  });
}

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  const db = database.handle.db;
  await upsertHost(db, { id: "host-a", hostname: "host-a", cores: 4, memoryBytes: 16 * 1024 * MiB });
  for (let index = 0; index < 8; index++) {
    const base = { index, runs: 8, cores: 0.5, windowEnd };
    await seedRun(db, { ...base, task: "airflow/etl_daily/steady", peakMiB: 300 });
    await seedRun(db, { ...base, task: "airflow/etl_daily/grows", peakMiB: index >= 6 ? 900 : 400 });
  }
  mkdirSync(join(repo, "dags"), { recursive: true });
  writeFileSync(join(repo, "dags/etl.py"), dag);
  git(folder, "init", "-q", "--bare", "-b", "main", remote);
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "DAGs");
  git(repo, "remote", "add", "origin", remote);
  git(repo, "push", "-q", "origin", "main");
  github = await startGithubStandIn();
  const analyzed = await runCli(["analyze", "--db", database.url, "--window-end", windowEnd], { env });
  expect(analyzed.stderr).toBe("");
  expect(analyzed.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await github?.close();
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

const steadyPastRuns =
  "past runs of airflow/etl_daily/steady: none of its 8 runs would have exceeded 384 MiB; none would have run noticeably longer on";
const heldBack =
  "etl_daily/grows: memory request 2 GiB at dags/etl.py:6 kept, not cut to 1.1 GiB: the backtest shows OOM risk for a cut (2 of the 2 newest runs would have exceeded the 512 MiB the older runs suggest)";

describe("patch and pr with the backtest", () => {
  it("patch cuts the steady task, says what the cut would have done to its runs, and keeps the growing one's memory", async () => {
    const out = join(folder, "patches");
    const result = await runCli(["patch", "--repo", repo, "--db", database.url, "--out", out], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^dags\/etl\.py:5 +etl_daily\/steady +memory request 2048 -> 384 /m);
    expect(result.stdout).not.toMatch(/etl_daily\/grows +memory request/);
    expect(result.stdout).toContain(steadyPastRuns);
    expect(result.stdout).toContain(`note: ${heldBack}`);
    const patch = readFileSync(join(out, "rightsize.patch"), "utf8");
    expect(patch).toContain(`# ${steadyPastRuns}`);
    expect(patch).toContain(`# ${heldBack}`);
  });

  it("pr says the same in the commit and the pull request body", async () => {
    const result = await runCli(
      ["pr", "--repo", repo, "--db", database.url, "--github", "acme/dags", "--push"],
      { env: { ...env, GITHUB_TOKEN: "test-token", GITHUB_API_URL: github.url } },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(steadyPastRuns);
    const message = git(remote, "log", "-1", "--format=%B", "rightsize/rightsizing");
    expect(message).toContain(`Note: ${heldBack}`);
    const body = String(github.opened.at(-1)?.body);
    expect(body).toContain("- etl\\_daily/grows: memory request 2 GiB at dags/etl.py:6 kept, not cut to");
    expect(body).toContain("### Replayed on past runs");
    expect(body).toMatch(/- etl\\_daily \/ steady: none of its 8 runs would have exceeded 384 MiB;/);
  });
});
