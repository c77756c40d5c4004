import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  countStarts,
  type ExecutionState,
  noteDeparted,
  type ProcessRecord,
  rewriteDeparted,
  takeDeparted,
  takeStarts,
} from "./execution-state.js";

/** The churn fields of a state, and nothing else: what these functions read and write. */
function churnState(): ExecutionState {
  return {
    departed: [],
    startedThisTick: 0,
    churnThisTick: false,
    lastChurnMs: 0,
  } as unknown as ExecutionState;
}

const record = (pid: number) => ({ pid }) as ProcessRecord;

describe("starts and departures of a tree", () => {
  it("counts starts until the sample takes them, and churns only for starts seen happening", () => {
    const execution = churnState();
    countStarts(execution, 2, null);
    expect(execution).toMatchObject({ startedThisTick: 2, churnThisTick: false, lastChurnMs: 0 });
    countStarts(execution, 1, 5_000);
    expect(execution).toMatchObject({ startedThisTick: 3, churnThisTick: true, lastChurnMs: 5_000 });
    expect(takeStarts(execution)).toBe(3);
    expect(execution).toMatchObject({ startedThisTick: 0, churnThisTick: false, lastChurnMs: 5_000 });
  });

  it("writes a departure once however many paths report it", () => {
    const execution = churnState();
    const gone = record(10);
    noteDeparted(execution, gone, 1_000);
    rewriteDeparted(execution, gone);
    noteDeparted(execution, record(11), 2_000);
    expect(execution.lastChurnMs).toBe(2_000);
    expect(takeDeparted(execution).map((departed) => departed.pid)).toEqual([10, 11]);
    expect(takeDeparted(execution)).toEqual([]);
    rewriteDeparted(execution, gone);
    expect(execution).toMatchObject({ departed: [gone], churnThisTick: true, lastChurnMs: 2_000 });
  });

  it("is changed by these functions only, in every collector module", () => {
    const folder = new URL("./", import.meta.url);
    const writes = readdirSync(folder)
      .filter((name) => name.endsWith(".ts") && !name.includes(".test.") && name !== "execution-state.ts")
      .flatMap((name) =>
        readFileSync(new URL(name, folder), "utf8")
          .split("\n")
          .map((line, index) => ({ at: `${name}:${index + 1}`, line }))
          .filter(({ line }) =>
            /\.(departed|startedThisTick|churnThisTick|lastChurnMs)\s*(=[^=]|\+=|-=|\+\+|--|\.push|\.splice)/.test(
              line,
            ),
          )
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(writes).toEqual([]);
  });
});
