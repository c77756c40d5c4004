import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fromAirflowArgv,
  fromAirflowContextEnv,
  fromAirflowLogPath,
  fromAirflowTitle,
  fromAirflowWorkload,
  fromExplicitEnv,
  fromPrefectEnv,
  refineAttribution,
  resolveAttribution,
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
      ]),
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
      ])?.task,
    ).toBe("load");
    expect(fromAirflowWorkload(["x", "execute_workload", "--json-string", "{not json"])).toBeNull();
  });
});

describe("Prefect", () => {
  it("keys a flow run by deployment, else flow, with task __flow__", () => {
    expect(
      fromPrefectEnv({
        PREFECT__FLOW_RUN_ID: "abc",
        PREFECT__FLOW_NAME: "etl-flow",
        PREFECT__DEPLOYMENT_NAME: "etl-prod",
      }),
    ).toEqual({
      orchestrator: "prefect",
      pipeline: "etl-prod",
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
