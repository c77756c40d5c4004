import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fromAirflowArgv,
  fromAirflowContextEnv,
  fromAirflowLogPath,
  fromAirflowTitle,
  fromAirflowWorkload,
} from "./airflow-attribution.js";
import {
  childOfServing,
  fromExplicitEnv,
  fromPrefectEnv,
  prefectPipeline,
  refineAttribution,
  resolveAttribution,
  resolveProcess,
} from "./attribution.js";

describe("explicit env", () => {
  it("needs pipeline and task; orchestrator defaults to generic", () => {
    expect(
      fromExplicitEnv({
        RIGHTSIZE_PIPELINE: "nightly",
        RIGHTSIZE_TASK: "export",
        RIGHTSIZE_RUN: "r1",
        RIGHTSIZE_TRY: "3",
      }),
    ).toEqual({
      orchestrator: "generic",
      pipeline: "nightly",
      task: "export",
      runId: "r1",
      tryNumber: 3,
      mapIndex: null,
      source: "env",
    });
    expect(fromExplicitEnv({ RIGHTSIZE_PIPELINE: "nightly" })).toBeNull();
    expect(
      fromExplicitEnv({ RIGHTSIZE_PIPELINE: "p", RIGHTSIZE_TASK: "t", RIGHTSIZE_TRY: "zero" })?.tryNumber,
    ).toBeNull();
  });
});

describe("Airflow 2", () => {
  it("reads `airflow tasks run DAG TASK RUN … --raw`, with the map index", () => {
    const argv = [
      "/usr/bin/python3",
      "/usr/local/bin/airflow",
      "tasks",
      "run",
      "etl_daily",
      "load_orders",
      "scheduled__2024-05-01T00:00:00+00:00",
      "--job-id",
      "42",
      "--raw",
      "--subdir",
      "DAGS_FOLDER/etl.py",
      "--map-index",
      "3",
    ];
    expect(fromAirflowArgv(argv)).toEqual({
      orchestrator: "airflow",
      pipeline: "etl_daily",
      task: "load_orders",
      runId: "scheduled__2024-05-01T00:00:00+00:00",
      tryNumber: null,
      mapIndex: 3,
      source: "airflow-argv",
    });
    expect(fromAirflowArgv(["airflow", "tasks", "list", "dag"])).toBeNull();
    expect(fromAirflowArgv(["airflow", "tasks", "run", "--help"])).toBeNull();
    expect(fromAirflowArgv(["myairflow", "tasks", "run", "a", "b", "c"])).toBeNull();
  });

  it("reads the task runner and supervisor titles", () => {
    expect(fromAirflowTitle(["airflow task runner: etl_daily load_orders manual__2024 77"])).toMatchObject({
      pipeline: "etl_daily",
      task: "load_orders",
      runId: "manual__2024",
      source: "airflow-title",
    });
    expect(
      fromAirflowTitle([
        "airflow task supervisor: ['airflow', 'tasks', 'run', 'etl_daily', 'load_orders', 'manual__2024', '--local', '--map-index', '2']",
      ]),
    ).toMatchObject({
      pipeline: "etl_daily",
      task: "load_orders",
      runId: "manual__2024",
      mapIndex: 2,
      source: "airflow-title",
    });
    expect(fromAirflowTitle(["airflow scheduler -- DagFileProcessorManager"])).toBeNull();
  });

  it("reads any DAG, task and run id back from argv it was built from", () => {
    const id = fc
      .string({ unit: fc.constantFrom("a", "_", "-", ".", "1", ":", "+", "T"), minLength: 1, maxLength: 20 })
      .filter((s) => !s.startsWith("-"));
    fc.assert(
      fc.property(id, id, id, (dag, task, run) => {
        expect(fromAirflowArgv(["airflow", "tasks", "run", dag, task, run, "--raw"])).toMatchObject({
          pipeline: dag,
          task,
          runId: run,
        });
      }),
    );
  });
});

describe("Airflow 2 and 3 log files, context env, workloads", () => {
  it("reads the task log path, with and without a map index", () => {
    expect(
      fromAirflowLogPath("/opt/airflow/logs/dag_id=etl/run_id=manual__2024-05-01/task_id=load/attempt=2.log"),
    ).toEqual({
      orchestrator: "airflow",
      pipeline: "etl",
      task: "load",
      runId: "manual__2024-05-01",
      tryNumber: 2,
      mapIndex: null,
      source: "airflow-log",
    });
    expect(
      fromAirflowLogPath("/logs/dag_id=etl/run_id=r/task_id=load/map_index=4/attempt=1.log"),
    ).toMatchObject({ mapIndex: 4, tryNumber: 1 });
    expect(fromAirflowLogPath("/logs/dag_id=etl/run_id=r/task_id=load/attempt=1.log.1")).toBeNull();
    expect(fromAirflowLogPath("/var/log/syslog")).toBeNull();
  });

  it("reads AIRFLOW_CTX_* with the try number", () => {
    expect(
      fromAirflowContextEnv({
        AIRFLOW_CTX_DAG_ID: "etl",
        AIRFLOW_CTX_TASK_ID: "load",
        AIRFLOW_CTX_DAG_RUN_ID: "r",
        AIRFLOW_CTX_TRY_NUMBER: "3",
      }),
    ).toMatchObject({ pipeline: "etl", task: "load", runId: "r", tryNumber: 3, source: "airflow-ctx-env" });
    expect(fromAirflowContextEnv({ AIRFLOW_CTX_DAG_ID: "etl" })).toBeNull();
  });

  it("reads Airflow 3 execute_workload JSON", () => {
    const json = JSON.stringify({
      type: "ExecuteTask",
      ti: {
        id: "0190",
        task_id: "load",
        dag_id: "etl",
        run_id: "scheduled__x",
        try_number: 2,
        map_index: -1,
      },
      log_path: "dag_id=etl/run_id=scheduled__x/task_id=load/attempt=2.log",
    });
    expect(
      fromAirflowWorkload([
        "python",
        "-m",
        "airflow.sdk.execution_time.execute_workload",
        "--json-string",
        json,
      ])?.attribution,
    ).toEqual({
      orchestrator: "airflow",
      pipeline: "etl",
      task: "load",
      runId: "scheduled__x",
      tryNumber: 2,
      mapIndex: null,
      source: "airflow-workload",
    });
    expect(
      fromAirflowWorkload([
        "python",
        "-m",
        "airflow.sdk.execution_time.execute_workload",
        `--json-string=${json}`,
      ])?.attribution?.task,
    ).toBe("load");
    expect(fromAirflowWorkload(["x", "execute_workload", "--json-string", "{not json"])).toBeNull();
  });
});

describe("Prefect", () => {
  it("keys a flow run FLOW/DEPLOYMENT, else FLOW, with task __flow__", () => {
    expect(
      fromPrefectEnv({
        PREFECT__FLOW_RUN_ID: "abc",
        PREFECT__FLOW_NAME: "etl-flow",
        PREFECT__DEPLOYMENT_NAME: "etl-prod",
      }),
    ).toEqual({
      orchestrator: "prefect",
      pipeline: "etl-flow/etl-prod",
      task: "__flow__",
      runId: "abc",
      tryNumber: null,
      mapIndex: null,
      source: "prefect-env",
    });
    expect(fromPrefectEnv({ PREFECT__FLOW_RUN_ID: "abc", PREFECT__FLOW_NAME: "etl-flow" })?.pipeline).toBe(
      "etl-flow",
    );
    expect(fromPrefectEnv({ PREFECT__FLOW_NAME: "etl-flow" })).toBeNull();
  });
});

describe("resolveAttribution", () => {
  it("takes the first match: explicit env over argv over the rest", () => {
    const env = { RIGHTSIZE_PIPELINE: "p", RIGHTSIZE_TASK: "t", PREFECT__FLOW_RUN_ID: "x" };
    expect(resolveAttribution({ argv: ["airflow", "tasks", "run", "d", "k", "r"], env })?.source).toBe("env");
    expect(
      resolveAttribution({
        argv: ["airflow", "tasks", "run", "d", "k", "r"],
        env: { PREFECT__FLOW_RUN_ID: "x" },
      })?.source,
    ).toBe("airflow-argv");
    expect(
      resolveAttribution({
        argv: ["python"],
        env: {},
        fdTargets: ["/l/dag_id=d/run_id=r/task_id=k/attempt=1.log"],
      })?.source,
    ).toBe("airflow-log");
    expect(resolveAttribution({ argv: ["sleep", "10"], env: {} })).toBeNull();
  });

  it("lets a descendant add the try the root did not show, only for the same task", () => {
    const root = fromAirflowArgv(["airflow", "tasks", "run", "etl", "load", "r1"])!;
    const child = fromAirflowContextEnv({
      AIRFLOW_CTX_DAG_ID: "etl",
      AIRFLOW_CTX_TASK_ID: "load",
      AIRFLOW_CTX_TRY_NUMBER: "2",
    })!;
    expect(refineAttribution(root, child)).toMatchObject({
      tryNumber: 2,
      runId: "r1",
      source: "airflow-argv",
    });
    expect(refineAttribution({ ...root, tryNumber: 2 }, child)).toBeNull();
    const other = fromAirflowContextEnv({
      AIRFLOW_CTX_DAG_ID: "etl",
      AIRFLOW_CTX_TASK_ID: "other",
      AIRFLOW_CTX_TRY_NUMBER: "5",
    })!;
    expect(refineAttribution(root, other)).toBeNull();
  });
});

describe("Prefect identity", () => {
  it("keeps two flows whose deployments share a name apart", () => {
    const a = fromPrefectEnv({
      PREFECT__FLOW_RUN_ID: "1",
      PREFECT__FLOW_NAME: "ingest",
      PREFECT__DEPLOYMENT_NAME: "prod",
    });
    const b = fromPrefectEnv({
      PREFECT__FLOW_RUN_ID: "2",
      PREFECT__FLOW_NAME: "report",
      PREFECT__DEPLOYMENT_NAME: "prod",
    });
    expect(a?.pipeline).toBe("ingest/prod");
    expect(b?.pipeline).toBe("report/prod");
  });

  it("never gives a run whose flow is unknown a key another flow could have", () => {
    expect(prefectPipeline({ deploymentName: "prod", deploymentId: "d-1" })).toBe("/d-1");
    expect(prefectPipeline({ deploymentName: "prod" })).toBe("/prod");
    expect(prefectPipeline({ flowRunId: "r-1" })).toBe("/flow-run/r-1");
    expect(prefectPipeline({ flowName: "etl" })).toBe("etl");
    expect(prefectPipeline({})).toBeNull();
    // Flow names cannot hold "/" (Prefect refuses it), so a key starting with "/" is no flow's.
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((name) => !name.includes("/")),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        fc.string({ minLength: 1 }),
        (flowName, deploymentName, other) => {
          const known = prefectPipeline({ flowName, deploymentName })!;
          expect(known.startsWith("/")).toBe(false);
          expect(prefectPipeline({ deploymentName: other })).not.toBe(known);
        },
      ),
    );
  });
});

describe("Airflow 3 shapes", () => {
  const uuid = "01930f4e-7c3a-7b8e-9d2f-0a1b2c3d4e5f";
  const log =
    "/opt/airflow/logs/dag_id=etl/run_id=scheduled__2024-05-01/task_id=load/map_index=3/attempt=2.log";

  it("makes a process holding the task log a serving one, never a task", () => {
    for (const argv of [
      ["[celeryd: celery@w1:ForkPoolWorker-1]"],
      [`airflow worker -- LocalExecutor: ${uuid}`],
    ]) {
      expect(resolveProcess({ argv, env: {}, fdTargets: ["/dev/null", log] })).toEqual({
        role: "serving",
        attribution: expect.objectContaining({ pipeline: "etl", task: "load", tryNumber: 2, mapIndex: 3 }),
      });
    }
    expect(
      resolveProcess({ argv: [`airflow worker -- LocalExecutor: ${uuid}`], env: {}, fdTargets: [] }),
    ).toEqual({
      role: "serving",
      attribution: null,
    });
  });

  it("hands the serving parent's task to the runner it forks", () => {
    const parent = resolveProcess({
      argv: ["[celeryd: celery@w1:ForkPoolWorker-1]"],
      env: {},
      fdTargets: [log],
    });
    const runner = resolveProcess({ argv: [`airflow worker -- ${uuid}`], env: {}, fdTargets: [] });
    expect(runner).toEqual({ role: "runner" });
    expect(childOfServing(parent, runner)).toMatchObject({
      pipeline: "etl",
      task: "load",
      runId: "scheduled__2024-05-01",
      tryNumber: 2,
      mapIndex: 3,
      source: "airflow-runner",
    });
    // Just forked, not yet retitled: still the pool child's title, environment clobbered.
    const early = resolveProcess({ argv: ["[celeryd: celery@w1:ForkPoolWorker-1]"], env: {}, fdTargets: [] });
    expect(childOfServing(parent, early)?.task).toBe("load");
    // A parent that serves nothing now hands nothing down; a child that tells its own task keeps it.
    expect(childOfServing({ role: "serving", attribution: null }, runner)).toBeNull();
    expect(childOfServing(null, runner)).toBeNull();
    const own = resolveProcess({ argv: ["airflow", "tasks", "run", "d", "t", "r", "--local"], env: {} });
    expect(childOfServing(parent, own)?.pipeline).toBe("d");
  });

  it("reads the Edge worker's TaskInstanceKey title", () => {
    const edge = resolveProcess({
      argv: [
        "airflow edge worker: TaskInstanceKey(dag_id='etl', task_id='load', run_id='manual__2024-05-01T00:00:00+00:00', try_number=3, map_index=-1)",
      ],
      env: {},
    });
    expect(edge).toEqual({
      role: "serving",
      attribution: {
        orchestrator: "airflow",
        pipeline: "etl",
        task: "load",
        runId: "manual__2024-05-01T00:00:00+00:00",
        tryNumber: 3,
        mapIndex: null,
        source: "airflow-worker",
      },
    });
  });

  it("makes execute_workload a serving supervisor, reading --json-path through the reader it is given", () => {
    const json = JSON.stringify({
      ti: { dag_id: "etl", task_id: "load", run_id: "r", try_number: 1, map_index: 0 },
    });
    const argv = [
      "python",
      "-m",
      "airflow.sdk.execution_time.execute_workload",
      "--json-path",
      "/tmp/w.json",
    ];
    const asked: string[] = [];
    const read = (path: string) => {
      asked.push(path);
      return json;
    };
    expect(resolveProcess({ argv, env: {}, readFile: read })).toMatchObject({
      role: "serving",
      attribution: { pipeline: "etl", task: "load", runId: "r", tryNumber: 1, mapIndex: 0 },
    });
    expect(asked).toEqual(["/tmp/w.json"]);
    expect(fromAirflowWorkload(argv)).toBeNull();
    expect(fromAirflowWorkload(argv, () => null)).toBeNull();
    expect(fromAirflowWorkload(argv, () => "{}")).toBeNull();
  });

  it("reads the run_as_user re-exec's _AIRFLOW__STARTUP_MSG", () => {
    const env = {
      _AIRFLOW__REEXECUTED_PROCESS: "1",
      _AIRFLOW__STARTUP_MSG: JSON.stringify({
        type: "StartupDetails",
        ti: { id: uuid, dag_id: "etl", task_id: "load", run_id: "r", try_number: 4, map_index: -1 },
        dag_rel_path: "etl.py",
      }),
    };
    expect(
      resolveProcess({ argv: ["sudo", "-E", "-H", "-u", "etl", "python", "-c", "from airflow..."], env }),
    ).toEqual({
      role: "task",
      attribution: expect.objectContaining({ pipeline: "etl", tryNumber: 4, source: "airflow-startup-msg" }),
    });
    expect(resolveProcess({ argv: ["python"], env: { _AIRFLOW__STARTUP_MSG: "{broken" } })).toBeNull();
  });
});

describe("Airflow 2 shapes", () => {
  it("makes `airflow worker -- LocalExecutor: [command]` serving, its forked supervisor the task", () => {
    const command =
      "['airflow', 'tasks', 'run', 'etl', 'load', 'manual__2024', '--local', '--subdir', 'DAGS_FOLDER/etl.py']";
    for (const name of ["LocalExecutor", "LocalWorker", "QueuedLocalWorker"]) {
      expect(resolveProcess({ argv: [`airflow worker -- ${name}: ${command}`], env: {} })).toMatchObject({
        role: "serving",
        attribution: { pipeline: "etl", task: "load", runId: "manual__2024", source: "airflow-worker" },
      });
    }
    expect(resolveProcess({ argv: [`airflow task supervisor: ${command}`], env: {} })).toMatchObject({
      role: "task",
      attribution: { pipeline: "etl", source: "airflow-title" },
    });
    expect(resolveProcess({ argv: ["airflow worker -- LocalExecutor"], env: {} })).toBeNull();
  });

  it("takes the logical date as the run of a pre-2.2 runner title", () => {
    expect(fromAirflowTitle(["airflow task runner: etl load 2021-05-01T00:00:00+00:00 12"])?.runId).toBe(
      "2021-05-01T00:00:00+00:00",
    );
  });

  it("reads AIRFLOW_CTX_* without a map index (Airflow exports none)", () => {
    expect(
      fromAirflowContextEnv({
        AIRFLOW_CTX_DAG_ID: "etl",
        AIRFLOW_CTX_TASK_ID: "load",
        AIRFLOW_CTX_EXECUTION_DATE: "2021-05-01",
      }),
    ).toMatchObject({ runId: "2021-05-01", mapIndex: null });
  });
});

describe("explicit serving processes", () => {
  it("makes RIGHTSIZE_SERVES=1 serving, so each child it starts is an execution of that key", () => {
    const env = {
      RIGHTSIZE_SERVES: "1",
      RIGHTSIZE_ORCHESTRATOR: "prefect",
      RIGHTSIZE_PIPELINE: "etl/prod",
      RIGHTSIZE_TASK: "__flow__",
    };
    const server = resolveProcess({ argv: ["python", "serve.py"], env });
    expect(server).toMatchObject({ role: "serving", attribution: { pipeline: "etl/prod", source: "env" } });
    // The spawned child inherits the same environment: its parent serves, so it is the task.
    const child = resolveProcess({
      argv: ["python", "-c", "from multiprocessing.spawn import spawn_main"],
      env,
    });
    expect(childOfServing(server, child)).toMatchObject({ pipeline: "etl/prod", task: "__flow__" });
  });
});
