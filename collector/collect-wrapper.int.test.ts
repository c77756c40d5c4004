/**
 * An execution `rightsize run` is recording belongs to that wrapper: a `collect` daemon started meanwhile
 * neither resumes it (double samples) nor closes it (overwritten status and exit code). Real processes,
 * the built CLI (`npm run build`), the real Postgres.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listExecutionsOfTask } from "../db/queries/executions.js";
import { listSamples } from "../db/queries/samples.js";
import { runCli } from "../test-support/cli.js";
import { useCollectorTestBed, waitUntil } from "../test-support/collector-tests.js";

const bed = useCollectorTestBed("rightsize-collect-wrapper-");

const key = { orchestrator: "generic", pipeline: "wrapper-owned", task: "sleeper" };

describe("collect next to a live run", () => {
  it("leaves the wrapper's execution alone: one sample per tick, the wrapper's status and exit code", async () => {
    const hostId = "wrapper-test-host";
    const run = runCli(
      [
        "--db",
        bed.database.url,
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
      { env: { RIGHTSIZE_HOST_ID: hostId, RIGHTSIZE_SPOOL_DIR: join(bed.folder, "spool") } },
    );
    // Wait until the wrapper's running execution is stored (it is written at the first flush).
    const stored = await waitUntil(
      () => listExecutionsOfTask(bed.database.handle.db, key),
      (rows) => rows.length > 0,
    );
    expect(stored).toHaveLength(1);
    const collect = await bed.collect("4s", { hostId, interval: "1s", spool: "collect-spool" });
    expect(collect.code, collect.stderr).toBe(0);
    expect(collect.stdout).toMatch(/\(0 resumed, 0 lost\)/);
    const wrapper = await run;
    expect(wrapper.code).toBe(4);
    const [execution] = await listExecutionsOfTask(bed.database.handle.db, key);
    expect(execution).toMatchObject({ status: "failed", exitCode: 4 });
    // One writer only: consecutive samples are a tick apart, never two within one tick. The last is the
    // wrapper's final tick after the command's exit, which may follow a regular one by as little as
    // MIN_SAMPLE_GAP_MS.
    const samples = await listSamples(bed.database.handle.db, execution!.id);
    expect(samples.length).toBeGreaterThan(3);
    for (let index = 1; index < samples.length - 1; index++) {
      const gap = samples[index]!.ts.getTime() - samples[index - 1]!.ts.getTime();
      expect(gap).toBeGreaterThan(500);
    }
  });
});
