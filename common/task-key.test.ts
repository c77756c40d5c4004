import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTaskKey, taskKeyString } from "./task-key.js";

describe("task key text", () => {
  it.each([
    { orchestrator: "airflow", pipeline: "etl_daily", task: "load_orders" },
    { orchestrator: "prefect", pipeline: "ingest/prod", task: "__flow__" },
    { orchestrator: "prefect", pipeline: "/flow-run/0b4f", task: "__flow__" },
    { orchestrator: "generic", pipeline: "", task: "export" },
    { orchestrator: "generic", pipeline: "nightly/eu", task: "export/orders" },
    { orchestrator: "generic", pipeline: "p", task: "100%/2F%2F%25" },
  ])("reads back what it writes: %o", (key) => {
    expect(parseTaskKey(taskKeyString(key))).toEqual(key);
  });

  it("writes orchestrator/pipeline/task", () => {
    expect(taskKeyString({ orchestrator: "prefect", pipeline: "ingest/prod", task: "__flow__" })).toBe(
      "prefect/ingest/prod/__flow__",
    );
  });

  it("encodes a task label's own slash, so the pipeline cannot swallow it", () => {
    expect(taskKeyString({ orchestrator: "generic", pipeline: "nightly", task: "export/orders" })).toBe(
      "generic/nightly/export%2Forders",
    );
  });

  it("holds any triple whose orchestrator has no slash", () => {
    fc.assert(
      fc.property(
        fc.string().filter((text) => !text.includes("/")),
        fc.string(),
        fc.string(),
        (orchestrator, pipeline, task) => {
          const key = { orchestrator, pipeline, task };
          expect(parseTaskKey(taskKeyString(key))).toEqual(key);
        },
      ),
    );
  });

  it.each(["", "airflow", "airflow/etl_daily"])("%j names no task", (text) => {
    expect(parseTaskKey(text)).toBeNull();
  });
});
