import { describe, expect, it } from "vitest";
import {
  cpuCheckWarning,
  finishCpuCheck,
  newCpuCheck,
  recordCpuReading,
  relativeCpuError,
  summarizeCpuAccuracy,
} from "./cpu-self-check.js";

/** A tree reading of `seconds` of CPU (whole ticks). */
const ticks = (seconds: number) => ({ ticks: Math.round(seconds * 100) });
const cgroup = (seconds: number) => ({ cpuSeconds: seconds });

describe("relativeCpuError", () => {
  it("is (tree − reference) / reference, negative when the tree missed CPU", () => {
    expect(relativeCpuError(9.8, 10)).toBeCloseTo(-0.02, 12);
    expect(relativeCpuError(10.5, 10)).toBeCloseTo(0.05, 12);
    expect(relativeCpuError(2, 2)).toBe(0);
  });

  it("does not judge a reference under one CPU second, where a tick is over 1 %", () => {
    expect(relativeCpuError(0.5, 0.99)).toBeNull();
    expect(relativeCpuError(0, 0)).toBeNull();
    expect(relativeCpuError(1, Number.NaN)).toBeNull();
    expect(relativeCpuError(0.9, 1)).toBeCloseTo(-0.1, 12);
  });
});

describe("summarizeCpuAccuracy", () => {
  const check = (tree: number, reference: number) => ({
    treeCpuSeconds: tree,
    referenceCpuSeconds: reference,
  });

  it("gives the median and the error farthest from zero, with its sign, of the judged executions", () => {
    const summary = summarizeCpuAccuracy([
      check(9.9, 10), // −1 %
      check(19.4, 20), // −3 %
      check(4.1, 4), // +2.5 %
      check(0.1, 0.5), // not judged
    ]);
    expect(summary.checked).toBe(4);
    expect(summary.judged).toBe(3);
    expect(summary.median).toBeCloseTo(-0.01, 12);
    expect(summary.worst).toBeCloseTo(-0.03, 12);
    expect(summary.overThreshold).toBe(2);
  });

  it("averages the middle two of an even count and keeps a positive worst", () => {
    const summary = summarizeCpuAccuracy([check(10, 10), check(10.1, 10), check(10.6, 10), check(9.9, 10)]);
    expect(summary.median).toBeCloseTo(0.005, 12);
    expect(summary.worst).toBeCloseTo(0.06, 12);
  });

  it("has no figures without judged executions", () => {
    expect(summarizeCpuAccuracy([])).toEqual({
      checked: 0,
      judged: 0,
      median: null,
      worst: null,
      overThreshold: 0,
    });
    expect(summarizeCpuAccuracy([check(0.2, 0.3)])).toMatchObject({ checked: 1, judged: 0, median: null });
  });
});

describe("an execution's self-check", () => {
  it("sums the tree as its samples do: a dip (a child exited, not reaped yet) adds nothing, the rise after it adds", () => {
    const state = newCpuCheck(true);
    recordCpuReading(state, ticks(1), 0, null);
    recordCpuReading(state, ticks(0.8), 0, null);
    recordCpuReading(state, ticks(1.5), 0, null);
    expect(state.treeSeconds).toBeCloseTo(1.7, 12);
    // Without a reference there is nothing to store.
    expect(finishCpuCheck(state)).toBeNull();
  });

  it("compares the tree with its own cgroup from the first reading of a task found late", () => {
    const state = newCpuCheck(false);
    recordCpuReading(state, ticks(50), 0, cgroup(52));
    recordCpuReading(state, ticks(53), 0, cgroup(55.1));
    recordCpuReading(state, ticks(56), 0, cgroup(58.4));
    expect(finishCpuCheck(state)).toEqual({
      treeCpuSeconds: 6,
      referenceCpuSeconds: expect.closeTo(6.4, 9),
      referenceCpuSource: "cgroup",
    });
  });

  it("keeps the tree's figure paired with the last cgroup reading when the cgroup goes first", () => {
    const state = newCpuCheck(true);
    recordCpuReading(state, ticks(1), 0, cgroup(1.05));
    recordCpuReading(state, ticks(2), 0, cgroup(2.1));
    recordCpuReading(state, ticks(2.5), 0, null);
    expect(finishCpuCheck(state)).toMatchObject({ treeCpuSeconds: 2, referenceCpuSeconds: 2.1 });
  });

  it("leaves out what the root's exact final total added, and checks the tree against wait4", () => {
    const state = newCpuCheck(true);
    recordCpuReading(state, ticks(1.9), 0, null);
    state.wait4Seconds = 2.0;
    // The last tick carries the root with the kernel's 2.0 s, 0.1 s beyond its readings.
    recordCpuReading(state, ticks(2.0), 10, null);
    expect(finishCpuCheck(state)).toEqual({
      treeCpuSeconds: expect.closeTo(1.9, 9),
      referenceCpuSeconds: 2.0,
      referenceCpuSource: "wait4",
    });
  });

  it("prefers the cgroup to wait4 where the task has both", () => {
    const state = newCpuCheck(true);
    recordCpuReading(state, ticks(3), 0, cgroup(3.2));
    state.wait4Seconds = 3.1;
    recordCpuReading(state, ticks(3), 0, cgroup(3.25));
    expect(finishCpuCheck(state)).toMatchObject({
      referenceCpuSource: "cgroup",
      referenceCpuSeconds: 3.25,
    });
  });
});

describe("cpuCheckWarning", () => {
  it("says nothing within 2 % or under a second of CPU", () => {
    expect(
      cpuCheckWarning({ treeCpuSeconds: 9.85, referenceCpuSeconds: 10, referenceCpuSource: "wait4" }, 3),
    ).toBeNull();
    expect(
      cpuCheckWarning({ treeCpuSeconds: 0.5, referenceCpuSeconds: 0.9, referenceCpuSource: "wait4" }, 3),
    ).toBeNull();
  });

  it("names both figures, what was missing and the processes seen", () => {
    const warning = cpuCheckWarning(
      { treeCpuSeconds: 9.5, referenceCpuSeconds: 10, referenceCpuSource: "cgroup" },
      12,
    );
    expect(warning?.fields).toEqual({
      treeCpuSeconds: 9.5,
      referenceCpuSeconds: 10,
      referenceCpuSource: "cgroup",
      missingCpuSeconds: 0.5,
      relativeError: -0.05,
      processesSeen: 12,
    });
    expect(warning?.message).toBe(
      "the process tree summed 9.5 s of CPU, 0.5 s less than the 10 s its own cgroup counted (-5.0 %, 12 processes seen)",
    );
    const over = cpuCheckWarning(
      { treeCpuSeconds: 2.77, referenceCpuSeconds: 2.7, referenceCpuSource: "wait4" },
      13,
    );
    expect(over?.message).toContain(
      "0.07 s more than the 2.7 s the kernel gave on reaping it (wait4) (+2.6 %",
    );
  });
});
