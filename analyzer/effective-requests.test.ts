import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";
import { GiB, MiB } from "../common/units.js";
import { declaredAgainstEffective, effectiveRequestOf, sameValue } from "./effective-requests.js";
import { buildTaskAnalysis } from "./task-analysis.js";
import { taskAnalysisSchema } from "../common/analysis-document.js";

describe("effectiveRequestOf", () => {
  it("takes the latest run's cgroup or pod-spec values and counts the runs that had them", () => {
    const runs = [
      syntheticRun({ limitMemoryBytes: 2 * GiB, memorySource: "cgroup" }, 0),
      syntheticRun({ requestCpuCores: 3, cpuSource: "flag" }, 1),
      syntheticRun(
        { requestMemoryBytes: 4 * GiB, limitMemoryBytes: null, memorySource: "pod-spec", cpuSource: null },
        2,
      ),
    ];
    expect(effectiveRequestOf(runs)).toEqual({
      cpu: null,
      memory: { request: 4 * GiB, limit: null, source: "pod-spec", runs: 2 },
    });
  });

  it("is null when no run measured anything: a flag or a declaration is not what the task had", () => {
    expect(effectiveRequestOf([syntheticRun({ requestCpuCores: 2, cpuSource: "flag" })])).toBeNull();
    expect(effectiveRequestOf([])).toBeNull();
  });
});

describe("declaredAgainstEffective", () => {
  const cgroupLimit = (limit: number | null, request: number | null = null) => ({
    request,
    limit,
    source: "cgroup" as const,
    runs: 3,
  });

  it("finds a declared 8 GiB request that runs under a 1 GiB limit never had", () => {
    expect(
      declaredAgainstEffective({ resource: "memory", kind: "request", value: 8 * GiB }, cgroupLimit(GiB)),
    ).toMatchObject({
      effective: GiB,
      effectiveKind: "limit",
      observed: "the runs had a 1 GiB memory limit in their cgroup",
    });
  });

  it("accepts a request under the limit the runs had, and a request the pod spec carried", () => {
    expect(
      declaredAgainstEffective({ resource: "memory", kind: "request", value: GiB }, cgroupLimit(2 * GiB)),
    ).toBeNull();
    expect(
      declaredAgainstEffective(
        { resource: "memory", kind: "request", value: 4 * GiB },
        { request: 4 * GiB, limit: null, source: "pod-spec", runs: 1 },
      ),
    ).toBeNull();
  });

  it("tells a different pod-spec request, and a declared limit the runs did not have", () => {
    expect(
      declaredAgainstEffective(
        { resource: "memory", kind: "request", value: 12 * GiB },
        { request: 4 * GiB, limit: 4 * GiB, source: "pod-spec", runs: 5 },
      ),
    ).toMatchObject({ effective: 4 * GiB, effectiveKind: "request", source: "pod-spec" });
    expect(
      declaredAgainstEffective({ resource: "cpu", kind: "limit", value: 2 }, cgroupLimit(null, 1)),
    ).toMatchObject({ effective: null, observed: "the runs had no CPU limit in their cgroup" });
  });

  it("reads a CPU request back from cpu.weight within one weight step", () => {
    // 1 core: shares 1024, weight 39, read back as 0.975 cores (collector/procfs/cgroup-parse.ts).
    expect(
      declaredAgainstEffective({ resource: "cpu", kind: "request", value: 1 }, cgroupLimit(null, 0.975)),
    ).toBeNull();
    expect(
      declaredAgainstEffective({ resource: "cpu", kind: "request", value: 2 }, cgroupLimit(null, 0.975)),
    ).not.toBeNull();
  });

  it("says nothing without a measured value", () => {
    expect(declaredAgainstEffective({ resource: "memory", kind: "request", value: GiB }, null)).toBeNull();
  });

  it("never flags a value against itself, and a mismatch always names a different value (property)", () => {
    const resource = fc.constantFrom("cpu" as const, "memory" as const);
    const amount = fc.double({ min: 0.01, max: 1e12, noNaN: true });
    fc.assert(
      fc.property(
        resource,
        fc.constantFrom("request" as const, "limit" as const),
        amount,
        (r, kind, value) => {
          const effective = { request: value, limit: value, source: "cgroup" as const, runs: 1 };
          expect(declaredAgainstEffective({ resource: r, kind, value }, effective)).toBeNull();
        },
      ),
    );
    fc.assert(
      fc.property(resource, amount, amount, (r, declared, limit) => {
        const mismatch = declaredAgainstEffective(
          { resource: r, kind: "request", value: declared },
          { request: null, limit, source: "cgroup", runs: 1 },
        );
        // A request is ruled out by a limit only when the limit is really below it.
        expect(mismatch !== null).toBe(limit < declared && !sameValue(r, declared, limit));
      }),
    );
  });
});

describe("the analysis document", () => {
  it("carries the effective request and says in the evidence which declaration does not apply", () => {
    const analysis = buildTaskAnalysis(
      {
        key: { orchestrator: "airflow", pipeline: "etl", task: "load" },
        runs: syntheticRuns(4, () => ({
          limitMemoryBytes: GiB,
          memorySource: "cgroup",
          peakRssBytes: 600 * MiB,
        })),
        processes: [],
        declared: { cpuRequest: null, cpuLimit: null, memoryRequest: 8 * GiB, memoryLimit: null },
        configured: undefined,
        windowEnd: new Date(Date.UTC(2026, 10, 20)),
        windowDays: 30,
        maxRuns: 100,
      },
      {
        cpuBuffer: 0.15,
        memoryBuffer: 0.15,
        cpuRunPercentile: 90,
        memoryPeakPercentile: 100,
        pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237 },
      },
    );
    expect(taskAnalysisSchema.safeParse(analysis).success).toBe(true);
    expect(analysis.effectiveRequest).toEqual({
      cpu: null,
      memory: { request: null, limit: GiB, source: "cgroup", runs: 4 },
      notApplied: [
        {
          resource: "memory",
          kind: "request",
          declared: 8 * GiB,
          message:
            "the declared memory request of 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup",
        },
      ],
    });
    expect(analysis.evidence).toContain(
      "the declared memory request of 8 GiB does not apply: the runs had a 1 GiB memory limit in their cgroup",
    );
  });
});
