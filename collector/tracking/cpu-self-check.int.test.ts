/**
 * The CPU self-check end to end: real `rightsize run`s of a small workload (the built CLI, `npm run
 * build`) against the real Postgres store the process tree's own CPU sum beside the exact figure, and
 * `rightsize status` prints the measured accuracy from them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecutionRow, listExecutionsOfTask } from "../../db/queries/executions.js";
import { listSamples } from "../../db/queries/samples.js";
import { runCli } from "../../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../../test-support/databases.js";
import { relativeCpuError, summarizeCpuAccuracy } from "./cpu-self-check.js";

/** The interpreter itself, not a version-manager shim. */
const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
  encoding: "utf8",
}).trim();

/** Burns `seconds` of its own CPU. */
const burn = (seconds: number) =>
  `${python} -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<${seconds}: pass'`;

/**
 * Two burners side by side, then ten short-lived children one after another: about 1.8 s of CPU in a
 * tree of a shell and twelve processes, some of which live less than a tick.
 */
const WORKLOAD = `${burn(0.8)} & ${burn(0.7)}; for i in 1 2 3 4 5 6 7 8 9 10; do ${python} -c 'sum(range(1000000))'; done; wait`;

let database: TestDatabase;
let folder: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-cpu-self-check-"));
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

async function run(task: string, env: NodeJS.ProcessEnv = {}): Promise<ExecutionRow> {
  const result = await runCli(
    [
      "--db",
      database.url,
      "run",
      "--pipeline",
      "self-check",
      "--task",
      task,
      "--interval",
      "500ms",
      "--",
    ].concat(["/bin/sh", "-c", WORKLOAD]),
    { env: { RIGHTSIZE_SPOOL_DIR: join(folder, "spool"), RIGHTSIZE_HOST_ID: "self-check-host", ...env } },
  );
  expect(result.code, result.stderr).toBe(0);
  const [execution] = await listExecutionsOfTask(database.handle.db, {
    orchestrator: "generic",
    pipeline: "self-check",
    task,
  });
  if (!execution) throw new Error(`no execution stored for ${task}: ${result.stderr}`);
  return execution;
}

/** The execution's stored CPU total: its last sample's cumulative figure. */
async function storedCpuSeconds(execution: ExecutionRow): Promise<number> {
  const samples = await listSamples(database.handle.db, execution.id);
  return Math.max(...samples.map((sample) => sample.cpuSecondsTotal ?? 0));
}

describe("the CPU self-check", () => {
  it("stores the tree's own sum beside wait4's or the cgroup's figure, and status prints the accuracy", async () => {
    // No cgroup of its own (no cgroup file system where it looks): the reference is wait4's.
    const treeOnly = await run("tree-only", { RIGHTSIZE_CGROUP_ROOT: join(folder, "no-cgroupfs") });
    expect(treeOnly.referenceCpuSource).toBe("wait4");
    // As root `run` makes the command a cgroup of its own where the cgroup file system lets it.
    const wrapped = await run("own-cgroup");
    const ownCgroup = wrapped.cgroupPath?.endsWith(`rightsize-${wrapped.id}`) === true;
    expect(wrapped.referenceCpuSource).toBe(ownCgroup ? "cgroup" : "wait4");

    for (const execution of [treeOnly, wrapped]) {
      const { treeCpuSeconds: tree, referenceCpuSeconds: reference } = execution;
      if (tree === null || reference === null) throw new Error(`no self-check stored for ${execution.task}`);
      // The workload burns about 1.8 s; the tree's sum is close to the exact figure, not equal to it.
      expect(reference).toBeGreaterThan(1.4);
      expect(Math.abs(relativeCpuError(tree, reference)!)).toBeLessThan(0.25);
    }
    // Without a cgroup, the stored total is the tree's sum plus what settling the root with wait4's
    // figure added; with one, the stored total is the cgroup's, the reference itself.
    expect(await storedCpuSeconds(treeOnly)).toBeGreaterThanOrEqual(treeOnly.treeCpuSeconds! - 1e-9);
    if (ownCgroup) expect(await storedCpuSeconds(wrapped)).toBeCloseTo(wrapped.referenceCpuSeconds!, 6);

    const status = await runCli(["--db", database.url, "status"], {
      env: { RIGHTSIZE_SPOOL_DIR: join(folder, "spool") },
    });
    expect(status.code, status.stderr).toBe(0);
    const sources = ownCgroup ? "cgroup 1, wait4 1" : "wait4 2";
    expect(status.stdout).toContain(
      `accuracy     CPU self-check, last 7 days: 2 of 2 ended executions have an exact CPU figure (${sources})`,
    );
    const accuracy = summarizeCpuAccuracy(
      [treeOnly, wrapped].map((execution) => ({
        treeCpuSeconds: execution.treeCpuSeconds!,
        referenceCpuSeconds: execution.referenceCpuSeconds!,
      })),
    );
    const percent = (value: number) => `${value > 0 ? "+" : ""}${(value * 100).toFixed(1)} %`;
    expect(status.stdout).toContain(
      `  tree sum   median ${percent(accuracy.median!)}, worst ${percent(accuracy.worst!)} of the exact figure (2 judged: 1 s of CPU or more; ${accuracy.overThreshold} over 2 %)`,
    );
  });
});
