import { describe, expect, it } from "vitest";
import {
  dagFactoryAnalysis,
  dagFactoryExpectedPatch,
  dagFactoryFiles,
} from "../test-support/dag-factory-fixtures.js";
import { analysisTask, scanFiles } from "../test-support/source-fixtures.js";
import { scanDagFactoryYaml } from "./dag-factory.js";
import type { Finding } from "./findings.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planPatches, usableRecommendations } from "./patcher.js";

/** A finding as one line: where, whose, what. */
const describe_ = (finding: Finding) =>
  `${finding.file}:${finding.line}:${finding.column} ${finding.pipeline} [${finding.tasks.join(",")}] ${finding.resource} ${finding.kind} ${finding.raw}${finding.dynamic ? " dynamic" : ""} ${finding.pattern} via ${finding.via}`;

describe("dag-factory YAML DAG definitions", () => {
  it("finds every request with file:line, per DAG and task id, defaults merged as dag-factory and Airflow do", async () => {
    const scan = await scanFiles(dagFactoryFiles);
    expect(scan.findings.map(describe_)).toEqual([
      // `default.default_args.resources.cpus`, deep-merged under the DAG's own `resources: {ram}`.
      "dags/warehouse.yml:7:13 warehouse_etl [extract,score,transform.aggregate] cpu request 2 dag_factory_resources via default_args",
      "dags/warehouse.yml:14:12 warehouse_etl [extract,score,transform.aggregate] memory request 8192 dag_factory_resources via default_args",
      'dags/warehouse.yml:44:28 warehouse_etl [score] cpu request "2000m" dag_factory_pod_override via task',
      'dags/warehouse.yml:45:31 warehouse_etl [score] memory request "8Gi" dag_factory_pod_override via task',
      'dags/warehouse.yml:47:31 warehouse_etl [score] memory limit "8Gi" dag_factory_pod_override via task',
      "dags/warehouse.yml:7:13 reporting [train] cpu request 2 dag_factory_resources via default_args",
      "dags/warehouse.yml:8:12 reporting [train] memory request 4096 dag_factory_resources via default_args",
      "dags/warehouse.yml:57:16 reporting [train] cpu request 1 dag_factory_container_resources via task",
      "dags/warehouse.yml:58:19 reporting [train] memory request 2Gi dag_factory_container_resources via task",
      "dags/warehouse.yml:63:15 reporting [publish] cpu request '{{ var.value.publish_cpus }}' dynamic dag_factory_resources via task",
      "dags/warehouse.yml:64:14 reporting [publish] memory request 512 dag_factory_resources via task",
    ]);
    // Task keys as the collector records them: DAG id and task id, group-prefixed.
    expect(scan.tasks.map((task) => `${task.file}:${task.line} ${task.pipeline}/${task.task}`)).toEqual([
      "dags/warehouse.yml:19 warehouse_etl/extract",
      "dags/warehouse.yml:22 warehouse_etl/transform.aggregate",
      "dags/warehouse.yml:27 warehouse_etl/score",
      "dags/warehouse.yml:51 reporting/train",
      "dags/warehouse.yml:59 reporting/publish",
    ]);
    const ram = scan.findings.find((finding) => finding.raw === "8192")!;
    expect(ram).toMatchObject({
      unit: "MB",
      value: 8192 * 1024 ** 2,
      literal: { kind: "number", text: "8192" },
    });
    // YAML that is no DAG definition is neither listed nor reported.
    expect(scan.files).toEqual(["dags/load_dags.py", "dags/warehouse.yml"]);
    expect(scan.problems).toEqual([]);
  });

  it("writes the exact patch, in the file's own style", async () => {
    const scan = await scanFiles(dagFactoryFiles);
    const plan = planPatches(
      scan,
      new Map(Object.entries(dagFactoryFiles)),
      usableRecommendations(dagFactoryAnalysis().tasks),
    );
    expect(renderUnifiedDiff(plan)).toBe(dagFactoryExpectedPatch);
  });

  it("reads task lists, nested groups, prefix_group_id, group default_args, anchors and the KubernetesExecutor form", () => {
    const text = `x-sizing: &sizing
  executor_config:
    KubernetesExecutor: {request_cpu: "500m", request_memory: 1Gi}

nested:
  default_args:
    <<: *sizing
  task_groups:
    - group_name: outer
      default_args:
        resources: {cpus: 4}
    - group_name: inner
      parent_group_name: outer
    - group_name: flat
      prefix_group_id: false
  tasks:
    - task_id: a
      operator: airflow.operators.bash.BashOperator
      task_group_name: inner
    - task_id: b
      decorator: airflow.decorators.task
      task_group_name: flat
      executor_config:
        pod_override:
          __type__: kubernetes.client.models.V1Pod
          spec:
            containers:
              - name: sidecar
                resources: {requests: {cpu: 9}}
              - name: base
                resources: {requests: {cpu: $BASE_CPU, memory: 256Mi}}
`;
    const result = scanDagFactoryYaml("dags/nested.yaml", text)!;
    expect(result.tasks.map((task) => task.task)).toEqual(["outer.inner.a", "b"]);
    expect(result.findings.map(describe_)).toEqual([
      // The outer group's default_args reach the inner group's task and replace the DAG's keyword.
      "dags/nested.yaml:11:27 nested [outer.inner.a] cpu request 4 dag_factory_resources via default_args",
      // The DAG's default_args (through the anchor) reach b only for what b does not set itself…
      'dags/nested.yaml:3:39 nested [outer.inner.a] cpu request "500m" dag_factory_kubernetes_executor via default_args',
      "dags/nested.yaml:3:63 nested [outer.inner.a] memory request 1Gi dag_factory_kubernetes_executor via default_args",
      // … and b's pod_override sizes the `base` container, not the sidecar; $VAR is expanded at load.
      "dags/nested.yaml:31:45 nested [b] cpu request $BASE_CPU dynamic dag_factory_pod_override via task",
      "dags/nested.yaml:31:64 nested [b] memory request 256Mi dag_factory_pod_override via task",
    ]);
  });

  it("merges default mappings key by key as dag-factory does, but never into or under a __type__ object", () => {
    const text = `default:
  default_args:
    resources: {cpus: 1, ram: 1024}
    container_resources:
      __type__: kubernetes.client.models.V1ResourceRequirements
      requests: {memory: 1Gi}
plain_over_object:
  default_args:
    resources: {ram: 2048}
    container_resources: {requests: {cpu: 2}}
  tasks:
    t:
      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator
`;
    const result = scanDagFactoryYaml("dags/merge.yml", text)!;
    expect(result.findings.map((finding) => `${finding.resource} ${finding.raw} ${finding.pattern}`)).toEqual(
      [
        // resources: the DAG's ram over the file default's cpus, key by key.
        "cpu 1 dag_factory_resources",
        "memory 2048 dag_factory_resources",
        // container_resources: the DAG's plain mapping wins whole over the file default's object.
        "cpu 2 dag_factory_container_resources",
      ],
    );
  });

  it("overrides per task in YAML: a shared anchor is replaced, a new key follows the task's first line, CRLF kept", async () => {
    const text = [
      "x-kpo: &kpo",
      "  __type__: kubernetes.client.models.V1ResourceRequirements",
      "  requests: {cpu: 1, memory: 1Gi}",
      "ml:",
      "  default_args:",
      "    executor_config:",
      "      pod_override:",
      "        __type__: kubernetes.client.models.V1Pod",
      "        spec:",
      "          containers: [{name: base, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {memory: 1Gi}}}]",
      "  tasks:",
      "    - task_id: small",
      "      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
      "      container_resources: *kpo",
      "    - task_id: big",
      "      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
      "      container_resources: *kpo",
      "    - {task_id: flow, operator: airflow.operators.bash.BashOperator}",
      "",
    ].join("\r\n");
    const files = { "dags/ml.yaml": text };
    const scan = await scanFiles(files);
    const plan = planPatches(
      scan,
      new Map(Object.entries(files)),
      usableRecommendations(
        [
          ["small", 0.5, 1024 ** 3],
          ["big", 2, 4 * 1024 ** 3],
          ["flow", 0.25, 256 * 1024 ** 2],
        ].map(([task, cpuCores, memoryBytes]) =>
          analysisTask({
            pipeline: "ml",
            task: task as string,
            cpuCores: cpuCores as number,
            memoryBytes: memoryBytes as number,
          }),
        ),
      ),
    );
    const after = plan.files[0]!.after;
    expect(after.split("\r\n").slice(9, 22)).toEqual([
      // The flow-mapped task cannot get a key of its own: the shared pod_override is sized for it (the
      // largest of the tasks without an override), the others get theirs; a limit moves with its request.
      "          containers: [{name: base, resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 1Gi}}}]",
      "  tasks:",
      "    - task_id: small",
      "      # rightsize: per-task override, cpu request at dags/ml.yaml:10 is shared by tasks that need different values (ml/big: 2 cores (2000m); ml/flow: 0.25 cores (250m); ml/small: 0.5 cores (500m)); memory request at dags/ml.yaml:10 is shared by tasks that need different values (ml/big: 4 GiB (4096Mi); ml/flow: 256 MiB (256Mi); ml/small: 1 GiB (1024Mi))",
      "      executor_config: {pod_override: {__type__: kubernetes.client.models.V1Pod, spec: {__type__: kubernetes.client.models.V1PodSpec, containers: [{__type__: kubernetes.client.models.V1Container, name: base, resources: {__type__: kubernetes.client.models.V1ResourceRequirements, requests: {cpu: 500m, memory: 1024Mi}, limits: {memory: 1Gi}}}]}}}",
      "      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
      "      container_resources: *kpo",
      "    - task_id: big",
      "      # rightsize: per-task override, cpu request at dags/ml.yaml:10 is shared by tasks that need different values (ml/big: 2 cores (2000m); ml/flow: 0.25 cores (250m); ml/small: 0.5 cores (500m)); memory request at dags/ml.yaml:10 is shared by tasks that need different values (ml/big: 4 GiB (4096Mi); ml/flow: 256 MiB (256Mi); ml/small: 1 GiB (1024Mi)); memory limit at dags/ml.yaml:10 is shared by tasks that need different values (ml/big: 8 GiB (8Gi); ml/flow, ml/small: 1 GiB (1Gi))",
      "      executor_config: {pod_override: {__type__: kubernetes.client.models.V1Pod, spec: {__type__: kubernetes.client.models.V1PodSpec, containers: [{__type__: kubernetes.client.models.V1Container, name: base, resources: {__type__: kubernetes.client.models.V1ResourceRequirements, requests: {cpu: 2000m, memory: 4096Mi}, limits: {memory: 8Gi}}}]}}}",
      "      operator: airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
      // The anchor shared by small and big: big's alias becomes its own value.
      "      container_resources: {__type__: kubernetes.client.models.V1ResourceRequirements, requests: {cpu: 2, memory: 4Gi}}",
      "    - {task_id: flow, operator: airflow.operators.bash.BashOperator}",
    ]);
    expect(after.replace(/\r\n/g, "")).not.toContain("\n");
    // What dag-factory would build from the patched file: each task's own sizes.
    const rescan = await scanFiles({ "dags/ml.yaml": after });
    const requests = (task: string) =>
      rescan.findings
        .filter(
          (finding) =>
            finding.tasks.includes(task) &&
            finding.kind === "request" &&
            finding.pattern === "dag_factory_pod_override",
        )
        .map((finding) => finding.raw);
    expect(requests("small")).toEqual(["500m", "1024Mi"]);
    expect(requests("big")).toEqual(["2000m", "4096Mi"]);
    expect(requests("flow")).toEqual(["250m", "256Mi"]);
  });

  it("leaves other YAML alone and reports a broken DAG definition with its line", () => {
    expect(
      scanDagFactoryYaml("values.yaml", "replicaCount: 2\nresources:\n  requests: {cpu: 1}\n"),
    ).toBeNull();
    expect(
      scanDagFactoryYaml("chart/templates/job.yaml", "tasks:\n  {{- range .Values.tasks }}\n"),
    ).toBeNull();
    // A mapping with tasks but no DAG shape (tasks is a string).
    expect(scanDagFactoryYaml("x.yml", "dag:\n  tasks: none\n  operator: x\n")).toBeNull();
    const broken = scanDagFactoryYaml(
      "dags/broken.yml",
      "etl:\n  tasks:\n    a:\n      operator: x\n     bad: [\n",
    )!;
    expect(broken.problems).toHaveLength(1);
    expect(broken.problems[0]).toMatchObject({ file: "dags/broken.yml", line: 5 });
    expect(broken.problems[0]!.message).toMatch(/^not valid YAML: .*; file skipped$/);
    expect(broken.findings).toEqual([]);
  });
});
