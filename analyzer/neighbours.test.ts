import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { correlationOrNull } from "./statistics.js";
import {
  MIN_OVERLAP_TICKS,
  neighbourSentence,
  rankNeighbours,
  strengthOf,
  type Suspect,
  type UsageSample,
  usageWithinTicks,
  type VictimTick,
} from "./neighbours.js";

const t0 = Date.UTC(2026, 10, 1, 2, 0, 0);

/** One-second ticks of the waiting run; `diskWait(i)` is the wall seconds of tick i blocked on disk. */
function victim(count: number, diskWait: (index: number) => number): VictimTick[] {
  return Array.from({ length: count }, (_, index) => ({
    endMs: t0 + (index + 1) * 1000,
    intervalSeconds: 1,
    cpuWaitSeconds: 0,
    diskWaitSeconds: diskWait(index),
  }));
}

function suspect(
  label: string,
  from: number,
  count: number,
  use: (index: number) => Partial<UsageSample>,
): Suspect {
  return {
    label,
    executionId: label,
    runId: "r1",
    samples: Array.from({ length: count }, (_, index) => ({
      // Ticks half a second off the victim's: the overlap is weighed, not matched by timestamp.
      endMs: t0 + (from + index + 1) * 1000 + 500,
      intervalSeconds: 1,
      cpuCores: 0,
      diskBytes: 0,
      ...use(from + index),
    })),
  };
}

/** Bursts of 20 s on, 20 s off. */
const burst = (index: number) => (Math.floor(index / 20) % 2 === 0 ? 1 : 0);

describe("rankNeighbours", () => {
  it("ranks the neighbour whose writes line up with the run's disk wait first, with strong evidence", () => {
    const ticks = victim(200, (index) => 0.1 + 0.8 * burst(index));
    const writer = suspect("airflow/etl/bulk_write", 0, 200, (index) => ({
      cpuCores: 0.2,
      diskBytes: 50e6 * burst(index) + 1e6,
    }));
    const cruncher = suspect("airflow/etl/crunch", 0, 200, (index) => ({
      cpuCores: 1 + 0.5 * ((index * 7) % 3),
      diskBytes: 1e6 * ((index * 5) % 4),
    }));
    const late = suspect("airflow/etl/later", 400, 50, () => ({ cpuCores: 4, diskBytes: 1e9 }));
    const ranks = rankNeighbours(ticks, "disk", [cruncher, late, writer]);
    expect(ranks.map((rank) => rank.label)).toEqual(["airflow/etl/bulk_write", "airflow/etl/crunch"]);
    expect(ranks[0]!.strength).toBe("strong");
    expect(ranks[0]!.correlation!).toBeGreaterThan(0.9);
    expect(ranks[1]!.strength).not.toBe("strong");
    // 200 samples overlapping 199.5 s of the run: the first half second of its first sample falls before.
    expect(ranks[0]!.overlapSeconds).toBeCloseTo(199.5, 6);
    expect(neighbourSentence(ranks[0]!, "disk")).toMatch(
      /^airflow\/etl\/bulk_write \(run r1\) overlapped 3m 20s on the same host, using 39\.9 s of CPU \(0\.2 cores on average\) and 4\.\d GiB of disk; its disk use against this run's disk wait: r = 0\.9\d over 200 ticks, strong evidence\.$/,
    );
  });

  it("where no correlation is evidence, the suspect that used most while the run waited comes first", () => {
    // A host so busy the run waits about as much whatever its neighbours do: noise lines up a little
    // (r below 0.2) with a light task, not with the hog that took three times its CPU.
    const noise = (index: number) => ((index * 7) % 5) / 50;
    const ticks = victim(40, (index) => 0.7 + noise(index));
    const light = suspect("generic/p/light", 0, 40, (index) => ({ cpuCores: 0.3 + noise(index) / 20 }));
    const hog = suspect("generic/p/hog", 0, 40, (index) => ({ cpuCores: 0.9 + noise(index * 3) / 20 }));
    const ranks = rankNeighbours(ticks, "cpu", [light, hog]);
    expect(ranks.map((rank) => rank.strength)).toEqual(["none", "none"]);
    expect(ranks[0]!.label).toBe("generic/p/hog");
    expect(ranks[0]!.cpuSeconds).toBeGreaterThan(2 * ranks[1]!.cpuSeconds);
  });

  it("a suspect of several runs names them all", () => {
    const ticks = victim(20, (index) => (index % 2) * 0.5);
    const hogs = {
      ...suspect("generic/p/hog", 0, 20, (index) => ({ cpuCores: index % 2 })),
      runIds: ["h1", "h2"],
    };
    const [rank] = rankNeighbours(ticks, "cpu", [{ ...hogs, executionId: null, runId: null }]);
    expect(rank!.runIds).toEqual(["h1", "h2"]);
    expect(neighbourSentence(rank!, "cpu")).toMatch(
      /^generic\/p\/hog \(runs h1, h2\) overlapped 19\.5 s on the same host/,
    );
  });

  it("a run whose waiting never varied gives no evidence", () => {
    const ticks = victim(50, () => 0.5);
    const [rank] = rankNeighbours(ticks, "disk", [
      suspect("x/y/z", 0, 50, (index) => ({ diskBytes: index })),
    ]);
    expect(rank!.correlation).toBeNull();
    expect(rank!.strength).toBe("none");
    expect(neighbourSentence(rank!, "disk")).toMatch(/no correlation can be computed over 50 ticks/);
  });

  it("too short an overlap, or use that falls as the run waits, is no evidence", () => {
    expect(strengthOf(0.99, MIN_OVERLAP_TICKS - 1)).toBe("none");
    expect(strengthOf(-0.9, 100)).toBe("none");
    expect(strengthOf(0.45, 100)).toBe("moderate");
    expect(strengthOf(0.25, 100)).toBe("weak");
  });
});

const arbitraryTicks = fc
  .array(fc.double({ min: 0.1, max: 3, noNaN: true }), { minLength: 1, maxLength: 40 })
  .map((intervals) => {
    let end = t0;
    return intervals.map((interval) => {
      end += interval * 1000;
      return { endMs: end, intervalSeconds: interval, cpuWaitSeconds: 0, diskWaitSeconds: 0 };
    });
  });
const arbitrarySamples = fc
  .array(
    fc.record({
      offset: fc.double({ min: -20, max: 80, noNaN: true }),
      interval: fc.double({ min: 0.1, max: 3, noNaN: true }),
      cores: fc.double({ min: 0, max: 16, noNaN: true }),
      bytes: fc.double({ min: 0, max: 1e9, noNaN: true }),
    }),
    { maxLength: 30 },
  )
  .map((items) =>
    items.map((item) => ({
      endMs: t0 + item.offset * 1000,
      intervalSeconds: item.interval,
      cpuCores: item.cores,
      diskBytes: item.bytes,
    })),
  );

describe("neighbours (properties)", () => {
  it("a suspect's use within the run's ticks is at most what it used, and all of it when it lay within them", () => {
    fc.assert(
      fc.property(arbitraryTicks, arbitrarySamples, (ticks, samples) => {
        const usage = usageWithinTicks(ticks, samples);
        const within = usage.reduce((sum, use) => sum + use.cpuSeconds, 0);
        const total = samples.reduce((sum, sample) => sum + sample.cpuCores * sample.intervalSeconds, 0);
        expect(within).toBeLessThanOrEqual(total + 1e-6);
        const start = ticks[0]!.endMs - ticks[0]!.intervalSeconds * 1000;
        const end = ticks.at(-1)!.endMs;
        const inside = samples.filter(
          (sample) => sample.endMs - sample.intervalSeconds * 1000 >= start && sample.endMs <= end,
        );
        if (inside.length === samples.length) expect(within).toBeCloseTo(total, 4);
        for (const use of usage) expect(use.coveredSeconds).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("the ranking does not depend on the suspects' order, and r stays within [-1, 1]", () => {
    const arbitrarySuspects = fc.array(
      arbitrarySamples.map((samples) => ({ samples })),
      { maxLength: 5 },
    );
    fc.assert(
      fc.property(
        arbitraryTicks,
        arbitrarySuspects,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
        (ticks, items, waits) => {
          const waiting = ticks.map((tick, index) => ({
            ...tick,
            diskWaitSeconds: waits[index]! * tick.intervalSeconds,
          }));
          const suspects = items.map((item, index) => ({
            label: `s${index}`,
            executionId: null,
            runId: null,
            samples: item.samples,
          }));
          const ranks = rankNeighbours(waiting, "disk", suspects);
          const reversed = rankNeighbours(waiting, "disk", [...suspects].reverse());
          expect(reversed.map((rank) => rank.label)).toEqual(ranks.map((rank) => rank.label));
          for (const rank of ranks) {
            if (rank.correlation !== null) {
              expect(rank.correlation).toBeGreaterThanOrEqual(-1);
              expect(rank.correlation).toBeLessThanOrEqual(1);
            }
          }
        },
      ),
    );
  });

  it("correlationOrNull is null for a constant series", () => {
    expect(correlationOrNull([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(correlationOrNull([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 9);
  });
});
