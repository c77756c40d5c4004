/**
 * `rightsize collect` finds task processes host-wide by the attribution resolvers, with real processes
 * shaped like Airflow 2, Airflow 3, Prefect and explicit env, and the real Postgres. Needs `npm run build`.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { queryRows } from "../db/client.js";
import { upsertExecution } from "../db/queries/executions.js";
import { useCollectorTestBed } from "../test-support/collector-tests.js";

// Task processes outlive the collector's start-up and its 8 s by far, even on a loaded machine; they are
// killed when the file ends.
const bed = useCollectorTestBed("rightsize-collect-test-");
const hostId = `collect-test-${randomUUID().slice(0, 8)}`;

describe("rightsize collect", () => {
  it("attributes Airflow 2, Airflow 3, Prefect and explicit-env processes, and closes lost executions", async () => {
    // A collector that died left this one open; its root process is long gone.
    const lostId = randomUUID();
    await upsertExecution(bed.database.handle.db, {
      id: lostId,
      orchestrator: "generic",
      pipeline: "old",
      task: "crashed",
      runId: "r0",
      hostId,
      attribution: "env",
      rootPid: 999_999_999,
      rootStartTicks: 1,
      startedAt: new Date(Date.now() - 60_000),
    });

    // Airflow 2 argv (`airflow tasks run DAG TASK RUN --raw`), with an exec'd child carrying AIRFLOW_CTX_*.
    const airflow = bed.executable(
      "bin/airflow",
      "#!/bin/sh\nenv AIRFLOW_CTX_DAG_ID=a2dag AIRFLOW_CTX_TASK_ID=a2task AIRFLOW_CTX_TRY_NUMBER=3 sleep 60\n",
    );
    bed.start(airflow, ["tasks", "run", "a2dag", "a2task", "a2run", "--map-index", "4", "--raw"]);
    // Airflow 2 task runner title (setproctitle rewrites argv; `exec -a` does the same).
    bed.start("/bin/bash", ["-c", 'exec -a "airflow task runner: titledag titletask titlerun 77" sleep 60']);
    // Airflow 3: the supervisor keeps the task log open and forks the runner, which retitles itself
    // (real setproctitle, Debian's python3-setproctitle); the supervisor is never the execution.
    const log = join(bed.folder, "logs", "dag_id=a3dag", "run_id=a3run", "task_id=a3task", "attempt=2.log");
    mkdirSync(join(log, ".."), { recursive: true });
    const forkRunner = (title: string) =>
      [
        "import os, time, setproctitle",
        "pid = os.fork()",
        "if pid == 0:",
        `    setproctitle.setproctitle(${JSON.stringify(title)})`,
        "    time.sleep(60)",
        "    os._exit(0)",
        "os.waitpid(pid, 0)",
      ].join("\n");
    const supervisor = bed.start("/usr/bin/python3", [
      "-c",
      `f = open(${JSON.stringify(log)}, "a")\n${forkRunner("airflow worker -- 01930f4e-7c3a-7b8e-9d2f-0a1b2c3d4e5f")}`,
    ]);
    // Airflow 3 on Kubernetes: execute_workload --json-string is the supervisor; its child the task.
    const workload = JSON.stringify({
      ti: { dag_id: "k8sdag", task_id: "k8stask", run_id: "k8srun", try_number: 5, map_index: -1 },
    });
    bed.start("/usr/bin/python3", [
      "-c",
      forkRunner("airflow worker -- 01930f4e-7c3a-7b8e-9d2f-0a1b2c3d4e60"),
      "airflow.sdk.execution_time.execute_workload",
      "--json-string",
      workload,
    ]);
    // Prefect flow run.
    const flowRunId = randomUUID();
    bed.start("/bin/sleep", ["60"], {
      PREFECT__FLOW_RUN_ID: flowRunId,
      PREFECT__FLOW_NAME: "pflow",
      PREFECT__DEPLOYMENT_NAME: "pdeploy",
    });
    // Explicit env.
    bed.start("/bin/sleep", ["60"], {
      RIGHTSIZE_PIPELINE: "xpipe",
      RIGHTSIZE_TASK: "xtask",
      RIGHTSIZE_RUN: "xrun",
      RIGHTSIZE_TRY: "2",
    });
    // Not a task: must not be attributed.
    const plain = bed.start("/bin/sleep", ["60"]);

    const result = await bed.collect("8s", { hostId });
    expect(result.stderr).not.toMatch(/"level":5\d/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/collected \d+ ticks/);

    const rows = await bed.executions(hostId);
    const find = (pipeline: string) => rows.find((row) => row.pipeline === pipeline);
    expect(find("a2dag")).toMatchObject({
      orchestrator: "airflow",
      task: "a2task",
      run_id: "a2run",
      map_index: 4,
      try_number: 3,
      attribution: "airflow-argv",
    });
    expect(find("titledag")).toMatchObject({
      orchestrator: "airflow",
      task: "titletask",
      run_id: "titlerun",
      attribution: "airflow-title",
    });
    expect(find("a3dag")).toMatchObject({
      orchestrator: "airflow",
      task: "a3task",
      run_id: "a3run",
      try_number: 2,
      attribution: "airflow-runner",
    });
    expect(rows.filter((row) => row.pipeline === "a3dag")).toHaveLength(1);
    const [supervised] = await queryRows<{ n: number }>(
      bed.database.handle.db,
      sql`select count(*)::int as n from task_executions where host_id = ${hostId} and root_pid = ${supervisor.pid!}`,
    );
    expect(supervised?.n).toBe(0);
    expect(find("k8sdag")).toMatchObject({
      task: "k8stask",
      run_id: "k8srun",
      try_number: 5,
      attribution: "airflow-workload",
    });
    expect(find("pflow/pdeploy")).toMatchObject({
      orchestrator: "prefect",
      task: "__flow__",
      run_id: flowRunId,
      attribution: "prefect-env",
    });
    expect(find("xpipe")).toMatchObject({
      orchestrator: "generic",
      task: "xtask",
      run_id: "xrun",
      try_number: 2,
      attribution: "env",
    });
    expect(find("old")).toMatchObject({ status: "lost" });
    // The child with AIRFLOW_CTX_* belongs to the a2dag tree, not an execution of its own, and a
    // collector that stops writes its processes' latest sightings.
    const [tree] = await queryRows<{ n: number; commands: string; span: number }>(
      bed.database.handle.db,
      sql`select count(*)::int as n, string_agg(p.command, ',' order by p.command) as commands,
                 extract(epoch from max(p.last_seen) - min(p.first_seen))::float8 as span
            from execution_processes p join task_executions e on e.id = p.execution_id
           where e.host_id = ${hostId} and e.pipeline = 'a2dag'`,
    );
    expect(tree).toMatchObject({ n: 2, commands: "airflow,sleep" });
    expect(tree?.span).toBeGreaterThan(2);
    expect(rows.filter((row) => row.pipeline === "a2dag")).toHaveLength(1);
    for (const pipeline of ["a2dag", "titledag", "a3dag", "k8sdag", "pflow/pdeploy", "xpipe"]) {
      expect(find(pipeline)?.status).toBe("running");
      expect(find(pipeline)?.samples).toBeGreaterThanOrEqual(4);
    }
    // The daemon recorded what the whole host did on each tick a task ran.
    const host = await queryRows<{
      n: number;
      interval: number;
      busy_max: number;
      busy_min: number;
      disk_max: number | null;
    }>(
      bed.database.handle.db,
      sql`select count(*)::int as n, min(interval_seconds)::float8 as interval, max(cpu_busy_cores)::float8 as busy_max,
                 min(cpu_busy_cores)::float8 as busy_min, max(disk_busy_share)::float8 as disk_max
            from host_samples where host_id = ${hostId}`,
    );
    expect(host[0]!.n).toBeGreaterThanOrEqual(4);
    expect(host[0]!.interval).toBeGreaterThan(0);
    expect(host[0]!.busy_min).toBeGreaterThanOrEqual(0);
    expect(host[0]!.busy_max).toBeLessThanOrEqual(availableParallelism() * 1.05);
    if (host[0]!.disk_max !== null) expect(host[0]!.disk_max).toBeLessThanOrEqual(1);
    // Other attributed processes on a shared host may be found too; the plain one must not be.
    const [unattributed] = await queryRows<{ n: number }>(
      bed.database.handle.db,
      sql`select count(*)::int as n from task_executions where host_id = ${hostId} and root_pid = ${plain.pid!}`,
    );
    expect(unattributed?.n).toBe(0);
  });

  it("flushes and exits 0 on SIGTERM", async () => {
    const collector = await bed.startCollector({
      hostId: `${hostId}-term`,
      interval: "200ms",
      spool: "spool-term",
    });
    const code = await collector.stop();
    const stderr = collector.stderr();
    expect(stderr).toContain("collector started");
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("collector stopped");
  });
});
