/**
 * The collector's headline accuracy check, alone on the machine (the e2e project runs after every other
 * test, one file at a time): a single-threaded CPU burner under `rightsize run` reads as one core, p95
 * within ±10 %. The integration suite checks the burner's demand instead, since other test files share
 * the cores there.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listExecutionsOfTask } from "../db/queries/executions.js";
import { listSamples } from "../db/queries/samples.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";

const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
  encoding: "utf8",
}).trim();

let database: TestDatabase;
let folder: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-burner-"));
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

it("a single-threaded CPU burner reads as one core: p95 within ±10 % of 1.0", async () => {
  const script = "import time\nt=time.time()\nwhile time.time()-t<6: pass";
  const result = await runCli(
    [
      "--db",
      database.url,
      "run",
      "--pipeline",
      "burner",
      "--task",
      "burn",
      "--interval",
      "500ms",
      "--",
      python,
      "-c",
      script,
    ],
    { env: { RIGHTSIZE_SPOOL_DIR: join(folder, "spool") } },
  );
  expect(result.code, result.stderr).toBe(0);
  const [execution] = await listExecutionsOfTask(database.handle.db, {
    orchestrator: "generic",
    pipeline: "burner",
    task: "burn",
  });
  const samples = await listSamples(database.handle.db, execution!.id);
  // Whole ticks only: the first and last are cut by the start and the exit.
  const cores = samples
    .filter((sample) => sample.intervalSeconds > 0.3 && sample.cpuCores !== null)
    .map((sample) => sample.cpuCores!)
    .sort((a, b) => a - b);
  expect(cores.length).toBeGreaterThanOrEqual(8);
  const p95 = cores[Math.ceil(0.95 * cores.length) - 1]!;
  expect(Math.abs(p95 - 1)).toBeLessThanOrEqual(0.1);
});
