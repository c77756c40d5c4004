/**
 * Who may create task executions, and the collector's own health endpoint: real processes of two users,
 * the built CLI (`npm run build`), the real Postgres. Needs root (to start a process as `nobody`).
 */
import { describe, expect, it } from "vitest";
import { listExecutionsOfTask } from "../db/queries/executions.js";
import { runCli } from "../test-support/cli.js";
import { useCollectorTestBed } from "../test-support/collector-tests.js";
import { freePort } from "../test-support/services.js";

const NOBODY = 65_534;
const isRoot = process.geteuid?.() === 0;
const bed = useCollectorTestBed("rightsize-collect-trust-");

/** A long sleep that says it is task `task` of pipeline `pipeline`, run as `uid`. */
function taskShaped(pipeline: string, task: string, uid: number): void {
  bed.start(
    "sleep",
    ["60"],
    { RIGHTSIZE_PIPELINE: pipeline, RIGHTSIZE_TASK: task },
    {
      uid,
      gid: uid === 0 ? 0 : NOBODY,
    },
  );
}

async function scrape(url: string): Promise<string> {
  for (let attempt = 0; attempt < 400; attempt++) {
    try {
      const response = await fetch(url, { headers: { accept: "application/openmetrics-text" } });
      const text = await response.text();
      if (response.ok && /rightsize_collector_ticks_total [1-9]/.test(text)) return text;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no metrics at ${url}`);
}

describe.runIf(isRoot)("collector.trust", () => {
  it("by default ignores a login user's task-shaped process, records root's with its uid, and counts it in /metrics", async () => {
    const pipeline = `trust-${Date.now()}`;
    taskShaped(pipeline, "forged", NOBODY);
    taskShaped(pipeline, "real", 0);
    const port = await freePort();
    const collect = bed.collect("6s", {
      hostId: "trust-host",
      spool: "spool-1",
      args: ["--metrics-listen", `127.0.0.1:${port}`],
    });
    const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    const result = await collect;
    expect(result.code, result.stderr).toBe(0);
    const forged = await listExecutionsOfTask(bed.database.handle.db, {
      orchestrator: "generic",
      pipeline,
      task: "forged",
    });
    const real = await listExecutionsOfTask(bed.database.handle.db, {
      orchestrator: "generic",
      pipeline,
      task: "real",
    });
    expect(forged).toEqual([]);
    expect(real).toHaveLength(1);
    expect(real[0]!.uid).toBe(0);
    expect(health.status).toBe(200);
    expect(metrics).toMatch(/^# TYPE rightsize_collector_ticks counter$/m);
    expect(metrics).toMatch(/^rightsize_collector_untrusted_processes_total [1-9]/m);
    expect(metrics).toMatch(/^rightsize_collector_executions_open [1-9]/m);
    expect(metrics).toMatch(/^rightsize_collector_accounting_method\{method="(acct|poll)"\} 1$/m);
    expect(metrics).toMatch(/^rightsize_collector_spool_bytes \d+$/m);
    expect(metrics).toMatch(/^rightsize_collector_seconds_since_last_write [\d.e+-]+$/m);
    expect(metrics.trimEnd().endsWith("# EOF")).toBe(true);
  });

  it("trusts a user listed in collector.trust and records the uid", async () => {
    const pipeline = `trust-listed-${Date.now()}`;
    taskShaped(pipeline, "listed", NOBODY);
    const result = await bed.collect("3s", {
      hostId: "trust-host-2",
      spool: "spool-2",
      env: { RIGHTSIZE_TRUST: `root,uid:${NOBODY}` },
    });
    expect(result.code, result.stderr).toBe(0);
    const listed = await listExecutionsOfTask(bed.database.handle.db, {
      orchestrator: "generic",
      pipeline,
      task: "listed",
    });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.uid).toBe(NOBODY);
  });

  it("refuses an unknown trust entry with exit 2 naming the setting", async () => {
    const result = await runCli(["--db", bed.database.url, "collect", "--duration", "1s"], {
      env: { RIGHTSIZE_TRUST: "everybody" },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("collector.trust");
  });
});
