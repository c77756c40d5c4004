import { describe, expect, it } from "vitest";
import { fromPrefectEnv } from "./attribution.js";
import { type PodObject, parsePodCgroup, podAttribution, podResources, withPod } from "./kubernetes-pods.js";

const uid = "8a4e9f3c-1b2d-4c5e-9f60-7a8b9c0d1e2f";
const container = "c".repeat(64);

describe("pod UID from /proc/PID/cgroup", () => {
  it("reads cgroupfs and systemd paths, v1 and v2", () => {
    expect(parsePodCgroup(`0::/kubepods/burstable/pod${uid}/${container}\n`)).toEqual({
      podUid: uid,
      containerId: container,
    });
    expect(parsePodCgroup(`0::/kubepods/pod${uid}/${container}\n`)?.podUid).toBe(uid);
    const systemd = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, "_")}.slice/cri-containerd-${container}.scope\n`;
    expect(parsePodCgroup(systemd)).toEqual({ podUid: uid, containerId: container });
    const v1 = [
      `12:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replace(/-/g, "_")}.slice/docker-${container}.scope`,
      `11:cpu,cpuacct:/kubepods/besteffort/pod${uid}/${container}`,
      "1:name=systemd:/system.slice/containerd.service",
    ].join("\n");
    expect(parsePodCgroup(v1)?.podUid).toBe(uid);
    expect(parsePodCgroup(`0::/kubepods/burstable/pod${uid}\n`)).toEqual({ podUid: uid, containerId: null });
  });

  it("finds no pod outside kubepods", () => {
    expect(parsePodCgroup("0::/user.slice/user-1000.slice/session-2.scope\n")).toBeNull();
    expect(parsePodCgroup(`0::/system.slice/pod${uid}.scope\n`)).toBeNull();
    expect(parsePodCgroup("0::/kubepods/burstable/podnot-a-uid\n")).toBeNull();
  });
});

const executorPod: PodObject = {
  metadata: {
    uid,
    labels: {
      dag_id: "etl",
      task_id: "load",
      run_id: "scheduled__2024-05-01T0000000000-6b2f4c1a9",
      kubernetes_executor: "True",
    },
    annotations: {
      dag_id: "etl",
      task_id: "load",
      run_id: "scheduled__2024-05-01T00:00:00+00:00",
      try_number: "2",
      map_index: "5",
    },
  },
  spec: {
    containers: [
      {
        name: "base",
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      },
    ],
  },
};

describe("task keys from pod metadata", () => {
  it("reads KubernetesExecutor annotations (exact values, not the sanitised labels)", () => {
    expect(podAttribution(executorPod)).toEqual({
      orchestrator: "airflow",
      pipeline: "etl",
      task: "load",
      runId: "scheduled__2024-05-01T00:00:00+00:00",
      tryNumber: 2,
      mapIndex: 5,
      source: "kubernetes-pod",
    });
  });

  it("reads KubernetesPodOperator labels", () => {
    expect(
      podAttribution({
        metadata: {
          labels: {
            dag_id: "etl",
            task_id: "spark",
            run_id: "manual__x",
            try_number: "1",
            kubernetes_pod_operator: "True",
          },
        },
      }),
    ).toMatchObject({ pipeline: "etl", task: "spark", runId: "manual__x", tryNumber: 1, mapIndex: null });
  });

  it("reads Prefect worker labels as FLOW/DEPLOYMENT", () => {
    const labels = {
      "prefect.io/flow-run-id": "run-1",
      "prefect.io/flow-name": "ingest",
      "prefect.io/deployment-name": "prod",
    };
    expect(podAttribution({ metadata: { labels } })).toMatchObject({
      orchestrator: "prefect",
      pipeline: "ingest/prod",
      runId: "run-1",
      task: "__flow__",
    });
    expect(podAttribution({ metadata: { labels: { app: "web" } } })).toBeNull();
  });

  it("takes requests and limits from the task's container, not a sidecar", () => {
    expect(podResources(executorPod, null)).toEqual({
      requestCpuCores: 0.5,
      limitCpuCores: 2,
      requestMemoryBytes: 1024 ** 3,
      limitMemoryBytes: 2 * 1024 ** 3,
    });
    const withSidecar: PodObject = {
      spec: {
        containers: [
          { name: "istio-proxy", resources: { requests: { cpu: "100m" } } },
          { name: "base", resources: { requests: { cpu: "3" } } },
        ],
      },
      status: { containerStatuses: [{ name: "base", containerID: `containerd://${container}` }] },
    };
    expect(podResources(withSidecar, container)?.requestCpuCores).toBe(3);
    expect(podResources(withSidecar, null)?.requestCpuCores).toBe(3);
    expect(podResources({ spec: { containers: [{ name: "base" }] } }, null)).toBeNull();
  });

  it("lets the process's own attribution win, the pod filling a flow known only by its run id", () => {
    const fromEnv = fromPrefectEnv({ PREFECT__FLOW_RUN_ID: "run-1" })!;
    expect(fromEnv.pipeline).toBe("/flow-run/run-1");
    const pod = podAttribution({
      metadata: { labels: { "prefect.io/flow-run-id": "run-1", "prefect.io/flow-name": "ingest" } },
    });
    expect(withPod(fromEnv, pod)?.pipeline).toBe("ingest");
    const airflow = { ...podAttribution(executorPod)!, tryNumber: null, source: "airflow-runner" };
    expect(withPod(airflow, podAttribution(executorPod))).toMatchObject({
      tryNumber: 2,
      source: "airflow-runner",
    });
    expect(withPod(null, pod)).toBe(pod);
  });
});
