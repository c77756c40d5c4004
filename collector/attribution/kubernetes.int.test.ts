/**
 * Kubernetes pods, attributed from a fake /proc whose cgroup files sit in kubepods paths of both drivers
 * (cgroup v1 and v2), with pod metadata from a local HTTP server that answers as the API server does
 * (`GET /api/v1/pods?fieldSelector=spec.nodeName=…`, a PodList). KubernetesExecutor, KubernetesPodOperator
 * and Prefect worker pods; requests from the pod spec; an API that does not answer leaves the other
 * resolvers working.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import { ProcReader } from "../procfs/proc-reader.js";
import { PodSource } from "./kubernetes-client.js";
import type { PodObject } from "./kubernetes-pods.js";
import { ProcessAttributor } from "./process-attributor.js";

const executorUid = "11111111-2222-4333-8444-555555555555";
const operatorUid = "66666666-7777-4888-9999-aaaaaaaaaaaa";
const prefectUid = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff";
const baseContainer = "a".repeat(64);
const sidecarContainer = "b".repeat(64);

const pods: PodObject[] = [
  {
    metadata: {
      uid: executorUid,
      name: "etl-load-abc",
      labels: {
        dag_id: "etl",
        task_id: "load",
        kubernetes_executor: "True",
        run_id: "manual__2024-05-01T0000000000-0f1e2d3c4",
      },
      annotations: {
        dag_id: "etl",
        task_id: "load",
        run_id: "manual__2024-05-01T00:00:00+00:00",
        try_number: "2",
        map_index: "1",
      },
    },
    spec: {
      nodeName: "node-1",
      containers: [
        { name: "base", resources: { requests: { cpu: "1500m", memory: "3Gi" }, limits: { memory: "4Gi" } } },
      ],
    },
  },
  {
    metadata: {
      uid: operatorUid,
      labels: {
        dag_id: "etl",
        task_id: "spark",
        run_id: "manual__x",
        try_number: "1",
        kubernetes_pod_operator: "True",
      },
    },
    spec: {
      nodeName: "node-1",
      containers: [
        { name: "base", resources: { requests: { cpu: "2", memory: "8Gi" } } },
        { name: "istio-proxy", resources: { requests: { cpu: "100m", memory: "128Mi" } } },
      ],
    },
    status: {
      containerStatuses: [
        { name: "base", containerID: `containerd://${baseContainer}` },
        { name: "istio-proxy", containerID: `containerd://${sidecarContainer}` },
      ],
    },
  },
  {
    metadata: {
      uid: prefectUid,
      labels: {
        "prefect.io/flow-run-id": "run-7",
        "prefect.io/flow-name": "ingest",
        "prefect.io/deployment-name": "prod",
      },
    },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "prefect-job", resources: { requests: { cpu: "250m" } } }],
    },
  },
];

let procRoot: string;
let saDir: string;
let server: Server;
let apiUrl: string;
const requests: { url: string; auth: string | undefined }[] = [];

/** One fake /proc/PID: what the attributor reads. */
function fakeProcess(
  pid: number,
  ppid: number,
  argv: string[],
  cgroup: string,
  env: Record<string, string> = { PATH: "/usr/bin" },
): void {
  const dir = join(procRoot, String(pid));
  mkdirSync(join(dir, "fd"), { recursive: true });
  writeFileSync(join(dir, "cmdline"), `${argv.join("\0")}\0`);
  writeFileSync(
    join(dir, "environ"),
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\0")}\0`,
  );
  writeFileSync(join(dir, "cgroup"), cgroup);
  const comm = (argv[0] ?? "x").split("/").pop()!.slice(0, 15);
  const fields = ["S", ppid, pid, pid, 0, -1, 4194304, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, 1000 + pid, 0, 0];
  writeFileSync(join(dir, "stat"), `${pid} (${comm}) ${fields.join(" ")}\n`);
}

const systemd = (uid: string, container: string, qos = "burstable") =>
  `0::/kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${uid.replace(/-/g, "_")}.slice/cri-containerd-${container}.scope\n`;
const cgroupfs = (uid: string, container: string) =>
  `12:memory:/kubepods/besteffort/pod${uid}/${container}\n11:cpu,cpuacct:/kubepods/besteffort/pod${uid}/${container}\n0::/\n`;

beforeAll(async () => {
  procRoot = mkdtempSync(join(tmpdir(), "rightsize-fake-proc-"));
  saDir = mkdtempSync(join(tmpdir(), "rightsize-sa-"));
  writeFileSync(join(saDir, "token"), "test-token\n");
  server = createServer((request, response) => {
    requests.push({ url: request.url ?? "", auth: request.headers.authorization });
    const url = new URL(request.url ?? "/", "http://x");
    if (url.pathname !== "/api/v1/pods" || url.searchParams.get("fieldSelector") !== "spec.nodeName=node-1") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(
      JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "1" }, items: pods }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The shim (outside any pod) and the pods' processes, both cgroup drivers, v1 and v2.
  fakeProcess(50, 1, ["/usr/bin/containerd-shim-runc-v2"], "0::/system.slice/containerd.service\n");
  fakeProcess(100, 50, ["python", "/app/run.py"], systemd(executorUid, baseContainer));
  fakeProcess(200, 50, ["/bin/bash", "-c", "spark-submit job.py"], cgroupfs(operatorUid, baseContainer));
  fakeProcess(201, 200, ["java", "-jar", "spark.jar"], cgroupfs(operatorUid, baseContainer));
  fakeProcess(210, 50, ["pilot-agent", "proxy"], cgroupfs(operatorUid, sidecarContainer));
  fakeProcess(300, 50, ["prefect", "flow-run", "execute"], systemd(prefectUid, baseContainer, "besteffort"), {
    PATH: "/usr/bin",
    PREFECT__FLOW_RUN_ID: "run-7",
  });
  fakeProcess(
    400,
    50,
    ["/usr/bin/airflow", "tasks", "run", "d", "t", "r", "--local"],
    cgroupfs("99999999-2222-4333-8444-555555555555", baseContainer),
  );
  fakeProcess(500, 1, ["sleep", "10"], "0::/user.slice\n");
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(procRoot, { recursive: true, force: true });
  rmSync(saDir, { recursive: true, force: true });
});

function attributor(source: PodSource): ProcessAttributor {
  return new ProcessAttributor({
    reader: new ProcReader(),
    procRoot,
    logger: silentLogger,
    fdTargets: () => [],
    pods: source,
  });
}

describe("Kubernetes pods", () => {
  it("attributes pod processes from the API's metadata, asked off the tick, for this node only", async () => {
    const source = new PodSource({
      api: apiUrl,
      nodeName: "node-1",
      logger: silentLogger,
      serviceAccountDir: saDir,
    });
    const subject = attributor(source);
    const stat = (pid: number, ppid: number) => ({ startTicks: 1000 + pid, ppid });
    // The first sight of an unknown pod starts a listing in the background and answers at once.
    expect(subject.resolve(100, stat(100, 50))).toBe("wait");
    await source.settled();
    expect(requests.at(-1)).toEqual({
      url: "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1",
      auth: "Bearer test-token",
    });

    expect(subject.resolve(100, stat(100, 50))).toEqual({
      attribution: {
        orchestrator: "airflow",
        pipeline: "etl",
        task: "load",
        runId: "manual__2024-05-01T00:00:00+00:00",
        tryNumber: 2,
        mapIndex: 1,
        source: "kubernetes-pod",
      },
      pod: { podUid: executorUid, containerId: baseContainer },
    });
    expect(subject.podResources({ podUid: executorUid, containerId: baseContainer })).toEqual({
      requestCpuCores: 1.5,
      limitCpuCores: null,
      requestMemoryBytes: 3 * 1024 ** 3,
      limitMemoryBytes: 4 * 1024 ** 3,
    });

    // KubernetesPodOperator: the container's first process is the root; its child is in its tree, not a
    // root of its own; the sidecar is no part of the task.
    expect(subject.resolve(200, stat(200, 50))).toMatchObject({
      attribution: { pipeline: "etl", task: "spark", runId: "manual__x", tryNumber: 1 },
      pod: { podUid: operatorUid },
    });
    expect(subject.resolve(201, stat(201, 200))).toBeNull();
    expect(subject.resolve(210, stat(210, 50))).toBeNull();
    expect(subject.podResources({ podUid: operatorUid, containerId: baseContainer })).toMatchObject({
      requestCpuCores: 2,
    });

    // Prefect: the environment has only the run id (an old worker); the pod's labels name the flow.
    expect(subject.resolve(300, stat(300, 50))).toMatchObject({
      attribution: {
        orchestrator: "prefect",
        pipeline: "ingest/prod",
        runId: "run-7",
        source: "prefect-env",
      },
    });

    // A pod this node's listing does not hold: the process's own attribution stands, with its pod UID.
    expect(subject.resolve(400, stat(400, 50))).toMatchObject({
      attribution: { pipeline: "d", source: "airflow-argv" },
      pod: { podUid: "99999999-2222-4333-8444-555555555555" },
    });
    expect(subject.resolve(500, stat(500, 1))).toBeNull();
  });

  it("goes on with the other resolvers when no API answers", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const warnings: string[] = [];
    const logger = Object.assign(Object.create(silentLogger), {
      warn: (_: unknown, message: string) => warnings.push(message),
    });
    const source = new PodSource({
      api: `http://127.0.0.1:${port}`,
      nodeName: "node-1",
      logger,
      serviceAccountDir: saDir,
    });
    await source.start();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/unreachable/);
    const subject = attributor(source);
    expect(subject.resolve(400, { startTicks: 1400, ppid: 50 })).toMatchObject({
      attribution: { pipeline: "d" },
    });
    expect(subject.resolve(100, { startTicks: 1100, ppid: 50 })).toBeNull();
    expect(warnings).toHaveLength(1);
  });

  it("says why when there is no API to ask", () => {
    const infos: unknown[] = [];
    const logger = Object.assign(Object.create(silentLogger), {
      info: (fields: unknown) => infos.push(fields),
    });
    const source = new PodSource({ api: "auto", nodeName: null, logger, env: {} });
    expect(source.enabled).toBe(false);
    expect(infos).toEqual([{ reason: "not in a Kubernetes pod (no KUBERNETES_SERVICE_HOST)" }]);
    expect(source.lookup(executorUid)).toEqual({ state: "absent" });
  });
});
