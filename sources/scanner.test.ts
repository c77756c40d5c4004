import { beforeAll, describe, expect, it } from "vitest";
import type { Finding, ScanResult } from "./findings.js";
import { defaultPrefectNames, fixtureFiles, scanFiles } from "../test-support/source-fixtures.js";
import type { PrefectNames } from "./declaration-patterns.js";
import { scanPrefectYaml } from "./prefect.js";

const names: PrefectNames = defaultPrefectNames;
const scanFixture = (files?: Record<string, string>) => scanFiles(files);

function line(finding: Finding): string {
  return [
    `${finding.file}:${finding.line}:${finding.column}`,
    `${finding.orchestrator}/${finding.pipeline}`,
    `[${finding.tasks.join(",")}]`,
    `${finding.resource}-${finding.kind}`,
    finding.raw,
    finding.unit,
    finding.dynamic ? "dynamic" : String(finding.value),
    finding.pattern,
    `via-${finding.via}`,
  ].join(" ");
}

describe("scanning the fixture repository", () => {
  let scan: ScanResult;
  beforeAll(async () => {
    scan = await scanFixture();
  });

  it("finds exactly the declared values, with place, unit, value and the tasks sharing them", () => {
    expect(scan.findings.map(line)).toEqual([
      'dags/decorated_defaults.py:4:107 airflow/decorated_defaults [fetch,parse] cpu-request "500m" k8s-cpu 0.5 kubernetes_executor via-default_args',
      'dags/decorated_defaults.py:4:133 airflow/decorated_defaults [fetch,parse] memory-request "512Mi" k8s-memory 536870912 kubernetes_executor via-default_args',
      "dags/defaults.py:6:27 airflow/defaults_dag [a,b] cpu-request 1 cores 1 resources via-default_args",
      "dags/defaults.py:6:37 airflow/defaults_dag [a,b] memory-request 2048 MB 2147483648 resources via-default_args",
      "dags/defaults.py:15:75 airflow/defaults_dag [c] cpu-request 0.5 cores 0.5 resources via-task",
      "dags/defaults.py:15:87 airflow/defaults_dag [c] memory-request 512 MB 536870912 resources via-task",
      'dags/dynamic.py:17:64 airflow/dynamic_dag [computed] cpu-request cpu_for("computed") k8s-cpu dynamic kubernetes_executor via-task',
      'dags/dynamic.py:17:103 airflow/dynamic_dag [computed] memory-request f"{2 * 1024}Mi" k8s-memory dynamic kubernetes_executor via-task',
      'dags/dynamic.py:22:64 airflow/dynamic_dag [templated] cpu-request "{{ var.value.cpu }}" k8s-cpu dynamic kubernetes_executor via-task',
      'dags/dynamic.py:11:10 airflow/dynamic_dag [templated] memory-request os.environ.get("MEMORY", "1Gi") k8s-memory dynamic kubernetes_executor via-variable',
      "dags/dynamic.py:24:84 airflow/dynamic_dag [unknown_name] cpu-request UNDEFINED_CPUS cores dynamic resources via-task",
      "dags/dynamic.py:24:107 airflow/dynamic_dag [unknown_name] memory-request 1024 MB 1073741824 resources via-task",
      "dags/kpo.py:10:30 airflow/kpo_dag [train] cpu-request 1 k8s-cpu 1 container_resources via-task",
      'dags/kpo.py:10:43 airflow/kpo_dag [train] memory-request "1024Mi" k8s-memory 1073741824 container_resources via-task',
      "dags/kpo.py:11:28 airflow/kpo_dag [train] cpu-limit 2.0 k8s-cpu 2 container_resources via-task",
      'dags/kpo.py:11:43 airflow/kpo_dag [train] memory-limit "2048Mi" k8s-memory 2147483648 container_resources via-task',
      'dags/legacy.py:8:64 airflow/legacy_dag [archive] cpu-request "1" k8s-cpu 1 kubernetes_executor via-task',
      'dags/legacy.py:8:87 airflow/legacy_dag [archive] memory-request "1G" k8s-memory 1000000000 kubernetes_executor via-task',
      'dags/legacy.py:8:109 airflow/legacy_dag [archive] memory-limit "2G" k8s-memory 2000000000 kubernetes_executor via-task',
      'dags/pod_inline.py:16:50 airflow/pod_inline [score] cpu-request "2000m" k8s-cpu 2 pod_override via-task',
      'dags/pod_inline.py:16:69 airflow/pod_inline [score] memory-request "8Gi" k8s-memory 8589934592 pod_override via-task',
      'dags/pod_inline.py:17:48 airflow/pod_inline [score] cpu-limit "4000m" k8s-cpu 4 pod_override via-task',
      'dags/pod_inline.py:17:67 airflow/pod_inline [score] memory-limit "16Gi" k8s-memory 17179869184 pod_override via-task',
      "dags/pod_shared.py:11:71 airflow/pod_shared [extract,transform] cpu-request 2 k8s-cpu 2 pod_override via-variable",
      "dags/pod_shared.py:11:84 airflow/pod_shared [extract,transform] memory-request '4096Mi' k8s-memory 4294967296 pod_override via-variable",
      'dags/pod_split.py:5:151 airflow/pod_split [large,small] cpu-request "1" k8s-cpu 1 pod_override via-variable',
      'dags/pod_split.py:5:166 airflow/pod_split [large,small] memory-request "2Gi" k8s-memory 2147483648 pod_override via-variable',
      "dags/resources_dag.py:8:28 airflow/resources_dag [crunch] cpu-request 4 cores 4 resources via-task",
      "dags/resources_dag.py:8:38 airflow/resources_dag [crunch] memory-request 8192 MB 8589934592 resources via-task",
      "dags/taskflow.py:11:38 airflow/taskflow_etl [load] cpu-request 0.5 k8s-cpu 0.5 pod_override via-variable",
      'dags/taskflow.py:11:53 airflow/taskflow_etl [load] memory-request "1Gi" k8s-memory 1073741824 pod_override via-variable',
      'dags/taskflow.py:12:39 airflow/taskflow_etl [load] memory-limit "1Gi" k8s-memory 1073741824 pod_override via-variable',
      "flows/deploy_flows.py:14:31 prefect/nightly-warehouse/nightly-ecs [__flow__] cpu-request 2048 ecs-cpu-units 2 prefect_deploy via-task",
      "flows/deploy_flows.py:14:47 prefect/nightly-warehouse/nightly-ecs [__flow__] memory-request 8192 MiB 8589934592 prefect_deploy via-task",
      'prefect.yaml:7:10 prefect/sync/hourly-sync [__flow__] cpu-request "1000m" k8s-cpu 1 prefect_yaml via-variable',
      'prefect.yaml:7:10 prefect/rollup/daily-rollup [__flow__] cpu-request "1000m" k8s-cpu 1 prefect_yaml via-variable',
      'prefect.yaml:8:13 prefect/sync/hourly-sync [__flow__] memory-request "2Gi" k8s-memory 2147483648 prefect_yaml via-variable',
      'prefect.yaml:8:13 prefect/rollup/daily-rollup [__flow__] memory-request "2Gi" k8s-memory 2147483648 prefect_yaml via-variable',
      "prefect.yaml:26:14 prefect/nightly-warehouse/ecs-export [__flow__] cpu-request 4096 ecs-cpu-units 4 prefect_yaml via-task",
      "prefect.yaml:27:17 prefect/nightly-warehouse/ecs-export [__flow__] memory-request 16384 MiB 17179869184 prefect_yaml via-task",
    ]);
  });

  it("points each literal's replaceable range at exactly its text", () => {
    for (const finding of scan.findings.filter((candidate) => !candidate.dynamic)) {
      const text = fixtureFiles[finding.file]!.slice(finding.start, finding.end);
      expect(text, `${finding.file}:${finding.line}`).toBe(finding.literal!.text);
    }
  });

  it("knows every task, declared or not, with its DAG and line", () => {
    expect(
      scan.tasks.map(
        (task) =>
          `${task.orchestrator}/${task.pipeline}/${task.task}@${task.file}:${task.line}${task.bare ? " bare" : ""}`,
      ),
    ).toEqual([
      "airflow/decorated_defaults/fetch@dags/decorated_defaults.py:6 bare",
      "airflow/decorated_defaults/parse@dags/decorated_defaults.py:10 bare",
      "airflow/defaults_dag/a@dags/defaults.py:10",
      "airflow/defaults_dag/b@dags/defaults.py:11",
      "airflow/defaults_dag/c@dags/defaults.py:15",
      "airflow/dynamic_dag/computed@dags/dynamic.py:14",
      "airflow/dynamic_dag/templated@dags/dynamic.py:19",
      "airflow/dynamic_dag/unknown_name@dags/dynamic.py:24",
      "airflow/kpo_dag/train@dags/kpo.py:6",
      "airflow/legacy_dag/archive@dags/legacy.py:5",
      "airflow/pod_inline/score@dags/pod_inline.py:6",
      "airflow/pod_shared/extract@dags/pod_shared.py:19",
      "airflow/pod_shared/transform@dags/pod_shared.py:20",
      "airflow/pod_split/small@dags/pod_split.py:8",
      "airflow/pod_split/large@dags/pod_split.py:13",
      "airflow/resources_dag/crunch@dags/resources_dag.py:5",
      "airflow/resources_dag/notify@dags/resources_dag.py:10",
      "airflow/taskflow_etl/load@dags/taskflow.py:22",
      "airflow/taskflow_etl/publish_report@dags/taskflow.py:26",
      "prefect/nightly-warehouse/nightly-ecs/__flow__@flows/deploy_flows.py:10",
      "prefect/sync/hourly-sync/__flow__@prefect.yaml:11",
      "prefect/rollup/daily-rollup/__flow__@prefect.yaml:16",
      "prefect/nightly-warehouse/ecs-export/__flow__@prefect.yaml:21",
    ]);
  });

  it("reports the file with a syntax error as file:line and scans the rest", () => {
    expect(scan.problems).toEqual([
      { file: "dags/broken.py", line: 4, message: "syntax error; file skipped" },
    ]);
    expect(scan.files).toHaveLength(Object.keys(fixtureFiles).length);
  });
});

describe("scanner details", () => {
  it('reads DAG ids from DAG(dag_id=…), @dag("id") and the @dag function name', async () => {
    const scan = await scanFixture({
      "a.py": `from airflow.decorators import dag, task\n\n@dag("positional_id")\ndef f():\n    @task(resources={"cpus": 1})\n    def t():\n        pass\n`,
      "b.py": `from airflow.decorators import dag, task\n\n@dag\ndef named_by_function():\n    @task(task_id="renamed", resources={"ram": 100})\n    def t():\n        pass\n`,
      "c.py": `import airflow\nfrom airflow.operators.empty import EmptyOperator\n\nwith airflow.DAG(dag_id="kw_id") as d:\n    EmptyOperator(task_id="e", resources={"cpus": 2})\n`,
    });
    expect(scan.findings.map((finding) => `${finding.pipeline}/${finding.tasks.join(",")}`)).toEqual([
      "positional_id/t",
      "named_by_function/renamed",
      "kw_id/e",
    ]);
  });

  it("lets a task's own keyword argument replace the default_args one (Airflow's merge)", async () => {
    const scan = await scanFixture({
      "d.py": `from airflow import DAG\nfrom airflow.operators.empty import EmptyOperator\n\nwith DAG("d", default_args={"resources": {"cpus": 1, "ram": 512}}) as dag:\n    EmptyOperator(task_id="own", resources={"cpus": 2})\n    EmptyOperator(task_id="inherits")\n`,
    });
    expect(
      scan.findings.map((finding) => `${finding.tasks.join(",")} ${finding.resource} ${finding.raw}`),
    ).toEqual(["own cpu 2", "inherits cpu 1", "inherits memory 512"]);
  });

  it("prefixes task ids with their task groups, as Airflow does", async () => {
    const scan = await scanFiles({
      "g.py": `from airflow import DAG
from airflow.decorators import task, task_group
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("grouped") as dag:
    with TaskGroup("outer"):
        with TaskGroup(group_id="inner"):
            EmptyOperator(task_id="deep", resources={"cpus": 1})
        EmptyOperator(task_id="shallow", resources={"cpus": 2})
    with TaskGroup("flat", prefix_group_id=False):
        EmptyOperator(task_id="unprefixed", resources={"cpus": 3})

    @task_group
    def loaders():
        @task(resources={"cpus": 4})
        def load():
            pass
        load()

    loaders()
`,
    });
    expect(scan.findings.map((finding) => `${finding.tasks.join(",")}=${finding.raw}`)).toEqual([
      "outer.inner.deep=1",
      "outer.shallow=2",
      "unprefixed=3",
      "loaders.load=4",
    ]);
  });

  it("names the line of a malformed prefect.yaml", () => {
    const result = scanPrefectYaml(
      "prefect.yaml",
      "deployments:\n  - name: a\n    work_pool: {name: x\n",
      names,
    );
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.file).toBe("prefect.yaml");
    expect(result.problems[0]!.line).toBe(4);
    expect(result.problems[0]!.message).toMatch(/not valid YAML/);
  });

  it("reports Jinja and prefect variable templates in prefect.yaml as dynamic", () => {
    const text =
      'deployments:\n  - name: t\n    entrypoint: f.py:t\n    work_pool:\n      job_variables:\n        cpu: "{{ prefect.variables.cpu }}"\n        memory: 2048\n';
    const result = scanPrefectYaml("prefect.yaml", text, names);
    expect(result.findings.map((finding) => `${finding.resource} ${finding.dynamic} ${finding.raw}`)).toEqual(
      ['cpu true "{{ prefect.variables.cpu }}"', "memory false 2048"],
    );
  });

  it("uses the configured Prefect variable names", () => {
    const text =
      "deployments:\n  - name: k\n    entrypoint: f.py:k\n    work_pool:\n      job_variables:\n        cpu_limit_custom: '2'\n        mem_custom: 1Gi\n";
    const result = scanPrefectYaml("prefect.yaml", text, {
      cpuVariables: ["cpu_limit_custom"],
      memoryVariables: ["mem_custom"],
    });
    expect(result.findings.map((finding) => `${finding.resource} ${finding.unit} ${finding.value}`)).toEqual([
      "cpu k8s-cpu 2",
      "memory k8s-memory 1073741824",
    ]);
  });
});

describe("Prefect keys: FLOW/DEPLOYMENT", () => {
  it("names the flow from @flow(name=…), else the function name with hyphens, as Prefect does", async () => {
    const result = await scanFiles({
      "flows/etl.py": `from prefect import flow


@flow(name="Orders ETL")
def load_orders():
    pass


@flow(log_prints=True)
def clean_up_tmp():
    pass
`,
      "flows/deploy.py": `from prefect import flow

from flows.etl import load_orders


@flow
def local_flow():
    pass


local_flow.deploy(name="daily", job_variables={"cpu": 1024})
flow.from_source(source=".", entrypoint="flows/etl.py:load_orders").deploy(name="daily", job_variables={"cpu": 2048})
flow.from_source(source=".", entrypoint="flows/etl.py:clean_up_tmp").deploy(name="tidy")
unknown_flow.deploy(name="mystery")
`,
      "prefect.yaml": `deployments:
  - name: daily
    entrypoint: flows/etl.py:load_orders
  - name: daily
    entrypoint: flows/etl.py:clean_up_tmp
  - name: outside
    entrypoint: vendor/jobs.py:run_vendor_job
`,
    });
    expect(result.flows.map((flow) => `${flow.file}:${flow.function} = ${flow.name}`)).toEqual([
      "flows/deploy.py:local_flow = local-flow",
      "flows/etl.py:load_orders = Orders ETL",
      "flows/etl.py:clean_up_tmp = clean-up-tmp",
    ]);
    expect(result.tasks.map((task) => `${task.file}:${task.line} ${task.pipeline}`)).toEqual([
      "flows/deploy.py:11 local-flow/daily",
      "flows/deploy.py:12 Orders ETL/daily",
      "flows/deploy.py:13 clean-up-tmp/tidy",
      "prefect.yaml:2 Orders ETL/daily",
      "prefect.yaml:4 clean-up-tmp/daily",
      "prefect.yaml:6 run-vendor-job/outside",
    ]);
    // Two flows whose deployments share a name stay two pipelines.
    expect(new Set(result.tasks.map((task) => task.pipeline)).size).toBe(5);
    expect(result.problems.map((problem) => `${problem.file}:${problem.line} ${problem.message}`)).toEqual([
      'flows/deploy.py:14 deployment "mystery": its flow cannot be told from the source (a flow variable or from_source(entrypoint=…) is expected); not scanned',
    ]);
  });
});
