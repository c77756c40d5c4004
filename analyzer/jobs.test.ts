/** Which night a job stands for: pure reading of BullMQ job fields. */
import type { Job } from "bullmq";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.js";
import { floorToMinute, nightOfJob } from "./jobs.js";

const config = loadConfig({ env: {} });
const job = (fields: Partial<Job>) =>
  ({ id: "1", name: "nightly", data: {}, opts: {}, timestamp: 0, ...fields }) as Job;

describe("nightOfJob", () => {
  it("a scheduled job's night ends when its scheduler fired it for, to the minute, whenever it runs", () => {
    const fired = Date.parse("2026-11-21T02:00:00.000Z");
    const night = nightOfJob(
      job({ opts: { prevMillis: fired } as Job["opts"], timestamp: fired - 5000 }),
      config,
    );
    expect(night).toEqual({ windowEnd: new Date(fired), windowDays: 14 });
  });

  it("without prevMillis: created time plus delay", () => {
    const night = nightOfJob(
      job({ timestamp: Date.parse("2026-11-21T01:59:00.000Z"), opts: { delay: 60_500 } }),
      config,
    );
    expect(night.windowEnd.toISOString()).toBe("2026-11-21T02:00:00.000Z");
  });

  it("an explicit window end and length win", () => {
    const night = nightOfJob(job({ data: { windowEnd: "2026-11-20T02:00:00Z", windowDays: 7 } }), config);
    expect(night).toEqual({ windowEnd: new Date("2026-11-20T02:00:00Z"), windowDays: 7 });
  });

  it("a window end that is not a date is bad data: not retried", () => {
    expect(() => nightOfJob(job({ data: { windowEnd: "tonight" } }), config)).toThrow(
      expect.objectContaining({
        name: "UnrecoverableError",
        message: expect.stringMatching(/'tonight' is not a date/),
      }),
    );
  });

  it("floors to the minute", () => {
    expect(floorToMinute(Date.parse("2026-11-21T02:00:59.999Z")).toISOString()).toBe(
      "2026-11-21T02:00:00.000Z",
    );
  });
});
