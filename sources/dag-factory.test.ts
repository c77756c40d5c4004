import { describe, expect, it } from "vitest";
import {
  dagFactoryAnalysis,
  dagFactoryExpectedPatch,
  dagFactoryFiles,
} from "../test-support/dag-factory-fixtures.js";
import { scanFiles } from "../test-support/source-fixtures.js";
import { scanDagFactoryYaml } from "./dag-factory.js";
import type { Finding } from "./findings.js";
import { planPatches, renderUnifiedDiff, usableRecommendations } from "./patcher.js";

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
