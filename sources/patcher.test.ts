import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScanResult } from "./findings.js";
import { analysisTask, fixtureAnalysis, fixtureFiles, scanFiles } from "../test-support/source-fixtures.js";
import { PatchError, type PatchPlan } from "./patch-plan.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planPatches, usableRecommendations } from "./patcher.js";
import { firstSyntaxError, pythonParser } from "./python-syntax.js";
import { formatLike, parseDeclared, targetValue } from "./quantities.js";
import { taskKeyString } from "../common/task-key.js";
import { emptyReplay } from "../analyzer/backtest.js";

const sources = () => new Map(Object.entries(fixtureFiles));

async function fixturePlan(): Promise<{ scan: ScanResult; plan: PatchPlan; diff: string }> {
  const scan = await scanFiles();
  const plan = planPatches(scan, sources(), usableRecommendations(fixtureAnalysis().tasks));
  return { scan, plan, diff: renderUnifiedDiff(plan) };
}

/** The diff of one file out of the combined patch. */
function fileDiff(diff: string, file: string): string {
  const start = diff.indexOf(`diff --git a/${file} `);
  const next = diff.indexOf("\ndiff --git", start + 1);
  return diff.slice(start, next === -1 ? diff.length : next + 1);
}

describe("patch plan for the fixture repository", () => {
  it("lists exactly the expected changes and explains every override", async () => {
    const { diff } = await fixturePlan();
    expect(diff.split("\n").filter((line) => line.startsWith("# "))).toEqual([
      '# dags/decorated_defaults.py:4 decorated_defaults/fetch: cpu request "500m" -> "100m"',
      '# dags/decorated_defaults.py:4 decorated_defaults/parse: cpu request "500m" -> "800m" (per-task override)',
      '# dags/decorated_defaults.py:4 decorated_defaults/fetch, decorated_defaults/parse: memory request "512Mi" -> "256Mi"',
      "# dags/defaults.py:6 defaults_dag/a, defaults_dag/b: cpu request 1 -> 0.25",
      "# dags/defaults.py:6 defaults_dag/a: memory request 2048 -> 1024",
      "# dags/defaults.py:6 defaults_dag/b: memory request 2048 -> 3072 (per-task override)",
      "# dags/dynamic.py:24 dynamic_dag/unknown_name: memory request 1024 -> 2048",
      "# dags/kpo.py:10 kpo_dag/train: cpu request 1 -> 3",
      '# dags/kpo.py:10 kpo_dag/train: memory request "1024Mi" -> "3072Mi"',
      "# dags/kpo.py:11 kpo_dag/train: cpu limit 2.0 -> 6.0",
      '# dags/kpo.py:11 kpo_dag/train: memory limit "2048Mi" -> "6144Mi"',
      '# dags/legacy.py:8 legacy_dag/archive: cpu request "1" -> "1.5"',
      '# dags/legacy.py:8 legacy_dag/archive: memory request "1G" -> "640Mi"',
      '# dags/pod_inline.py:16 pod_inline/score: cpu request "2000m" -> "1200m"',
      '# dags/pod_inline.py:16 pod_inline/score: memory request "8Gi" -> "5Gi"',
      "# dags/pod_shared.py:11 pod_shared/extract, pod_shared/transform: cpu request 2 -> 0.7",
      "# dags/pod_shared.py:11 pod_shared/extract, pod_shared/transform: memory request '4096Mi' -> '3072Mi'",
      '# dags/pod_split.py:5 pod_split/small: cpu request "1" -> "0.2"',
      '# dags/pod_split.py:5 pod_split/large: cpu request "1" -> "3.1" (per-task override)',
      '# dags/pod_split.py:5 pod_split/small: memory request "2Gi" -> "640Mi"',
      '# dags/pod_split.py:5 pod_split/large: memory request "2Gi" -> "7Gi" (per-task override)',
      "# dags/resources_dag.py:8 resources_dag/crunch: cpu request 4 -> 0.3",
      "# dags/resources_dag.py:8 resources_dag/crunch: memory request 8192 -> 960",
      "# dags/taskflow.py:11 taskflow_etl/load: cpu request 0.5 -> 0.2",
      '# dags/taskflow.py:11 taskflow_etl/load: memory request "1Gi" -> "704Mi"',
      '# prefect.yaml:7 sync/hourly-sync, rollup/daily-rollup: cpu request "1000m" -> "500m"',
      '# prefect.yaml:8 sync/hourly-sync: memory request "2Gi" -> "1Gi"',
      '# prefect.yaml:8 rollup/daily-rollup: memory request "2Gi" -> "3Gi" (per-task override)',
      "# prefect.yaml:26 nightly-warehouse/ecs-export: cpu request 4096 -> 1024",
      "# prefect.yaml:27 nightly-warehouse/ecs-export: memory request 16384 -> 3072",
      "# override for decorated_defaults/parse in dags/decorated_defaults.py: cpu request at dags/decorated_defaults.py:4 is shared by tasks that need different values (decorated_defaults/fetch: 0.1 cores (100m); decorated_defaults/parse: 0.8 cores (800m))",
      "# override for defaults_dag/b in dags/defaults.py: memory request at dags/defaults.py:6 is shared by tasks that need different values (defaults_dag/a: 1 GiB (1024); defaults_dag/b: 3 GiB (3072))",
      "# override for pod_split/large in dags/pod_split.py: cpu request at dags/pod_split.py:5 is shared by tasks that need different values (pod_split/large: 3.1 cores (3.1); pod_split/small: 0.2 cores (0.2)); memory request at dags/pod_split.py:5 is shared by tasks that need different values (pod_split/large: 7 GiB (7Gi); pod_split/small: 640 MiB (640Mi))",
      "# override for rollup/daily-rollup in prefect.yaml: memory request at prefect.yaml:8 is shared by tasks that need different values (sync/hourly-sync: 1 GiB (1Gi); rollup/daily-rollup: 3 GiB (3Gi))",
    ]);
  });

  it.each([
    [
      "dags/decorated_defaults.py",
      `diff --git a/dags/decorated_defaults.py b/dags/decorated_defaults.py
--- a/dags/decorated_defaults.py
+++ b/dags/decorated_defaults.py
@@ -1,13 +1,13 @@
 from airflow.decorators import dag, task
 
 
-@dag(dag_id="decorated_defaults", default_args={"executor_config": {"KubernetesExecutor": {"request_cpu": "500m", "request_memory": "512Mi"}}})
+@dag(dag_id="decorated_defaults", default_args={"executor_config": {"KubernetesExecutor": {"request_cpu": "100m", "request_memory": "256Mi"}}})
 def pipeline():
     @task
     def fetch():
         return 1
 
-    @task
+    @task(executor_config={"KubernetesExecutor": {"request_cpu": "800m", "request_memory": "256Mi"}})
     def parse(x):
         return x
 
`,
    ],
    [
      "dags/defaults.py",
      `diff --git a/dags/defaults.py b/dags/defaults.py
--- a/dags/defaults.py
+++ b/dags/defaults.py
@@ -3,7 +3,7 @@
 
 default_args = {
     "owner": "data",
-    "resources": {"cpus": 1, "ram": 2048},
+    "resources": {"cpus": 0.25, "ram": 1024},
 }
 
 with DAG("defaults_dag", default_args=default_args) as dag:
@@ -11,6 +11,8 @@
     b = BashOperator(
         task_id="b",
         bash_command="b.sh",
+        # rightsize: per-task override, memory request at dags/defaults.py:6 is shared by tasks that need different values (defaults_dag/a: 1 GiB (1024); defaults_dag/b: 3 GiB (3072))
+        resources={"cpus": 0.25, "ram": 3072},
     )
     c = BashOperator(task_id="c", bash_command="c.sh", resources={"cpus": 0.5, "ram": 512})
     a >> b >> c
`,
    ],
    [
      "dags/pod_split.py",
      `diff --git a/dags/pod_split.py b/dags/pod_split.py
--- a/dags/pod_split.py
+++ b/dags/pod_split.py
@@ -2,7 +2,7 @@
 from airflow.operators.python import PythonOperator
 from kubernetes.client import models as k8s
 
-SIZING = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "2Gi"}))]))}
+SIZING = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "0.2", "memory": "640Mi"}))]))}
 
 with DAG("pod_split") as dag:
     small = PythonOperator(
@@ -13,5 +13,5 @@
     large = PythonOperator(
         task_id="large",
         python_callable=print,
-        executor_config=SIZING,
+        executor_config={"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "3.1", "memory": "7Gi"}))]))},
     )
`,
    ],
    [
      "dags/kpo.py",
      `diff --git a/dags/kpo.py b/dags/kpo.py
--- a/dags/kpo.py
+++ b/dags/kpo.py
@@ -7,7 +7,7 @@
         task_id="train",
         image="trainer:1",
         container_resources=k8s.V1ResourceRequirements(
-            requests={"cpu": 1, "memory": "1024Mi"},
-            limits={"cpu": 2.0, "memory": "2048Mi"},
+            requests={"cpu": 3, "memory": "3072Mi"},
+            limits={"cpu": 6.0, "memory": "6144Mi"},
         ),
     )
`,
    ],
    [
      "prefect.yaml",
      `diff --git a/prefect.yaml b/prefect.yaml
--- a/prefect.yaml
+++ b/prefect.yaml
@@ -4,8 +4,8 @@
 
 definitions:
   job_variables: &small_job
-    cpu: "1000m"   # Cloud Run: one vCPU
-    memory: "2Gi"
+    cpu: "500m"   # Cloud Run: one vCPU
+    memory: "1Gi"
 
 deployments:
   - name: hourly-sync
@@ -17,12 +17,12 @@
     entrypoint: flows/rollup.py:rollup
     work_pool:
       name: cloud-run
-      job_variables: *small_job
+      job_variables: {<<: *small_job, cpu: "500m", memory: "3Gi"}
   - name: ecs-export
     entrypoint: flows/deploy_flows.py:nightly
     work_pool:
       name: ecs
       job_variables:
-        cpu: 4096 # four vCPU
-        memory: 16384
+        cpu: 1024 # four vCPU
+        memory: 3072
         image: export:2
`,
    ],
  ])("writes the exact diff for %s", async (file, expected) => {
    const { diff } = await fixturePlan();
    expect(fileDiff(diff, file)).toBe(expected);
  });

  it("leaves dynamic values, tasks without data and limits that still fit alone", async () => {
    const { plan } = await fixturePlan();
    const touched = new Set(plan.files.map((file) => file.file));
    expect(touched.has("flows/deploy_flows.py")).toBe(false); // nightly-warehouse/nightly-ecs: confidence none
    const dynamic = plan.files.find((file) => file.file === "dags/dynamic.py")!;
    expect(dynamic.after).toContain('"request_cpu": cpu_for("computed")');
    expect(dynamic.after).toContain('"{{ var.value.cpu }}"');
    expect(dynamic.after).toContain('"cpus": UNDEFINED_CPUS, "ram": 2048');
    const defaults = plan.files.find((file) => file.file === "dags/defaults.py")!;
    expect(defaults.after).toContain('resources={"cpus": 0.5, "ram": 512}'); // task c has no data
    const inline = plan.files.find((file) => file.file === "dags/pod_inline.py")!;
    expect(inline.after).toContain('limits={"cpu": "4000m", "memory": "16Gi"}');
    const taskflow = plan.files.find((file) => file.file === "dags/taskflow.py")!;
    expect(taskflow.after).toContain('limits={"memory": "1Gi"}');
  });

  it("keeps every patched Python file parseable and every YAML comment", async () => {
    const { plan } = await fixturePlan();
    const parser = await pythonParser();
    for (const file of plan.files.filter((candidate) => candidate.file.endsWith(".py"))) {
      const tree = parser.parse(file.after)!;
      expect(firstSyntaxError(tree.rootNode), file.file).toBeNull();
      tree.delete();
    }
    const yaml = plan.files.find((file) => file.file === "prefect.yaml")!;
    const comments = (text: string) =>
      text
        .split("\n")
        .filter((line) => line.includes("#"))
        .map((line) => line.slice(line.indexOf("#")));
    expect(comments(yaml.after)).toEqual(comments(yaml.before));
    expect(yaml.after.split("\n")).toHaveLength(yaml.before.split("\n").length);
  });

  it("finds the overridden values when the patched prefect.yaml is scanned again", async () => {
    const { plan } = await fixturePlan();
    const yaml = plan.files.find((file) => file.file === "prefect.yaml")!;
    const rescanned = await scanFiles({ ...fixtureFiles, "prefect.yaml": yaml.after });
    expect(
      rescanned.findings
        .filter((finding) => finding.file === "prefect.yaml")
        .map((finding) => `${finding.pipeline} ${finding.variable} ${finding.raw}`),
    ).toEqual([
      'sync/hourly-sync cpu "500m"',
      'sync/hourly-sync memory "1Gi"',
      'rollup/daily-rollup cpu "500m"',
      'rollup/daily-rollup memory "3Gi"',
      "nightly-warehouse/ecs-export cpu 1024",
      "nightly-warehouse/ecs-export memory 3072",
    ]);
  });

  it("is idempotent: planning again on the patched files changes nothing", async () => {
    const { plan } = await fixturePlan();
    const patched = { ...fixtureFiles };
    for (const file of plan.files) patched[file.file] = file.after;
    const again = planPatches(
      await scanFiles(patched),
      new Map(Object.entries(patched)),
      usableRecommendations(fixtureAnalysis().tasks),
    );
    expect(again.changes).toEqual([]);
    expect(again.files).toEqual([]);
  });

  it("changes nothing outside the literals when no override is needed", async () => {
    const { plan } = await fixturePlan();
    const shared = plan.files.find((file) => file.file === "dags/pod_shared.py")!;
    expect(shared.after.replace("'cpu': 0.7", "'cpu': 2").replace("'3072Mi'", "'4096Mi'")).toBe(
      shared.before,
    );
  });

  it("plans nothing without recommendations", async () => {
    const scan = await scanFiles();
    const plan = planPatches(scan, sources(), new Map());
    expect(plan.files).toEqual([]);
    expect(renderUnifiedDiff(plan)).toBe("");
  });

  it("refuses (and writes nothing) when a patched file would not parse", async () => {
    const scan = await scanFiles();
    expect(() =>
      planPatches(scan, sources(), usableRecommendations(fixtureAnalysis().tasks), (file) =>
        file === "dags/kpo.py" ? "pretend syntax error" : null,
      ),
    ).toThrow(PatchError);
  });
});

describe("per-task overrides", () => {
  it("appends the keyword argument to a one-line call and keeps the shared value for the larger group", async () => {
    const files = {
      "dags/one_line.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("one_line", default_args={"resources": {"cpus": 2, "ram": 4096}}) as dag:
    BashOperator(task_id="x", bash_command="x")
    BashOperator(task_id="y", bash_command="y")
    BashOperator(task_id="z", bash_command="z")
`,
    };
    const scan = await scanFiles(files);
    const recommendations = usableRecommendations([
      analysisTask({ pipeline: "one_line", task: "x", cpuCores: 0.5, memoryBytes: 1024 ** 3 }),
      analysisTask({ pipeline: "one_line", task: "y", cpuCores: 0.5, memoryBytes: 1024 ** 3 }),
      analysisTask({ pipeline: "one_line", task: "z", cpuCores: 3, memoryBytes: 1024 ** 3 }),
    ]);
    const plan = planPatches(scan, new Map(Object.entries(files)), recommendations);
    expect(plan.files[0]!.after).toBe(`from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("one_line", default_args={"resources": {"cpus": 0.5, "ram": 1024}}) as dag:
    BashOperator(task_id="x", bash_command="x")
    BashOperator(task_id="y", bash_command="y")
    BashOperator(task_id="z", bash_command="z", resources={"cpus": 3, "ram": 1024})
`);
    expect(plan.notes).toEqual([
      "override for one_line/z in dags/one_line.py: cpu request at dags/one_line.py:4 is shared by tasks that need different values (one_line/x, one_line/y: 0.5 cores (0.5); one_line/z: 3 cores (3))",
    ]);
  });

  it("cuts no memory whose backtest shows OOM risk, and still cuts the CPU", async () => {
    const files = {
      "dags/risky.py": `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("risky") as dag:
    BashOperator(task_id="x", bash_command="x", resources={"cpus": 2, "ram": 4096})
`,
    };
    const scan = await scanFiles(files);
    const task = analysisTask({ pipeline: "risky", task: "x", cpuCores: 0.5, memoryBytes: 1024 ** 3 });
    const backtest = {
      policy: "rightsize",
      maxOverMemoryShare: 0.01,
      inSample: { cpuCores: 0.5, memoryBytes: 1024 ** 3, ...emptyReplay(), runs: 8, overMemory: 1 },
      outOfSample: null,
      meetsTarget: null,
    };
    const plan = planPatches(
      scan,
      new Map(Object.entries(files)),
      usableRecommendations([{ ...task, backtest }]),
    );
    expect(plan.files[0]!.after).toContain('resources={"cpus": 0.5, "ram": 4096}');
  });

  it("keeps the shared value for tasks without data and overrides only the tasks with data", async () => {
    const files = {
      "dags/partial.py": `from airflow import DAG
from airflow.operators.bash import BashOperator
from kubernetes.client import models as k8s

POD = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "4Gi"}))]))}

with DAG("partial") as dag:
    BashOperator(task_id="known", bash_command="x", executor_config=POD)
    BashOperator(task_id="unknown", bash_command="y", executor_config=POD)
`,
    };
    const scan = await scanFiles(files);
    const recommendations = usableRecommendations([
      analysisTask({ pipeline: "partial", task: "known", cpuCores: 0.2, memoryBytes: 6 * 1024 ** 3 }),
    ]);
    const plan = planPatches(scan, new Map(Object.entries(files)), recommendations);
    const after = plan.files[0]!.after;
    expect(after).toContain('requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "4Gi"}'); // unknown keeps it
    expect(after).toContain(
      'BashOperator(task_id="known", bash_command="x", executor_config={"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(requests={"cpu": "0.2", "memory": "6Gi"}, limits={"memory": "6Gi"}))]))})',
    );
    expect(
      plan.changes.map(
        (change) => `${change.tasks.join(",")} ${change.resource} ${change.kind} ${change.to} ${change.how}`,
      ),
    ).toEqual([
      'partial/known cpu request "0.2" override',
      'partial/known memory request "6Gi" override',
      'partial/known memory limit "6Gi" override',
    ]);
  });
});

describe("file encodings", () => {
  it("edits the right characters after non-ASCII text and keeps CRLF line ends", async () => {
    const text =
      'from airflow import DAG\r\n# café 🚀 déjà\r\nwith DAG("crlf") as dag:\r\n    BashOperator(task_id="t", bash_command="🚀", resources={"cpus": 4, "ram": 8192})\r\n';
    const files = { "my dags/crlf.py": text };
    const scan = await scanFiles(files);
    expect(scan.findings.map((finding) => `${finding.line}:${finding.column} ${finding.raw}`)).toEqual([
      "4:69 4",
      "4:79 8192",
    ]);
    const plan = planPatches(
      scan,
      new Map(Object.entries(files)),
      usableRecommendations([
        analysisTask({ pipeline: "crlf", task: "t", cpuCores: 0.3, memoryBytes: 900 * 1024 ** 2 }),
      ]),
    );
    expect(plan.files[0]!.after).toBe(text.replace('{"cpus": 4, "ram": 8192}', '{"cpus": 0.3, "ram": 960}'));
    expect(renderUnifiedDiff(plan)).toContain(
      '-    BashOperator(task_id="t", bash_command="🚀", resources={"cpus": 4, "ram": 8192})\r\n+    BashOperator(task_id="t", bash_command="🚀", resources={"cpus": 0.3, "ram": 960})\r\n',
    );
  });
});

describe("prefect.yaml shared values", () => {
  it("writes the largest value wanted when the deployments share the whole work pool", async () => {
    const files = {
      "prefect.yaml": `pools:
  shared: &pool
    name: k8s
    job_variables:
      memory: "2Gi" # sized by hand
deployments:
  - name: small
    entrypoint: flows/etl.py:etl_flow
    work_pool: *pool
  - name: big
    entrypoint: flows/etl.py:etl_flow
    work_pool: *pool
`,
    };
    const scan = await scanFiles(files);
    const recommendations = usableRecommendations([
      analysisTask({
        orchestrator: "prefect",
        pipeline: "etl-flow/small",
        task: "__flow__",
        cpuCores: 0.1,
        memoryBytes: 1024 ** 3,
      }),
      analysisTask({
        orchestrator: "prefect",
        pipeline: "etl-flow/big",
        task: "__flow__",
        cpuCores: 0.1,
        memoryBytes: 5 * 1024 ** 3,
      }),
    ]);
    const plan = planPatches(scan, new Map(Object.entries(files)), recommendations);
    expect(plan.files[0]!.after).toBe(files["prefect.yaml"].replace('memory: "2Gi"', 'memory: "5Gi"'));
    expect(plan.notes).toEqual([
      "memory request at prefect.yaml:5 is shared by tasks that need different values (etl-flow/small: 1 GiB (1Gi); etl-flow/big: 5 GiB (5Gi)): no per-task override is possible for etl-flow/small in prefect.yaml (prefect_yaml); the shared value is the largest one wanted",
    ]);
  });
});

describe("patch properties over random recommendations", () => {
  it("always parses, lands every request on its recommendation and is idempotent", async () => {
    const parser = await pythonParser();
    const base = await scanFiles();
    const keys = [...new Set(base.tasks.map((task) => `${task.orchestrator}|${task.pipeline}|${task.task}`))];
    const verify = (file: string, text: string) => {
      if (!file.endsWith(".py")) return null;
      const tree = parser.parse(text)!;
      const error = firstSyntaxError(tree.rootNode);
      tree.delete();
      return error ? `line ${error.startPosition.row + 1}` : null;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            cpu: fc.double({ min: 0.01, max: 16, noNaN: true }),
            memory: fc.integer({ min: 10 * 1024 ** 2, max: 40 * 1024 ** 3 }),
            hasData: fc.boolean(),
          }),
          { minLength: keys.length, maxLength: keys.length },
        ),
        async (specs) => {
          const tasks = keys.flatMap((key, index) => {
            const [orchestrator, pipeline, task] = key.split("|") as [string, string, string];
            const spec = specs[index]!;
            return spec.hasData
              ? [analysisTask({ orchestrator, pipeline, task, cpuCores: spec.cpu, memoryBytes: spec.memory })]
              : [];
          });
          const recommendations = usableRecommendations(tasks);
          const plan = planPatches(base, sources(), recommendations, verify);
          const patched = { ...fixtureFiles };
          for (const file of plan.files) patched[file.file] = file.after;
          const rescanned = await scanFiles(patched);
          for (const finding of rescanned.findings) {
            if (finding.dynamic || finding.kind !== "request") continue;
            for (const task of finding.tasks) {
              const analysis = recommendations.get(taskKeyString({ ...finding, task }));
              if (!analysis) continue;
              const { cpuCores, memoryBytes } = analysis.recommendation;
              const written = formatLike(
                finding.unit,
                finding.literal!,
                targetValue(finding.unit, cpuCores, memoryBytes),
              );
              const expected = parseDeclared(finding.unit, { kind: finding.literal!.kind, text: written });
              expect(
                finding.value,
                `${finding.file}:${finding.line} ${finding.pipeline}/${task} ${finding.resource}`,
              ).toBeCloseTo(expected, 6);
            }
          }
          // A limit never ends below its request (Kubernetes would reject the pod).
          for (const limit of rescanned.findings.filter(
            (finding) => finding.kind === "limit" && !finding.dynamic,
          )) {
            const request = rescanned.findings.find(
              (finding) =>
                finding.kind === "request" &&
                !finding.dynamic &&
                finding.resource === limit.resource &&
                finding.pattern === limit.pattern &&
                finding.pipeline === limit.pipeline &&
                finding.tasks.some((task) => limit.tasks.includes(task)),
            );
            if (request)
              expect(limit.value!, `${limit.file}:${limit.line}`).toBeGreaterThanOrEqual(
                request.value! - 1e-6,
              );
          }
          const again = planPatches(rescanned, new Map(Object.entries(patched)), recommendations, verify);
          expect(again.changes).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
