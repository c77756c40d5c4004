/**
 * A collector that cannot start its storage must not hang nor change the wrapped command's fate: `run`
 * returns the command's own exit code and removes its cgroups, `collect` exits 1 at once so its
 * supervisor (systemd `Restart=on-failure`, a DaemonSet) starts it again. Runs the built CLI
 * (`npm run build`). A hang shows as the 60-s kill (signal SIGKILL), not as a timed assertion.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";

let database: TestDatabase;
let folder: string;
/** A spool path under a regular file: mkdir fails with ENOTDIR. */
let badSpool: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-failed-start-"));
  writeFileSync(join(folder, "a-file"), "");
  badSpool = join(folder, "a-file", "spool");
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

const HANG_KILL_MS = 60_000;

/** cgroup folders named after the execution that `run` made, wherever the hierarchy is mounted. */
function leftCgroups(executionId: string): string[] {
  const root = "/sys/fs/cgroup";
  const found: string[] = [];
  const candidates = [root, ...readdirSync(root).map((name) => join(root, name))];
  for (const base of candidates) {
    const path = join(base, `rightsize-${executionId}`);
    if (existsSync(path)) found.push(path);
  }
  return found;
}

describe("a failed start", () => {
  it("run with a spool that cannot be made: the command's exit code, no hang, no cgroup left", async () => {
    const marker = join(folder, "wrapped-id");
    const result = await runCli(
      [
        "--db",
        database.url,
        "run",
        "--pipeline",
        "failed-start",
        "--task",
        "exit-3",
        "--",
        "sh",
        "-c",
        `printf %s "$RIGHTSIZE_WRAPPED" > ${marker}; exit 3`,
      ],
      { env: { RIGHTSIZE_SPOOL_DIR: badSpool }, timeoutMs: HANG_KILL_MS },
    );
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(badSpool);
    const executionId = readFileSync(marker, "utf8");
    expect(executionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(leftCgroups(executionId)).toEqual([]);
  });

  it("run with the database down and no spool either: still the command's exit code", async () => {
    const result = await runCli(
      ["--db", "postgres://postgres@127.0.0.1:1/none", "run", "--pipeline", "p", "--task", "t", "--", "true"],
      { env: { RIGHTSIZE_SPOOL_DIR: badSpool }, timeoutMs: HANG_KILL_MS },
    );
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code).toBe(0);
  });

  it("collect with a spool that cannot be made exits 1 with the reason, without hanging", async () => {
    const result = await runCli(["--db", database.url, "collect", "--duration", "30s"], {
      env: { RIGHTSIZE_SPOOL_DIR: badSpool },
      timeoutMs: HANG_KILL_MS,
    });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(badSpool);
  });
});
