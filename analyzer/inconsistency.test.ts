import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GiB } from "../common/units.js";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";
import { explainInconsistency, INCONSISTENCY_MIN_RUNS } from "./inconsistency.js";

/** A small deterministic wobble, so no factor lines up by accident. */
const wobble = (index: number) => ((index * 37) % 11) / 10;

describe("explainInconsistency", () => {
  it("a duration that follows its input size names bytes read, with r and n", () => {
    const runs = syntheticRuns(28, (index) => {
      const input = (1 + (index % 7)) * GiB;
      return {
        durationSeconds: 60 * (input / GiB) + 40 * wobble(index),
        diskReadBytes: input,
        cpuSeconds: 100 + wobble(index * 3),
      };
    });
    const result = explainInconsistency(runs);
    expect(result.inconsistent).toBe(true);
    expect(result.explainedBy?.factor).toBe("diskReadBytes");
    expect(result.sentence).toMatch(/^Duration follows bytes read: r = 0\.99 over 28 runs \(strong\); p95 /);
  });

  it("names the input when the CPU seconds that lead follow it", () => {
    // Compressing the input: CPU seconds track the duration a shade closer than the bytes do (the disk
    // reads wobble), but they are how the runs spent the time the bigger input asked for.
    const runs = syntheticRuns(9, (index) => {
      const input = (1 + ((index * 4) % 9)) * GiB;
      const cpuSeconds = 50 * (input / GiB) + 4 * wobble(index);
      return {
        durationSeconds: cpuSeconds + 2,
        diskReadBytes: input + wobble(index * 7) * 2 * GiB,
        cpuSeconds,
      };
    });
    const result = explainInconsistency(runs);
    expect(result.factors[0]!.factor).toBe("cpuSeconds");
    expect(result.explainedBy?.factor).toBe("diskReadBytes");
    expect(result.follows).toMatchObject({ factor: "cpuSeconds", label: "CPU seconds" });
    expect(result.sentence).toMatch(
      /^Duration follows bytes read: r = [01]\.\d\d over 9 runs \(strong\), and so does CPU seconds \(r = [01]\.\d\d\), which follows bytes read: r = [01]\.\d\d; p95 /,
    );
  });

  it("names a remote endpoint's wait, and counts runs without it as no wait", () => {
    const runs = syntheticRuns(12, (index) => ({
      durationSeconds: 600 + (index % 3) * 600 + wobble(index),
      endpoints:
        index % 3 === 0 ? null : [{ endpoint: "api.example.com:443", waitSeconds: (index % 3) * 590 }],
      diskReadBytes: GiB + wobble(index * 5) * GiB,
      cpuSeconds: 100,
    }));
    const result = explainInconsistency(runs);
    expect(result.explainedBy?.label).toBe("time waiting on api.example.com:443");
    expect(result.explainedBy?.runs).toBe(12);
  });

  it("too few runs, and steady runs, are answers", () => {
    expect(explainInconsistency(syntheticRuns(INCONSISTENCY_MIN_RUNS - 1)).sentence).toBe(
      "Not enough runs to explain the variation: 7, 8 needed.",
    );
    const steady = explainInconsistency(
      syntheticRuns(10, (index) => ({ durationSeconds: 600 + wobble(index), cpuSeconds: 100 })),
    );
    expect(steady.inconsistent).toBe(false);
    expect(steady.factors).toEqual([]);
    expect(steady.explainedBy).toBeNull();
    expect(steady.sentence).toBe(
      "Duration is steady, so no factor is looked for: p95 10m 01s against p50 10m 00s (1.0×), CV 0.00 over 10 runs (inconsistent from p95/p50 1.5× or CV 0.3).",
    );
  });
});

describe("explainInconsistency (properties)", () => {
  it("factors are sorted by |r| within [-1, 1], and the explanation is the first of them", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            duration: fc.double({ min: 1, max: 1e5, noNaN: true }),
            read: fc.double({ min: 0, max: 1e12, noNaN: true }),
            tryNumber: fc.integer({ min: 1, max: 4 }),
          }),
          { maxLength: 30 },
        ),
        (items) => {
          const runs = items.map((item, index) =>
            syntheticRun(
              { durationSeconds: item.duration, diskReadBytes: item.read, tryNumber: item.tryNumber },
              index,
            ),
          );
          const result = explainInconsistency(runs);
          for (const [index, factor] of result.factors.entries()) {
            expect(Math.abs(factor.r)).toBeLessThanOrEqual(1);
            if (index > 0)
              expect(Math.abs(factor.r)).toBeLessThanOrEqual(Math.abs(result.factors[index - 1]!.r));
          }
          if (result.explainedBy && result.follows === null)
            expect(result.explainedBy).toBe(result.factors[0]);
          if (result.follows) expect(Math.abs(result.explainedBy!.r)).toBeGreaterThanOrEqual(0.4);
        },
      ),
    );
  });
});
