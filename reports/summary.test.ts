/** Verdicts and headline counts: pure functions of the analysis document. */
import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../common/units.js";
import { compareTasks, groupByPipeline, headlineOf, verdictOf } from "./summary.js";
import { buildTask, sampleAnalysis } from "../test-support/report-fixtures.js";

const base = {
  pipeline: "p",
  task: "t",
  usedCores: 1,
  peakBytes: 1 * GiB,
  recommendedCores: 1,
  recommendedBytes: 1 * GiB,
};

describe("verdictOf", () => {
  it("calls a request more than 10 % above the recommendation over-provisioned", () => {
    expect(verdictOf(buildTask({ ...base, requestCores: 1.11, requestBytes: 1 * GiB })).provisioning).toBe(
      "over",
    );
    expect(verdictOf(buildTask({ ...base, requestCores: 1.1, requestBytes: 1 * GiB })).provisioning).toBe(
      "fit",
    );
  });

  it("calls a recommendation above any request under-provisioned, even when the other is over", () => {
    const task = buildTask({ ...base, requestCores: 8, requestBytes: 512 * MiB });
    expect(verdictOf(task).provisioning).toBe("under");
  });

  it("says unknown when no request is known", () => {
    expect(verdictOf(buildTask({ ...base, requestCores: null, requestBytes: null })).provisioning).toBe(
      "unknown",
    );
  });

  it("flags OOM risk on OOM kills, or peaks within 10 % of the limit (the request without one)", () => {
    expect(verdictOf(buildTask({ ...base, oomKills: 1, requestBytes: 8 * GiB })).oomRisk).toBe(true);
    expect(verdictOf(buildTask({ ...base, peakBytes: 0.9 * GiB, requestBytes: 1 * GiB })).oomRisk).toBe(true);
    expect(verdictOf(buildTask({ ...base, peakBytes: 0.89 * GiB, requestBytes: 1 * GiB })).oomRisk).toBe(
      false,
    );
    expect(
      verdictOf(buildTask({ ...base, peakBytes: 0.95 * GiB, requestBytes: 1 * GiB, limitBytes: 2 * GiB }))
        .oomRisk,
    ).toBe(false);
    expect(verdictOf(buildTask({ ...base, requestBytes: null })).oomRisk).toBe(false);
  });
});

describe("headlineOf", () => {
  it("counts the seeded analysis and sums only positive savings", () => {
    expect(headlineOf(sampleAnalysis())).toEqual({
      tasks: 5,
      pipelines: 3,
      monthlySavingsUsd: 1234.56 + 88,
      overProvisioned: 2,
      underProvisioned: 1,
      oomRisk: 1,
      regressions: 2,
      critical: 1,
    });
  });
});

describe("ordering", () => {
  it("ranks by severity, then by the size of the saving", () => {
    const names = [...sampleAnalysis().tasks].sort(compareTasks).map((task) => task.task);
    expect(names.slice(0, 3)).toEqual(["load_orders", "transform_orders", "export_to_s3"]);
  });

  it("groups by orchestrator and pipeline, worst group first", () => {
    const groups = groupByPipeline(sampleAnalysis().tasks);
    expect(groups.map((group) => [group.pipeline, group.tasks.length, group.worstSeverity])).toEqual([
      ["etl_daily", 3, "critical"],
      ["reporting", 1, "warning"],
      ["nightly-ml", 1, "ok"],
    ]);
    expect(groups[0]?.monthlySavingsUsd).toBeCloseTo(1234.56);
  });
});
