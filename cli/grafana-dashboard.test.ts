import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TASK_INSTRUMENTS, taskAttributes } from "../collector/export/task-metrics.js";
import { prometheusName } from "../common/telemetry-config.js";
import { ANALYSIS_INSTRUMENTS } from "../reports/analysis-metrics.js";

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(
  readFileSync(new URL("../deploy/grafana/rightsize-tasks.json", import.meta.url), "utf8"),
) as { panels: Panel[]; templating: { list: Array<{ name: string; query: unknown }> } };

/** Every Prometheus metric name the project emits through the OpenTelemetry Collector. */
const emitted = new Set([
  ...Object.values(TASK_INSTRUMENTS).map((spec) => prometheusName(spec.name, spec.unit, spec.kind)),
  ...Object.values(ANALYSIS_INSTRUMENTS).map((spec) => prometheusName(spec.name, spec.unit, "gauge")),
]);

/** Every label: the attributes of any task, with run ids, and the per-point attributes. */
const labels = new Set(
  [
    ...Object.keys(
      taskAttributes(
        {
          id: "x",
          orchestrator: "airflow",
          pipeline: "p",
          task: "t",
          runId: "r",
          tryNumber: 1,
          mapIndex: 0,
          hostId: "h",
          attribution: "env",
          rootPid: 1,
          podUid: "u",
          startedAt: new Date(),
        },
        { runIds: true },
      ),
    ),
    "prefect.flow.name",
    "prefect.deployment.name",
    "disk.io.direction",
    "network.io.direction",
    "rightsize.time.state",
    "rightsize.severity",
    "rightsize.confidence",
    "rightsize.bottleneck.class",
  ].map((name) => name.replace(/[^A-Za-z0-9_]/g, "_")),
);

const PROMQL_WORDS = new Set(
  "sum max min avg count topk bottomk rate irate increase by without on ignoring group_left group_right label_values and or unless".split(
    " ",
  ),
);

/** Metric names of a PromQL expression: label matchers, grouping lists and ranges removed first. */
function metricsOf(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/"[^"]*"/g, " ");
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)]
    .map((match) => match[0])
    .filter((word) => !PROMQL_WORDS.has(word) && !/^\d/.test(word));
}

function labelsOf(expr: string): string[] {
  const inMatchers = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((match) =>
    [...match[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)/g)].map((label) => label[1]!),
  );
  const inGroups = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((match) =>
    match[1]!.split(",").map((label) => label.trim()),
  );
  return [...inMatchers, ...inGroups].filter(Boolean);
}

describe("the Grafana dashboard (deploy/grafana/rightsize-tasks.json)", () => {
  const queries = [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
    ...dashboard.templating.list
      .map((variable) => (variable.query as { query?: string } | undefined)?.query)
      .filter((query): query is string => typeof query === "string" && query.startsWith("label_values"))
      .map((query) => query.replace(/^label_values\((.*),\s*\w+\)$/, "$1")),
  ];

  it("has queries", () => {
    expect(queries.length).toBeGreaterThan(8);
  });

  it("names only metrics the project emits", () => {
    for (const expr of queries) {
      const metrics = metricsOf(expr);
      expect(metrics.length, expr).toBeGreaterThan(0);
      for (const metric of metrics) expect([...emitted], `${metric} in ${expr}`).toContain(metric);
    }
  });

  it("uses only labels the metrics carry", () => {
    for (const expr of queries)
      for (const label of labelsOf(expr)) expect([...labels], `${label} in ${expr}`).toContain(label);
  });

  it("shows the worst tasks, CPU and memory against the request, and savings", () => {
    const uses = (metric: string) => queries.some((expr) => metricsOf(expr).includes(metric));
    expect(uses("rightsize_savings_monthly")).toBe(true);
    expect(uses("rightsize_task_cpu_usage") && uses("rightsize_task_cpu_request")).toBe(true);
    expect(uses("rightsize_task_memory_usage_bytes") && uses("rightsize_task_memory_request_bytes")).toBe(
      true,
    );
    expect(queries.some((expr) => expr.startsWith("topk("))).toBe(true);
  });
});

describe("prometheusName", () => {
  it("translates as the OpenTelemetry Collector's Prometheus exporter does", () => {
    expect(prometheusName("rightsize.task.memory.usage", "By", "gauge")).toBe(
      "rightsize_task_memory_usage_bytes",
    );
    expect(prometheusName("rightsize.task.time", "s", "counter")).toBe("rightsize_task_time_seconds_total");
    expect(prometheusName("rightsize.task.cpu.usage", "{cpu}", "gauge")).toBe("rightsize_task_cpu_usage");
    expect(prometheusName("rightsize.task.disk.io", "By", "counter")).toBe(
      "rightsize_task_disk_io_bytes_total",
    );
  });
});
