/**
 * An execution `rightsize run` is recording belongs to that wrapper: a `collect` daemon started meanwhile
 * neither resumes it (double samples) nor closes it (overwritten status and exit code). Real processes,
 * the built CLI (`npm run build`), the real Postgres.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listExecutionsOfTask } from "../db/queries/executions.js";
import { listSamples } from "../db/queries/samples.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";

let database: TestDatabase;
let folder: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-collect-wrapper-"));
});
afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

const key = { orchestrator: "generic", pipeline: "wrapper-owned", task: "sleeper" };

describe("collect next to a live run", () => {
  it("leaves the wrapper's execution alone: one sample per tick, the wrapper's status and exit code", async () => {
    const env = { RIGHTSIZE_HOST_ID: "wrapper-test-host", RIGHTSIZE_SPOOL_DIR: join(folder, "spool") };
    const run = runCli(
      [
        "--db",
        database.url,
        "run",
        "--pipeline",
        key.pipeline,
        "--task",
        key.task,
        "--interval",
        "1s",
        "--",
        "sh",
        "-c",
        "sleep 8; exit 4",
      ],
      { env },
    );
    // Wait until the wrapper's running execution is stored (it is written at the first flush).
    let stored = await listExecutionsOfTask(database.handle.db, key);
    for (let attempt = 0; stored.length === 0 && attempt < 600; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stored = await listExecutionsOfTask(database.handle.db, key);
    }
    expect(stored).toHaveLength(1);
    const collect = await runCli(["--db", database.url, "collect", "--interval", "1s", "--duration", "4s"], {
      env: { ...env, RIGHTSIZE_SPOOL_DIR: join(folder, "collect-spool") },
    });
    expect(collect.code, collect.stderr).toBe(0);
    expect(collect.stdout).toMatch(/\(0 resumed, 0 lost\)/);
    const wrapper = await run;
    expect(wrapper.code).toBe(4);
    const [execution] = await listExecutionsOfTask(database.handle.db, key);
    expect(execution).toMatchObject({ status: "failed", exitCode: 4 });
    // One writer only: consecutive samples are a tick apart, never two within one tick.
    const samples = await listSamples(database.handle.db, execution!.id);
    expect(samples.length).toBeGreaterThan(3);
    for (let index = 1; index < samples.length; index++) {
      const gap = samples[index]!.ts.getTime() - samples[index - 1]!.ts.getTime();
      expect(gap).toBeGreaterThan(500);
    }
  });
});
