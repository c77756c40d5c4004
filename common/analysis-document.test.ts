import { describe, expect, it } from "vitest";
import { analysisTask, fixtureAnalysis } from "../test-support/source-fixtures.js";
import { analysisDocumentSchema, MAX_BYTES, MAX_CORES } from "./analysis-document.js";

describe("analysis document bounds", () => {
  const withRecommendation = (patch: Record<string, number>) => {
    const document = fixtureAnalysis();
    Object.assign(document.tasks[0]!.recommendation, patch);
    return analysisDocumentSchema.safeParse(document);
  };

  it("accepts a real document", () => {
    expect(analysisDocumentSchema.safeParse(fixtureAnalysis()).success).toBe(true);
    expect(
      analysisDocumentSchema.safeParse({
        ...fixtureAnalysis(),
        tasks: [analysisTask({ pipeline: "p", task: "t", cpuCores: 0.5, memoryBytes: 1024 ** 3 })],
      }).success,
    ).toBe(true);
  });

  it.each([
    ["memoryBytes", 9.3e290],
    ["memoryBytes", MAX_BYTES * 2],
    ["memoryBytes", -1],
    ["cpuCores", MAX_CORES + 1],
    ["cpuCores", Number.POSITIVE_INFINITY],
    ["cpuCores", Number.NaN],
    ["monthlySavingsUsd", 1e300],
  ])("refuses %s = %d naming the field", (field, value) => {
    const parsed = withRecommendation({ [field]: value });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(["tasks", 0, "recommendation", field]);
  });
});
