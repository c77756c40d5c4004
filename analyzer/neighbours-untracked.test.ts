import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type HostTick,
  rankNeighbours,
  UNTRACKED_LABEL,
  untrackedUse,
  type UsageSample,
} from "./neighbours.js";

const tick = (second: number, cpuBusyCores: number | null, diskBytes: number | null): HostTick => ({
  endMs: second * 1000,
  intervalSeconds: 1,
  cpuBusyCores,
  diskBytes,
});
const sample = (second: number, cpuCores: number, diskBytes: number): UsageSample => ({
  endMs: second * 1000,
  intervalSeconds: 1,
  cpuCores,
  diskBytes,
});

describe("untrackedUse", () => {
  it("is the host's use less every tracked execution's within each tick, never below zero", () => {
    const suspect = untrackedUse(
      [tick(1, 2, 1000), tick(2, 1.5, null), tick(3, null, 10)],
      [
        [sample(1, 0.5, 100), sample(2, 1, 0), sample(3, 1, 50)],
        [sample(1, 0.25, 0), sample(2, 1, 0)],
      ],
    );
    expect(suspect).toMatchObject({ label: UNTRACKED_LABEL, executionId: null, runId: null });
    expect(suspect.samples).toEqual([
      { endMs: 1000, intervalSeconds: 1, cpuCores: 1.25, diskBytes: 900 },
      { endMs: 2000, intervalSeconds: 1, cpuCores: 0, diskBytes: null },
      { endMs: 3000, intervalSeconds: 1, cpuCores: null, diskBytes: 0 },
    ]);
  });

  it("splits a tracked sample that straddles two host ticks by its overlap", () => {
    const half = { endMs: 1500, intervalSeconds: 1, cpuCores: 1, diskBytes: 0 };
    const suspect = untrackedUse([tick(1, 1, 0), tick(2, 1, 0)], [[half]]);
    expect(suspect.samples.map((each) => each.cpuCores)).toEqual([0.5, 0.5]);
  });

  it("adds back to the host's use with the tracked use wherever the host used at least that (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 4, noNaN: true }), fc.double({ min: 0, max: 4, noNaN: true })),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (pairs) => {
          // Host busy = tracked + extra on every tick: the untracked use is exactly the extra.
          const host = pairs.map(([tracked, extra], index) => tick(index + 1, tracked + extra, null));
          const tracked = pairs.map(([used], index) => sample(index + 1, used, 0));
          const suspect = untrackedUse(host, [tracked]);
          suspect.samples.forEach((each, index) => expect(each.cpuCores).toBeCloseTo(pairs[index]![1], 9));
        },
      ),
    );
  });

  it("ranks as a neighbour: a host busy beyond its tasks while the run waited for a CPU", () => {
    const victim = Array.from({ length: 20 }, (_, index) => ({
      endMs: (index + 1) * 1000,
      intervalSeconds: 1,
      cpuWaitSeconds: index % 2 === 0 ? 0.8 : 0.1,
      diskWaitSeconds: 0,
    }));
    const host = victim.map((_, index) => tick(index + 1, index % 2 === 0 ? 2 : 0.6, 0));
    const own = victim.map((_, index) => sample(index + 1, 0.5, 0));
    const quietNeighbour = victim.map((_, index) => sample(index + 1, 0.1, 0));
    const [first, second] = rankNeighbours(victim, "cpu", [
      { label: "airflow/etl/quiet", executionId: "n", runId: "r", samples: quietNeighbour },
      untrackedUse(host, [own, quietNeighbour]),
    ]);
    expect(first?.label).toBe(UNTRACKED_LABEL);
    expect(first?.cpuSeconds).toBeCloseTo(10 * 1.4 + 10 * 0, 6);
    expect(first?.strength).toBe("strong");
    expect(second?.label).toBe("airflow/etl/quiet");
  });
});
