/**
 * `rightsize collect` against real processes in each shape Airflow 2 and 3 and Prefect start tasks in:
 * titles written by real setproctitle (Debian's python3-setproctitle for /usr/bin/python3), serving
 * parents holding task logs by the default, the pre-2.3 and a configured template, the run_as_user
 * re-exec's _AIRFLOW__STARTUP_MSG, execute_workload --json-path, the Edge worker's title, and two Prefect
 * flows whose deployments share a name. Needs `npm run build`.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useCollectorTestBed } from "../test-support/collector-tests.js";

const python = "/usr/bin/python3";
const hostId = `shapes-test-${randomUUID().slice(0, 8)}`;
const bed = useCollectorTestBed("rightsize-shapes-test-");

// One process shape: optionally hold a log open, retitle, fork a child that retitles (or not) and waits.
const shapeScript = `
import json, os, sys, time
import setproctitle
spec = json.loads(sys.argv[1])
if spec.get("log"):
    os.makedirs(os.path.dirname(spec["log"]), exist_ok=True)
    log = open(spec["log"], "ab")
if spec.get("title"):
    setproctitle.setproctitle(spec["title"])
if "child_title" in spec:
    pid = os.fork()
    if pid == 0:
        if spec["child_title"]:
            setproctitle.setproctitle(spec["child_title"])
        time.sleep(60)
        os._exit(0)
    os.waitpid(pid, 0)
else:
    time.sleep(60)
`;

function shape(
  spec: Record<string, string | null>,
  extraArgv: string[] = [],
  env: Record<string, string> = {},
) {
  return bed.start(python, [join(bed.folder, "shape.py"), JSON.stringify(spec), ...extraArgv], env);
}

beforeAll(() => {
  writeFileSync(join(bed.folder, "shape.py"), shapeScript);
});

describe("Airflow and Prefect shapes, as they really start tasks", () => {
  it("attributes each shape with its run, try and map index, and no serving parent", async () => {
    const logs = join(bed.folder, "logs");
    const runner = (n: number) =>
      `airflow worker -- 01930f4e-7c3a-7b8e-9d2f-0a1b2c3d4e${String(n).padStart(2, "0")}`;
    const command = (dag: string) =>
      `['airflow', 'tasks', 'run', '${dag}', 'sup', 'run_a', '--local', '--subdir', 'DAGS_FOLDER/x.py']`;

    // Airflow 2 fork mode: the supervisor's title holds the command; its forked runner's the key.
    const a2supervisor = shape({
      title: `airflow task supervisor: ${command("a2fork")}`,
      child_title: "airflow task runner: a2fork sup run_a 12",
    });
    // Airflow 2 LocalExecutor (parallelism 0): the worker is serving, the supervisor it forks the task.
    const a2worker = shape({
      title: `airflow worker -- LocalExecutor: ${command("a2local_exec")}`,
      child_title: `airflow task supervisor: ${command("a2local_exec")}`,
    });
    // Airflow 2 `--local` argv.
    const airflow = bed.executable("bin/airflow", `#!${python}\nimport time\ntime.sleep(60)\n`);
    bed.start(airflow, ["tasks", "run", "a2argv", "t", "manual__1", "--local", "--map-index", "7"]);
    // Airflow 3 LocalExecutor worker holding the default log; Edge worker job process; a configured
    // template; the pre-2.3 template.
    const local3 = shape({
      title: "airflow worker -- LocalExecutor: 01930f4e-7c3a-7b8e-9d2f-0a1b2c3d4eff",
      log: join(logs, "dag_id=local3/run_id=r3/task_id=t3/map_index=2/attempt=3.log"),
      child_title: runner(1),
    });
    const edge = shape({
      title:
        "airflow edge worker: TaskInstanceKey(dag_id='edge_dag', task_id='e', run_id='er', try_number=4, map_index=2)",
      child_title: runner(2),
    });
    const custom = shape({ log: join(logs, "custom_dag/ctask/crun/try-3.txt"), child_title: runner(3) });
    const legacy = shape({
      log: join(logs, "legacy_dag/ltask/2021-05-01T00:00:00+00:00/2.log"),
      child_title: runner(4),
    });
    // Airflow 3 run_as_user re-exec: the workload in its environment, no log.
    bed.start(python, ["-c", "import time; time.sleep(60)"], {
      _AIRFLOW__REEXECUTED_PROCESS: "1",
      _AIRFLOW__STARTUP_MSG: JSON.stringify({
        type: "StartupDetails",
        ti: {
          id: randomUUID(),
          dag_id: "sudo_dag",
          task_id: "s",
          run_id: "sr",
          try_number: 2,
          map_index: -1,
        },
        dag_rel_path: "x.py",
      }),
    });
    // Airflow 3 execute_workload --json-path FILE (older cncf.kubernetes): the supervisor; its child the task.
    const workloadFile = join(bed.folder, "workload.json");
    writeFileSync(
      workloadFile,
      JSON.stringify({ ti: { dag_id: "json_dag", task_id: "j", run_id: "jr", try_number: 1, map_index: 0 } }),
    );
    const jsonSupervisor = shape({ child_title: runner(5) }, [
      "airflow.sdk.execution_time.execute_workload",
      "--json-path",
      workloadFile,
    ]);
    // Prefect: two flows whose deployments share a name.
    for (const flow of ["ingest", "report"]) {
      bed.start("/bin/sleep", ["60"], {
        PREFECT__FLOW_RUN_ID: randomUUID(),
        PREFECT__FLOW_NAME: flow,
        PREFECT__DEPLOYMENT_NAME: "prod",
      });
    }

    const result = await bed.collect("4s", {
      hostId,
      env: {
        RIGHTSIZE_AIRFLOW_LOG_TEMPLATE:
          "{{ ti.dag_id }}/{{ ti.task_id }}/{{ ti.run_id }}/try-{{ try_number }}.txt",
        RIGHTSIZE_KUBERNETES_API: "off",
      },
    });
    expect(result.code, result.stderr).toBe(0);

    const rows = await bed.executions(hostId);
    const only = (pipeline: string) => {
      const found = rows.filter((row) => row.pipeline === pipeline);
      expect(found, pipeline).toHaveLength(1);
      return found[0]!;
    };
    expect(only("a2fork")).toMatchObject({
      task: "sup",
      run_id: "run_a",
      attribution: "airflow-title",
      root_pid: a2supervisor.pid,
    });
    expect(only("a2local_exec")).toMatchObject({ task: "sup", attribution: "airflow-title" });
    expect(only("a2local_exec").root_pid).not.toBe(a2worker.pid);
    expect(only("a2argv")).toMatchObject({
      task: "t",
      run_id: "manual__1",
      map_index: 7,
      attribution: "airflow-argv",
    });
    expect(only("local3")).toMatchObject({
      task: "t3",
      run_id: "r3",
      try_number: 3,
      map_index: 2,
      attribution: "airflow-runner",
    });
    expect(only("edge_dag")).toMatchObject({
      task: "e",
      run_id: "er",
      try_number: 4,
      map_index: 2,
      attribution: "airflow-worker",
    });
    expect(only("custom_dag")).toMatchObject({
      task: "ctask",
      run_id: "crun",
      try_number: 3,
      attribution: "airflow-runner",
    });
    expect(only("legacy_dag")).toMatchObject({
      task: "ltask",
      run_id: "2021-05-01T00:00:00+00:00",
      try_number: 2,
    });
    expect(only("sudo_dag")).toMatchObject({
      task: "s",
      run_id: "sr",
      try_number: 2,
      attribution: "airflow-startup-msg",
    });
    expect(only("json_dag")).toMatchObject({
      task: "j",
      run_id: "jr",
      try_number: 1,
      map_index: 0,
      attribution: "airflow-workload",
    });
    expect(only("ingest/prod")).toMatchObject({ task: "__flow__", attribution: "prefect-env" });
    expect(only("report/prod")).toMatchObject({ task: "__flow__", attribution: "prefect-env" });
    // Serving parents are never roots.
    const roots = new Set(rows.map((row) => row.root_pid));
    for (const parent of [a2worker, local3, edge, custom, legacy, jsonSupervisor])
      expect(roots.has(parent.pid!)).toBe(false);
  });
});
