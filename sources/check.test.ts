import { describe, expect, it } from "vitest";
import { checkRequests, renderCheckText, renderGithubAnnotations, renderJobSummary } from "./check.js";
import { analysisTask, fixtureAnalysis, scanFiles } from "../test-support/source-fixtures.js";

const options = { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 };
const GiB = 1024 ** 3;

const dag = `from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("gate") as dag:
    BashOperator(task_id="over", bash_command="x", resources={"cpus": 4, "ram": 8192})
    BashOperator(task_id="under", bash_command="x", resources={"cpus": 1, "ram": 1024})
    BashOperator(task_id="throttled", bash_command="x", resources={"cpus": 1, "ram": 4096})
    BashOperator(task_id="bare", bash_command="x")
    BashOperator(task_id="fine", bash_command="x", resources={"cpus": 1, "ram": 2048})
    BashOperator(task_id="unseen", bash_command="x", resources={"cpus": 64, "ram": 65536})
    BashOperator(task_id="slightly_over", bash_command="x", resources={"cpus": 0.5, "ram": 600})
`;

const document = {
  generatedAt: "2026-11-20T02:00:00Z",
  windowDays: 14,
  tasks: [
    analysisTask({ pipeline: "gate", task: "over", cpuCores: 0.5, memoryBytes: GiB }),
    analysisTask({
      pipeline: "gate",
      task: "under",
      cpuCores: 1,
      memoryBytes: 2 * GiB,
      peakBytes: 1.5 * GiB,
    }),
    analysisTask({
      pipeline: "gate",
      task: "throttled",
      cpuCores: 1,
      memoryBytes: 3 * GiB,
      throttledShare: 0.3,
    }),
    analysisTask({ pipeline: "gate", task: "bare", cpuCores: 0.2, memoryBytes: GiB }),
    analysisTask({ pipeline: "gate", task: "fine", cpuCores: 0.8, memoryBytes: 1.8 * GiB }),
    analysisTask({
      pipeline: "gate",
      task: "unseen",
      cpuCores: 0.1,
      memoryBytes: GiB,
      runs: 0,
      confidence: "none",
    }),
    // 0.5 cores is 5× 0.1 but only 0.4 core more: under the 0.5-core minimum, so not flagged.
    analysisTask({
      pipeline: "gate",
      task: "slightly_over",
      cpuCores: 0.1,
      memoryBytes: 500 * 1024 ** 2,
      peakBytes: 400 * 1024 ** 2,
    }),
  ],
};

describe("checkRequests", () => {
  it("judges over-, under- and un-declared tasks and never fails on a task without data", async () => {
    const scan = await scanFiles({ "dags/gate.py": dag });
    const report = checkRequests(scan, document, options, "warning");
    expect(
      report.items.map(
        (item) => `${item.task} ${item.resource ?? "-"} ${item.verdict} ${item.severity} :${item.line}`,
      ),
    ).toEqual([
      "over cpu over-provisioned warning :5",
      "over memory over-provisioned warning :5",
      "under cpu ok info :6",
      "under memory under-provisioned critical :6",
      "throttled cpu under-provisioned warning :7",
      "throttled memory ok info :7",
      "bare - no-request warning :8",
      "fine cpu ok info :9",
      "fine memory ok info :9",
      "unseen - no-data info :10",
      "slightly_over cpu ok info :11",
      "slightly_over memory ok info :11",
    ]);
    expect(report.failed).toBe(true);
    expect(checkRequests(scan, document, options, "critical").failed).toBe(true);
  });

  it("never proposes a memory cut whose backtest shows OOM risk", async () => {
    const scan = await scanFiles({ "dags/gate.py": dag });
    const replay = {
      cpuCores: 0.5,
      memoryBytes: GiB,
      runs: 20,
      overMemory: 0,
      reclaimZone: 0,
      cpuCapped: 0,
      cappedSeconds: 0,
      stretchedRuns: 0,
      maxStretch: 0,
      coreHoursSaved: 0,
      gibHoursSaved: 0,
      usdSaved: null,
    };
    const risky = {
      ...document,
      tasks: document.tasks.map((task) =>
        task.task !== "over"
          ? task
          : {
              ...task,
              backtest: {
                policy: "rightsize",
                maxOverMemoryShare: 0.01,
                inSample: replay,
                outOfSample: {
                  ...replay,
                  memoryBytes: 768 * 1024 ** 2,
                  trainingRuns: 15,
                  runs: 5,
                  overMemory: 1,
                },
                meetsTarget: false,
              },
            },
      ),
    };
    const memory = checkRequests(scan, risky, options, "warning").items.find(
      (item) => item.task === "over" && item.resource === "memory",
    );
    expect(memory).toMatchObject({ verdict: "ok", severity: "info" });
    expect(memory?.message).toBe(
      "memory request 8 GiB kept: the backtest shows OOM risk for a cut (1 of the 5 newest runs would have exceeded the 768 MiB the older runs suggest)",
    );
  });

  it("fails on critical only when a critical violation exists", async () => {
    const scan = await scanFiles({ "dags/gate.py": dag });
    const withoutUnder = { ...document, tasks: document.tasks.filter((task) => task.task !== "under") };
    expect(checkRequests(scan, withoutUnder, options, "critical").failed).toBe(false);
    expect(checkRequests(scan, withoutUnder, options, "warning").failed).toBe(true);
  });

  it("passes when only tasks without data are present", async () => {
    const scan = await scanFiles({ "dags/gate.py": dag });
    const report = checkRequests(scan, { ...document, tasks: [] }, options, "warning");
    expect(report.failed).toBe(false);
    expect(report.items.every((item) => item.verdict === "no-data")).toBe(true);
  });

  it("renders GitHub annotations, a job summary and a table", async () => {
    const scan = await scanFiles({ "dags/gate.py": dag, "dags/broken.py": "def f(:\n" });
    const report = checkRequests(scan, document, options, "warning");
    const annotations = renderGithubAnnotations(report).trim().split("\n");
    expect(annotations).toEqual([
      '::warning file=dags/broken.py,line=1,title=rightsize%3A file skipped::syntax error (missing ")"); file skipped',
      "::warning file=dags/gate.py,line=5,title=rightsize%3A gate/over over-provisioned::cpu request 4 cores is 8.0× the recommended 0.5 cores (saves about $10.00/month)",
      "::warning file=dags/gate.py,line=5,title=rightsize%3A gate/over over-provisioned::memory request 8 GiB is 8.0× the recommended 1 GiB (saves about $10.00/month)",
      "::error file=dags/gate.py,line=6,title=rightsize%3A gate/under under-provisioned::memory request 1 GiB is below the observed peak 1.5 GiB; recommended 2 GiB",
      "::warning file=dags/gate.py,line=7,title=rightsize%3A gate/throttled under-provisioned::CPU throttled in 30 %25 of periods with a request of 1 core; recommended 1 core",
      "::warning file=dags/gate.py,line=8,title=rightsize%3A gate/bare no-request::declares no CPU or memory request; recommended 0.2 cores and 1 GiB",
    ]);
    expect(renderGithubAnnotations(report, "airflow/").split("\n")[1]).toMatch(
      /^::warning file=airflow\/dags\/gate\.py,line=5,/,
    );
    const summary = renderJobSummary(report);
    expect(summary).toContain("## rightsize check: failed");
    expect(summary).toContain(
      "| critical | gate/under | memory | 1 GiB | 2 GiB | under-provisioned | dags/gate.py:6 |",
    );
    expect(summary).toContain(
      "| warning | gate/bare | – | – | 0.2 cores, 1 GiB | no-request | dags/gate.py:8 |",
    );
    expect(summary).toContain("1 task(s) without enough data were not judged.");
    const text = renderCheckText(report);
    expect(text).toContain("FAILED: 1 critical, 4 warning(s) (fail on warning)");
    expect(text).toMatch(/gate\/unseen\s+│ –\s+│ –\s+│ –\s+│ no-data/);
  });

  it("judges the whole fixture repository", async () => {
    const report = checkRequests(await scanFiles(), fixtureAnalysis(), options, "critical");
    expect(
      report.violations
        .filter((item) => item.severity === "critical")
        .map((item) => `${item.pipeline}/${item.task}`),
    ).toEqual([
      "defaults_dag/b",
      "dynamic_dag/unknown_name",
      "kpo_dag/train",
      "pod_split/large",
      "rollup/daily-rollup/__flow__",
    ]);
    expect(report.failed).toBe(true);
  });
});

describe("a check that fails closed", () => {
  it("says so when no task was found or no recommendation matches a task found", async () => {
    const empty = await scanFiles({ "README.py": "print('no DAGs')\n" });
    const none = checkRequests(empty, fixtureAnalysis(), options, "warning");
    expect(none.nothingToJudge?.reason).toBe("no-tasks");
    expect(renderCheckText(none)).toContain("NOTHING CHECKED");

    const scan = await scanFiles({ "dags/d.py": dag });
    const elsewhere = {
      ...document,
      tasks: document.tasks.map((task) => ({ ...task, pipeline: `other_${task.pipeline}` })),
    };
    const unmatched = checkRequests(scan, elsewhere, options, "warning");
    expect(unmatched.nothingToJudge?.reason).toBe("no-matching-recommendations");
    expect(renderGithubAnnotations(unmatched)).toContain("::error title=rightsize%3A nothing checked::");

    const matched = checkRequests(scan, document, options, "warning");
    expect(matched.nothingToJudge).toBeNull();
  });
});
