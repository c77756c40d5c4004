/** Chart geometry and view shaping: values map onto the chart's axis, sizes stay bounded. */
import { describe, expect, it } from "vitest";
import { formatBytes, formatCores } from "./format.js";
import { buildTask, sampleAnalysis } from "../test-support/report-fixtures.js";
import { buildReportView, percentileChart, timeSegmentsOf, usageBar } from "./view-model.js";

const formats = { cores: formatCores, bytes: formatBytes };

describe("percentileChart", () => {
  it("draws one horizontal bar per percentile, proportional to its value", () => {
    const chart = percentileChart(
      "cores",
      [
        { label: "p50", short: "p50", value: 1 },
        { label: "max", short: "max", value: 2 },
      ],
      "",
      [],
      formatCores,
    );
    expect(chart.bars.map((bar) => bar.width)).toEqual([
      Math.round((1 / 2.2) * chart.width * 10) / 10,
      Math.round((2 / 2.2) * chart.width * 10) / 10,
    ]);
    expect(chart.bars.map((bar) => bar.label)).toEqual(["p50", "max"]);
  });
});

describe("timeSegmentsOf", () => {
  it("normalizes shares to fill the bar and drops empty ones", () => {
    const task = buildTask({
      pipeline: "p",
      task: "t",
      usedCores: 1,
      peakBytes: 1,
      recommendedCores: 1,
      recommendedBytes: 1,
      timeShares: { cpu: 0.5, cpuWait: 0, diskWait: 0.25, networkWait: 0, idle: 0.15, childWait: 0 },
    });
    const segments = timeSegmentsOf(task);
    expect(segments.map((segment) => segment.kind)).toEqual(["cpu", "diskWait", "idle"]);
    expect(segments.reduce((sum, segment) => sum + segment.widthPercent, 0)).toBeCloseTo(100, 1);
    expect(segments[0]?.widthPercent).toBeCloseTo(55.56, 1);
  });
});

describe("usageBar", () => {
  it("fills by use over request, capped at 100, empty without a request", () => {
    expect(usageBar(1, 4)).toMatchObject({ percent: 25, rest: 75 });
    expect(usageBar(5, 4)).toMatchObject({ percent: 100, rest: 0 });
    expect(usageBar(1, null)).toMatchObject({ percent: 0, rest: 100 });
  });
});

describe("buildReportView", () => {
  it("ranks, limits and attaches patches by task key", () => {
    const view = buildReportView(
      sampleAnalysis(),
      { patches: { "airflow/reporting/export_to_s3": "diff" }, reportUrl: "https://example.test/r" },
      formats,
      2,
    );
    expect(view.ranked.map((task) => [task.rank, task.task.task])).toEqual([
      [1, "load_orders"],
      [2, "transform_orders"],
    ]);
    expect(view.omitted).toBe(3);
    expect(view.regressions.map((entry) => entry.regression.metric)).toEqual([
      "peakMemoryBytes",
      "durationSeconds",
    ]);
    expect(view.regressions[1]?.task.patch).toBe("diff");
    expect(view.oomRisks.map((task) => task.task.task)).toEqual(["load_orders"]);
    const s3 = view.regressions[1]?.task;
    expect(s3?.dominantSegment).toMatchObject({ kind: "networkWait", share: 0.85 });
  });
});
