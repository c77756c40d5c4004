import { describe, expect, it } from "vitest";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewSample } from "../../db/queries/samples.js";
import { LiveTasks, taskAttributes } from "./task-metrics.js";

const execution = (overrides: Partial<NewExecution> = {}): NewExecution => ({
  id: "00000000-0000-4000-8000-000000000001",
  orchestrator: "airflow",
  pipeline: "etl_daily",
  task: "load_orders",
  runId: "scheduled__2026-11-28T00:00:00+00:00",
  tryNumber: 2,
  mapIndex: 3,
  hostId: "worker-1",
  attribution: "airflow-log",
  rootPid: 4242,
  startedAt: new Date("2026-11-29T10:00:00Z"),
  ...overrides,
});

const sample = (overrides: Partial<NewSample> = {}): NewSample => ({
  executionId: "00000000-0000-4000-8000-000000000001",
  ts: new Date("2026-11-29T10:00:01Z"),
  intervalSeconds: 1,
  cpuCores: 0.5,
  rssBytes: 1000,
  diskReadBytes: 10,
  diskWriteBytes: 20,
  processesAlive: 2,
  ...overrides,
});

describe("taskAttributes", () => {
  it("names Airflow tasks with airflow.* attributes and leaves run ids out unless asked", () => {
    const attributes = taskAttributes(execution({ podUid: "6f1c-uid" }), { runIds: false });
    expect(attributes).toEqual({
      "host.name": "worker-1",
      "k8s.pod.uid": "6f1c-uid",
      "rightsize.orchestrator": "airflow",
      "rightsize.pipeline": "etl_daily",
      "rightsize.task": "load_orders",
      "airflow.dag_id": "etl_daily",
      "airflow.task_id": "load_orders",
      "airflow.try_number": 2,
      "airflow.map_index": 3,
    });
    const withRuns = taskAttributes(execution(), { runIds: true });
    expect(withRuns["airflow.run_id"]).toBe("scheduled__2026-11-28T00:00:00+00:00");
    expect(withRuns["process.pid"]).toBe(4242);
  });

  it("splits a Prefect FLOW/DEPLOYMENT pipeline into flow and deployment names", () => {
    const deployed = taskAttributes(
      execution({ orchestrator: "prefect", pipeline: "fetch-api/nightly", task: "__flow__", mapIndex: -1 }),
      { runIds: false },
    );
    expect(deployed["prefect.flow.name"]).toBe("fetch-api");
    expect(deployed["prefect.deployment.name"]).toBe("nightly");
    expect(deployed["airflow.dag_id"]).toBeUndefined();
    const bare = taskAttributes(execution({ orchestrator: "prefect", pipeline: "fetch-api" }), {
      runIds: true,
    });
    expect(bare["prefect.flow.name"]).toBe("fetch-api");
    expect(bare["prefect.deployment.name"]).toBeUndefined();
    expect(bare["prefect.flow_run.id"]).toBe("scheduled__2026-11-28T00:00:00+00:00");
  });
});

describe("LiveTasks", () => {
  it("keeps the latest gauges and cumulative counters, and wall time only where samples carry it", () => {
    const live = new LiveTasks({ runIds: false, exporters: ["otlp"] });
    live.execution(execution({ requestCpuCores: 2, requestMemoryBytes: 4096 }));
    live.samples([sample(), sample({ cpuCores: 1.5, rssBytes: 3000, diskReadBytes: 5, netRxBytes: null })]);
    const task = live.tasks.get(execution().id)!;
    expect(task).toMatchObject({
      cpuCores: 1.5,
      rssBytes: 3000,
      diskReadBytes: 15,
      diskWriteBytes: 40,
      netRxBytes: null,
      requestCpuCores: 2,
      requestMemoryBytes: 4096,
      wallSeconds: null,
    });
    live.samples([sample({ wallOnCpuSeconds: 0.75, wallIdleSeconds: 0.25, netRxBytes: 7 })]);
    live.samples([sample({ wallOnCpuSeconds: 0.5, wallDiskWaitSeconds: 0.5, netRxBytes: 3 })]);
    expect(task.wallSeconds).toEqual({
      on_cpu: 1.25,
      cpu_wait: 0,
      disk_wait: 0.5,
      net_wait: 0,
      child_wait: 0,
      idle: 0.25,
    });
    expect(task.netRxBytes).toBe(10);
  });

  it("keeps an ended execution until every exporter reported it once more, then forgets it", () => {
    const live = new LiveTasks({ runIds: false, exporters: ["otlp", "statsd"] });
    live.execution(execution());
    live.samples([sample()]);
    live.reported("otlp");
    expect(live.tasks.size).toBe(1);
    live.execution(execution({ endedAt: new Date(), status: "succeeded" }));
    live.reported("otlp");
    expect(live.tasks.size).toBe(1);
    live.reported("statsd");
    expect(live.tasks.size).toBe(0);
  });

  it("ignores samples of executions it was never told about", () => {
    const live = new LiveTasks({ runIds: false, exporters: ["otlp"] });
    live.samples([sample()]);
    expect(live.tasks.size).toBe(0);
  });
});
