import { describe, expect, it } from "vitest";
import { fromAirflowLogPath, fromOpenLogs, logTemplatesFor } from "./airflow-attribution.js";
import { compileLogTemplate, LogTemplateError, matchLogPath } from "./airflow-log-template.js";

describe("Airflow log file names", () => {
  it("reads the default template, with and without a map index", () => {
    expect(
      fromAirflowLogPath(
        "/opt/airflow/logs/dag_id=etl/run_id=manual__2024-05-01T00:00:00+00:00/task_id=load/attempt=2.log",
      ),
    ).toEqual({
      orchestrator: "airflow",
      pipeline: "etl",
      task: "load",
      runId: "manual__2024-05-01T00:00:00+00:00",
      tryNumber: 2,
      mapIndex: null,
      source: "airflow-log",
    });
    expect(fromAirflowLogPath("/l/dag_id=etl/run_id=r/task_id=load/map_index=0/attempt=1.log")).toMatchObject(
      { mapIndex: 0 },
    );
  });

  it("reads the pre-2.3 template, whose run is the logical date", () => {
    expect(
      fromAirflowLogPath("/usr/local/airflow/logs/etl/load/2021-05-01T00:00:00+00:00/3.log"),
    ).toMatchObject({
      pipeline: "etl",
      task: "load",
      runId: "2021-05-01T00:00:00+00:00",
      tryNumber: 3,
    });
    // Any a/b/c/1.log a Python process holds is not a task log: the third folder must be a timestamp.
    expect(fromAirflowLogPath("/var/log/app/web/current/1.log")).toBeNull();
  });

  it("reads a custom template in Jinja and in Python format style, as a user pastes it", () => {
    const jinja = compileLogTemplate(
      "{{ ti.dag_id }}/{{ ti.run_id }}/{{ ti.task_id }}-{{ ti.map_index }}/try{{ try_number }}.txt",
    );
    expect(matchLogPath("/logs/etl/scheduled__x/load-4/try2.txt", jinja)).toMatchObject({
      pipeline: "etl",
      runId: "scheduled__x",
      task: "load",
      mapIndex: 4,
      tryNumber: 2,
    });
    const format = compileLogTemplate("{dag_id}/{task_id}/{execution_date}/{try_number}.log");
    expect(matchLogPath("/logs/etl/load/2021-05-01T00:00:00/1.log", format)).toMatchObject({
      task: "load",
      runId: "2021-05-01T00:00:00",
    });
    // Names the collector does not use match any one segment's text.
    const hostname = compileLogTemplate(
      "{{ ti.hostname }}/{{ ti.dag_id }}/{{ ti.task_id }}/{{ try_number }}.log",
    );
    expect(matchLogPath("/l/worker-1/etl/load/1.log", hostname)).toMatchObject({
      pipeline: "etl",
      tryNumber: 1,
    });
  });

  it("refuses templates it cannot read back, naming them", () => {
    expect(() => compileLogTemplate("{{ ti.task_id }}.log")).toThrow(LogTemplateError);
    expect(() => compileLogTemplate("{% for x in y %}{{ ti.dag_id }}/{{ ti.task_id }}{% endfor %}")).toThrow(
      /unsupported tag/,
    );
    expect(() => compileLogTemplate("{% if x %}{{ ti.dag_id }}/{{ ti.task_id }}")).toThrow(/endif/);
  });

  it("tries the process's own AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE after configuration", () => {
    const env = {
      AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE:
        "custom/{{ ti.dag_id }}__{{ ti.task_id }}__{{ try_number }}.log",
    };
    const templates = logTemplatesFor([], env);
    expect(fromOpenLogs(["/x/custom/etl__load__5.log"], templates)).toMatchObject({
      task: "load",
      tryNumber: 5,
    });
    expect(logTemplatesFor([], { AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE: "{{ nothing }}" })).toEqual([]);
  });

  it("takes the newest of several open logs (the highest fd)", () => {
    const old = "/l/dag_id=etl/run_id=r1/task_id=a/attempt=1.log";
    const now = "/l/dag_id=etl/run_id=r2/task_id=b/attempt=1.log";
    expect(fromOpenLogs([old, "/dev/null", now], [])?.task).toBe("b");
  });
});
