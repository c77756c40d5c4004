/**
 * Airflow 3 on the CeleryExecutor, with the real parts that matter to attribution: a Celery prefork worker
 * (Debian's python3-celery on the test Redis, a queue of its own) whose pool child does what Airflow 3's
 * supervisor does for each task (task-sdk `execution_time/supervisor.py` `supervise`): open the task log at
 * Airflow's path, fork the runner, which retitles itself `airflow worker -- <ti id>` with real setproctitle
 * (task_runner.py `startup`) and runs the task's command below a shell that waits for it, as a
 * BashOperator does (subprocess.run of `bash -c`). Two tasks run one after the other in the same pool
 * child: each is its own execution with its run and try, and the pool child is never one. Each task's CPU
 * is held against the kernel's account of its runner, the os.wait4 rusage the supervisor gets when it
 * reaps it. Needs `npm run build`.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { queryRows } from "../db/client.js";
import { celeryAppPreamble, startCeleryWorker } from "../test-support/celery-worker.js";
import { useCollectorTestBed } from "../test-support/collector-tests.js";
import { burnerArgv, relativeError } from "../test-support/process-workloads.js";

const hostId = `celery-test-${randomUUID().slice(0, 8)}`;
const bed = useCollectorTestBed("rightsize-celery-test-");

const tasksModule = `${celeryAppPreamble}
import json, subprocess
import setproctitle

@app.task
def supervise(log_path, ti_id, command):
    # What Airflow 3's supervisor does inside the pool child: the log first, then the runner.
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "ab")
    pid = os.fork()
    if pid == 0:
        setproctitle.setproctitle("airflow worker -- " + ti_id)
        # A BashOperator's run: bash -c with more than one command forks it and waits.
        code = subprocess.run(["/bin/bash", "-c", command + "; true"]).returncode
        os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    log.close()
    # The kernel's account of the runner and everything it reaped.
    with open(log_path + ".rusage", "w") as out:
        json.dump({"cpu": usage.ru_utime + usage.ru_stime, "code": os.waitstatus_to_exitcode(status)}, out)
    return os.getpid()
`;

describe("Airflow 3 on a real Celery prefork worker", () => {
  it("makes each supervised task its own execution and never the pool child", async () => {
    const celery = startCeleryWorker(bed, bed.folder, tasksModule);

    // The collector first (its start-up is slow on a loaded machine), then the tasks.
    const collector = await bed.startCollector({ hostId, env: { RIGHTSIZE_KUBERNETES_API: "off" } });

    const logs = join(bed.folder, "logs");
    // 2.5 s of the burner's own CPU in each task (test-support/burner.py).
    const runs = [
      join(logs, "dag_id=celery_dag/run_id=run_1/task_id=burn/attempt=1.log"),
      join(logs, "dag_id=celery_dag/run_id=run_2/task_id=burn/attempt=2.log"),
    ].map((log) => [log, randomUUID(), burnerArgv(2.5, `${log}.burner`).join(" ")]);
    const poolPids = (await celery.call(runs.map((run) => ["supervise", run]))) as number[];
    // Both tasks ran in the same long-lived pool child.
    expect(poolPids).toHaveLength(2);
    expect(poolPids[0]).toBe(poolPids[1]);
    const poolPid = poolPids[0]!;
    // The pool child really is retitled by Celery (billiard's setproctitle), and still alive.
    expect(execFileSync("cat", [`/proc/${poolPid}/cmdline`], { encoding: "utf8" })).toMatch(/ForkPoolWorker/);

    // A few ticks more so the second runner's end is seen, then stop.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await collector.stop(), collector.stderr()).toBe(0);

    const rows = (await bed.executions(hostId)).filter((row) => row.pipeline === "celery_dag");
    expect(rows).toMatchObject([
      {
        pipeline: "celery_dag",
        task: "burn",
        run_id: "run_1",
        try_number: 1,
        map_index: -1,
        attribution: "airflow-runner",
      },
      {
        pipeline: "celery_dag",
        task: "burn",
        run_id: "run_2",
        try_number: 2,
        map_index: -1,
        attribution: "airflow-runner",
      },
    ]);
    // Two runners, two roots, neither the pool child; the pool child's CPU is in no execution.
    expect(new Set(rows.map((row) => row.root_pid)).size).toBe(2);
    for (const [index, row] of rows.entries()) {
      expect(row.root_pid).not.toBe(poolPid);
      // The task's CPU against the kernel's account of its runner (its own and its reaped descendants').
      const kernel = JSON.parse(readFileSync(`${runs[index]![0]}.rusage`, "utf8")) as {
        cpu: number;
        code: number;
      };
      expect(kernel.code).toBe(0);
      expect
        .soft(
          relativeError(row.cpu ?? 0, kernel.cpu),
          `${row.run_id}: stored ${row.cpu} s, wait4 ${kernel.cpu} s`,
        )
        .toBeLessThan(0.02);
    }
    const [pool] = await queryRows<{ n: number }>(
      bed.database.handle.db,
      sql`select count(*)::int as n from execution_processes p join task_executions e on e.id = p.execution_id
           where e.host_id = ${hostId} and p.pid = ${poolPid}`,
    );
    expect(pool?.n).toBe(0);
  });
});
