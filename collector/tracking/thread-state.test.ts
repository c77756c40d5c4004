import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyThread, SYSCALL_TABLES, splitThreadTick, topEndpoints } from "./thread-state.js";

const x64 = SYSCALL_TABLES.x64;

describe("classifyThread", () => {
  it("classifies by state and system call", () => {
    expect(classifyThread("R", null, x64)).toEqual({ kind: "running" });
    expect(classifyThread("D", { kind: "syscall", nr: 74, args: [3, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "disk",
    });
    expect(classifyThread("S", { kind: "syscall", nr: 61, args: [-1, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "child",
    });
    expect(classifyThread("S", { kind: "syscall", nr: 45, args: [7, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "fd-read",
      fd: 7,
    });
    expect(classifyThread("S", { kind: "syscall", nr: 0, args: [3, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "fd-read",
      fd: 3,
    });
    expect(classifyThread("S", { kind: "syscall", nr: 232, args: [5, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "multiplex",
    });
    // nanosleep (35) and futex (202) are plain sleep.
    expect(classifyThread("S", { kind: "syscall", nr: 35, args: [0, 0, 0, 0, 0, 0] }, x64)).toEqual({
      kind: "idle",
    });
    expect(classifyThread("S", null, x64)).toEqual({ kind: "idle" });
    expect(classifyThread("S", { kind: "syscall", nr: 45, args: [7, 0, 0, 0, 0, 0] }, undefined)).toEqual({
      kind: "idle",
    });
  });
});

describe("splitThreadTick", () => {
  it("charges the rest of the tick to the blocked state", () => {
    expect(splitThreadTick(1, 0.25, 0.25, "net")).toEqual({
      onCpu: 0.25,
      cpuWait: 0.25,
      disk: 0,
      net: 0.5,
      child: 0,
      idle: 0,
    });
  });

  it("always adds up to the tick and never goes negative", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 10, noNaN: true }),
        fc.double({ min: -1, max: 20, noNaN: true }),
        fc.double({ min: -1, max: 20, noNaN: true }),
        fc.constantFrom("disk", "net", "child", "idle") as fc.Arbitrary<"disk" | "net" | "child" | "idle">,
        (interval, run, delay, blocked) => {
          const split = splitThreadTick(interval, run, delay, blocked);
          const values = Object.values(split);
          for (const value of values) expect(value).toBeGreaterThanOrEqual(0);
          expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(interval, 9);
        },
      ),
    );
  });
});

describe("topEndpoints", () => {
  it("orders by wait and keeps the top ones", () => {
    const waits = new Map([
      ["10.0.0.1:5432", 3],
      ["10.0.0.2:443", 7.12345],
      ["10.0.0.3:80", 1],
    ]);
    expect(topEndpoints(waits, 2)).toEqual([
      { endpoint: "10.0.0.2:443", waitSeconds: 7.123 },
      { endpoint: "10.0.0.1:5432", waitSeconds: 3 },
    ]);
  });
});
