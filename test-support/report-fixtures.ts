/**
 * Realistic analysis documents for tests and the benchmark: an Airflow ETL DAG with an over-provisioned
 * CPU task, a memory-hungry task at OOM risk, a network-bound task, a Prefect flow, and a hostile task
 * name. Deterministic (seeded), so a failing test renders the same document again.
 */
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { GiB, MiB } from "../common/units.js";

/** A small deterministic generator (mulberry32), so fixtures are random-looking but repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface TaskShape {
  orchestrator?: string;
  pipeline: string;
  task: string;
  runs?: number;
  requestCores?: number | null;
  limitCores?: number | null;
  usedCores: number;
  requestBytes?: number | null;
  limitBytes?: number | null;
  peakBytes: number;
  recommendedCores: number;
  recommendedBytes: number;
  savingsUsd?: number | null;
  severity?: TaskAnalysis["recommendation"]["severity"];
  confidence?: TaskAnalysis["recommendation"]["confidence"];
  bottleneck?: TaskAnalysis["bottleneck"];
  oomKills?: number;
  durationSeconds?: number;
  timeShares?: Partial<TaskAnalysis["timeShares"]>;
  evidence?: string[];
  processes?: TaskAnalysis["processes"];
  endpoints?: TaskAnalysis["endpoints"];
  regressions?: TaskAnalysis["regressions"];
  /** Per-run figures for charts; false leaves `recentRuns` out (charts fall back to percentiles). */
  withRuns?: boolean;
  seed?: number;
}

export function buildTask(shape: TaskShape): TaskAnalysis {
  const random = seededRandom(shape.seed ?? shape.task.length * 7919 + shape.pipeline.length);
  const runs = shape.runs ?? 14;
  const duration = shape.durationSeconds ?? 600;
  const used = shape.usedCores;
  const peak = shape.peakBytes;
  const recentRuns =
    shape.withRuns === false
      ? undefined
      : Array.from({ length: runs }, (_, index) => {
          const jitter = 0.75 + random() * 0.3;
          return {
            runId: `scheduled__2026-11-${String(index + 1).padStart(2, "0")}T02:00:00+00:00`,
            tryNumber: 1,
            startedAt: new Date(Date.UTC(2026, 10, index + 1, 2)).toISOString(),
            durationSeconds: duration * (0.8 + random() * 0.4),
            cpuP95: used * jitter,
            cpuMax: used * (jitter + 0.1),
            peakMemoryBytes: Math.round(peak * (0.8 + random() * 0.2)),
            exitCode: 0,
          };
        });
  const shares = { cpu: 0.6, cpuWait: 0.05, diskWait: 0.1, networkWait: 0.1, idle: 0.1, childWait: 0.05 };
  return {
    orchestrator: shape.orchestrator ?? "airflow",
    pipeline: shape.pipeline,
    task: shape.task,
    runs,
    durationSeconds: { p50: duration, p95: duration * 1.2, max: duration * 1.3 },
    cpu: {
      requestCores: shape.requestCores === undefined ? 2 : shape.requestCores,
      limitCores: shape.limitCores ?? null,
      requestSource: shape.requestCores === null ? null : "declared",
      p50: used * 0.6,
      p90: used * 0.9,
      p95: used,
      p99: used * 1.05,
      max: used * 1.1,
      cpuSecondsPerRun: { p50: used * duration * 0.6, max: used * duration * 1.1 },
    },
    memory: {
      requestBytes: shape.requestBytes === undefined ? 4 * GiB : shape.requestBytes,
      limitBytes: shape.limitBytes ?? null,
      requestSource: shape.requestBytes === null ? null : "cgroup",
      peakBytes: { p50: Math.round(peak * 0.85), p95: Math.round(peak * 0.97), max: peak },
      oomKills: shape.oomKills ?? 0,
    },
    disk: { readBytesPerRun: { p50: 120 * MiB }, writeBytesPerRun: { p50: 40 * MiB } },
    network: { rxBytesPerRun: { p50: 300 * MiB }, txBytesPerRun: { p50: 2 * MiB } },
    timeShares: { ...shares, ...shape.timeShares },
    bottleneck: shape.bottleneck ?? "balanced",
    evidence: shape.evidence ?? [
      `p95 CPU ${used.toFixed(2)} cores of ${shape.requestCores ?? "no"} requested`,
    ],
    processes: shape.processes ?? [
      {
        command: "python",
        count: runs,
        cpuSeconds: used * duration * 0.5,
        peakRssBytes: Math.round(peak * 0.7),
      },
    ],
    recommendation: {
      cpuCores: shape.recommendedCores,
      memoryBytes: shape.recommendedBytes,
      confidence: shape.confidence ?? "high",
      severity: shape.severity ?? "ok",
      monthlySavingsUsd: shape.savingsUsd === undefined ? 0 : shape.savingsUsd,
      reason: `Recommended ${shape.recommendedCores} cores and ${Math.round(shape.recommendedBytes / MiB)} MiB from ${runs} runs.`,
    },
    ...(shape.endpoints ? { endpoints: shape.endpoints } : {}),
    ...(shape.regressions ? { regressions: shape.regressions } : {}),
    ...(recentRuns ? { recentRuns } : {}),
  };
}

export const hostileName = "<script>alert(1)</script>";

/** Names that try every trick Markdown, GitHub, terminals and workflow commands know (reports/escape.test.ts). */
export const hostileNames = [
  "line one\nline two",
  "cr\r\nlf",
  "::error::pwned",
  "x\n::error file=a.py,line=1::injected",
  "![x](http://evil.example/a.png)",
  "[click](https://evil.example/)",
  "<https://evil.example/>",
  "see https://evil.example/x and www.evil.example",
  "mail@evil.example",
  "@org/team",
  "cc @octocat please",
  "<img src=x onerror=alert(1)>",
  "<script>alert(1)</script>",
  "a|b|c",
  "#123",
  "org/repo#45 and GH-7",
  "`code` and ``more``",
  "*bold* _em_ ~~strike~~",
  "[ref]: https://evil.example/",
  "&lt;b&gt; &amp;",
  "100%0Aencoded:comma,colon",
  "\u001b[31mred\u001b[0m",
];

/** The seeded analysis the content, browser and email tests check numbers against. */
export function sampleAnalysis(): AnalysisDocument {
  return {
    generatedAt: "2026-11-21T02:05:00.000Z",
    windowDays: 14,
    windowEnd: "2026-11-21T02:00:00.000Z",
    pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 },
    tasks: [
      buildTask({
        pipeline: "etl_daily",
        task: "transform_orders",
        requestCores: 8,
        usedCores: 1.2,
        requestBytes: 16 * GiB,
        peakBytes: 3 * GiB,
        recommendedCores: 1.5,
        recommendedBytes: 3.5 * GiB,
        savingsUsd: 1234.56,
        severity: "warning",
        bottleneck: "cpu",
        evidence: ["p95 CPU 1.2 cores of 8 requested (15 %)", "CPU time share 81 %"],
        timeShares: {
          cpu: 0.81,
          cpuWait: 0.04,
          diskWait: 0.05,
          networkWait: 0.02,
          idle: 0.06,
          childWait: 0.02,
        },
        processes: [
          { command: "gzip -9 orders.csv", count: 300, cpuSeconds: 5400, peakRssBytes: 6 * MiB },
          { command: "python transform.py", count: 14, cpuSeconds: 3100, peakRssBytes: 2.5 * GiB },
        ],
      }),
      buildTask({
        pipeline: "etl_daily",
        task: "load_orders",
        requestCores: 1,
        usedCores: 0.3,
        requestBytes: 2 * GiB,
        limitBytes: 2 * GiB,
        peakBytes: 1.95 * GiB,
        recommendedCores: 0.5,
        recommendedBytes: 2.5 * GiB,
        savingsUsd: -3.1,
        severity: "critical",
        bottleneck: "memory",
        oomKills: 2,
        evidence: ["peak memory 1.95 GiB of a 2 GiB limit", "2 OOM kills in 14 runs"],
        regressions: [{ metric: "peakMemoryBytes", recent: 1.95 * GiB, median: 1.2 * GiB, change: 0.625 }],
      }),
      buildTask({
        pipeline: "reporting",
        task: "export_to_s3",
        requestCores: 2,
        usedCores: 0.1,
        requestBytes: 1 * GiB,
        peakBytes: 200 * MiB,
        recommendedCores: 0.25,
        recommendedBytes: 256 * MiB,
        savingsUsd: 88,
        severity: "warning",
        bottleneck: "network-wait",
        timeShares: {
          cpu: 0.08,
          cpuWait: 0.01,
          diskWait: 0.02,
          networkWait: 0.85,
          idle: 0.03,
          childWait: 0.01,
        },
        endpoints: [
          { endpoint: "s3.eu-west-1.amazonaws.com:443", waitSeconds: 512 },
          { endpoint: "10.0.3.7:5432", waitSeconds: 31 },
        ],
        regressions: [{ metric: "durationSeconds", recent: 1500, median: 900, change: 0.6667 }],
        withRuns: false,
      }),
      buildTask({
        orchestrator: "prefect",
        pipeline: "nightly-ml",
        task: "__flow__",
        requestCores: null,
        usedCores: 3.4,
        requestBytes: null,
        peakBytes: 12 * GiB,
        recommendedCores: 4,
        recommendedBytes: 14 * GiB,
        savingsUsd: null,
        severity: "ok",
        confidence: "medium",
        bottleneck: "cpu",
      }),
      buildTask({
        pipeline: "etl_daily",
        task: hostileName,
        requestCores: 1,
        usedCores: 0.9,
        requestBytes: 1 * GiB,
        peakBytes: 700 * MiB,
        recommendedCores: 1,
        recommendedBytes: 1 * GiB,
        savingsUsd: 0,
        severity: "good",
        evidence: [`ran ${hostileName} | rm -rf /`],
        processes: [
          { command: `bash -c "${hostileName}"`, count: 1, cpuSeconds: 12, peakRssBytes: 30 * MiB },
        ],
        endpoints: [{ endpoint: `<img src=x onerror=alert(2)>:80`, waitSeconds: 3 }],
      }),
    ],
  };
}

/** `count` tasks over `count / 10` pipelines, for the benchmark: every chart and list filled. */
export function largeAnalysis(count: number, seed = 42): AnalysisDocument {
  const random = seededRandom(seed);
  const severities = ["critical", "warning", "ok", "good"] as const;
  const bottlenecks = ["cpu", "memory", "disk-io", "network-wait", "idle", "balanced"] as const;
  const tasks = Array.from({ length: count }, (_, index) => {
    const request = 1 + Math.floor(random() * 8);
    const used = request * random();
    const memory = (1 + Math.floor(random() * 16)) * GiB;
    const peak = Math.round(memory * (0.2 + random() * 0.9));
    return buildTask({
      pipeline: `pipeline_${String(Math.floor(index / 10)).padStart(3, "0")}`,
      task: `task_${String(index).padStart(4, "0")}_extract_and_transform`,
      runs: 14 + Math.floor(random() * 86),
      requestCores: request,
      usedCores: used,
      requestBytes: memory,
      peakBytes: peak,
      recommendedCores: Math.max(0.1, Number((used * 1.15).toFixed(2))),
      recommendedBytes: Math.round(peak * 1.15),
      savingsUsd: Number(((request - used) * 20 + random() * 10).toFixed(2)),
      severity: severities[Math.floor(random() * severities.length)],
      bottleneck: bottlenecks[Math.floor(random() * bottlenecks.length)],
      evidence: [
        `p95 CPU ${used.toFixed(2)} cores of ${request} requested`,
        `peak memory ${(peak / GiB).toFixed(1)} GiB of ${memory / GiB} GiB`,
      ],
      processes: Array.from({ length: 8 }, (_, p) => ({
        command: `worker-${p} --input /data/part-${p}.parquet`,
        count: 1 + p,
        cpuSeconds: 100 * random(),
        peakRssBytes: Math.round(peak * random()),
      })),
      endpoints: [{ endpoint: `db-${index % 7}.internal:5432`, waitSeconds: 60 * random() }],
      seed: seed + index,
    });
  });
  return {
    generatedAt: "2026-11-21T02:05:00.000Z",
    windowDays: 14,
    windowEnd: "2026-11-21T02:00:00.000Z",
    tasks,
  };
}
