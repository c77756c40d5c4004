import { describe, expect, it } from "vitest";
import { demoTasks, SLOWED_RUN_MIN_RUNS, taskSeconds } from "./scenario.js";

const compress = demoTasks.find((task) => task.task === "compress_orders")!;
const index = demoTasks.find((task) => task.task === "build_index")!;

describe("taskSeconds", () => {
  it("slows the last run of a task given more input, once the demo has runs enough to diagnose it", () => {
    const runs = SLOWED_RUN_MIN_RUNS;
    expect(taskSeconds(compress, runs - 1, runs, 4)).toBe(4);
    expect(taskSeconds(compress, runs, runs, 4)).toBe(12);
    // Fewer runs: a slowed run would have too few comparable runs for a diagnosis, so none is slowed.
    expect(taskSeconds(compress, runs - 1, runs - 1, 4)).toBe(4);
    // Only the tasks that say so.
    expect(taskSeconds(index, runs, runs, 4)).toBe(12);
    expect(taskSeconds(index, runs - 1, runs, 4)).toBe(12);
  });
});
