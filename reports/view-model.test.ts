/** Chart geometry and view shaping: values map onto the chart's axis, sizes stay bounded. */
import { describe, expect, it } from "vitest";
import { formatBytes, formatCores } from "./format.js";
import { buildTask, sampleAnalysis } from "../test-support/report-fixtures.js";
import { buildReportView, histogramChart, percentileChart, timeSegmentsOf, usageBar } from "./view-model.js";

const formats = { cores: formatCores, bytes: formatBytes };

describe("histogramChart", () => {
  it("bins runs along the value axis and places lines on the same axis", () => {
    const chart = histogramChart(
      "cores",
      [1, 1, 1, 2],
      "runs",
      [
        { kind: "request", label: "request", value: 4 },
        { kind: "recommendation", label: "recommended", value: 2.2 },
      ],
      formatCores,
    );
    // Axis top: the request (4) plus 10 % head-room.
    expect(chart.top).toBeCloseTo(4.4);
    expect(chart.bars).toHaveLength(2);
    const [ones, twos] = chart.bars;
    expect(ones?.height).toBeGreaterThan(twos?.height ?? Number.POSITIVE_INFINITY);
    expect(ones?.title).toMatch(/^3 runs at /);
    expect(twos?.title).toMatch(/^1 run at /);
    const request = chart.lines.find((line) => line.kind === "request");
    expect(request?.x).toBeCloseTo((4 / 4.4) * chart.width, 0);
    expect(ones!.x).toBeLessThan(twos!.x);
    for (const bar of chart.bars) {
      expect(bar.x + bar.width).toBeLessThanOrEqual(chart.width);
      expect(bar.y + bar.height).toBeCloseTo(chart.height, 0);
    }
  });

  it("keeps a fixed number of bars however many runs there are", () => {
    const values = Array.from({ length: 5000 }, (_, index) => index % 97);
    expect(histogramChart("cores", values, "", [], formatCores).bars.length).toBeLessThanOrEqual(16);
  });

  it("draws nothing for missing requests and survives all-zero data", () => {
    const chart = histogramChart(
      "bytes",
      [0, 0],
      "",
      [{ kind: "request", label: "request", value: Number.NaN }],
      formatBytes,
    );
    expect(chart.lines).toEqual([]);
    expect(chart.top).toBe(1);
    expect(chart.bars).toHaveLength(1);
  });
});

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
