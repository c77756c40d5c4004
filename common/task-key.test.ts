import { describe, expect, it } from "vitest";
import { parseTaskKey, taskKeyString } from "./task-key.js";

describe("task key text", () => {
  it.each([
    { orchestrator: "airflow", pipeline: "etl_daily", task: "load_orders" },
    { orchestrator: "prefect", pipeline: "ingest/prod", task: "__flow__" },
    { orchestrator: "prefect", pipeline: "/flow-run/0b4f", task: "__flow__" },
    { orchestrator: "generic", pipeline: "", task: "export" },
  ])("reads back what it writes: %o", (key) => {
    expect(parseTaskKey(taskKeyString(key))).toEqual(key);
  });

  it("writes orchestrator/pipeline/task", () => {
    expect(taskKeyString({ orchestrator: "prefect", pipeline: "ingest/prod", task: "__flow__" })).toBe(
      "prefect/ingest/prod/__flow__",
    );
  });

  it.each(["", "airflow", "airflow/etl_daily"])("%j names no task", (text) => {
    expect(parseTaskKey(text)).toBeNull();
  });
});
