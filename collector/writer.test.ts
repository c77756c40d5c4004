import { describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../common/errors.js";
import { isConnectionError, reviveBatch, WriteTimeoutError } from "./writer.js";

describe("isConnectionError", () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    "ECONNREFUSED",
    "ECONNRESET",
    "CONNECTION_CLOSED",
    "CONNECT_TIMEOUT",
    "57P01",
    "08006",
    "53300",
    "42P01",
  ])("%s means the database is not there (or not ready): retry", (code) =>
    expect(isConnectionError(withCode(code))).toBe(true),
  );

  it.each(["23505", "22P02", "23514", "42703"])("%s means the data is refused", (code) =>
    expect(isConnectionError(withCode(code))).toBe(false),
  );

  it("looks through causes and knows the project's own unavailability errors", () => {
    expect(isConnectionError(new Error("query failed", { cause: withCode("ECONNRESET") }))).toBe(true);
    expect(isConnectionError(new DatabaseUnavailableError("down"))).toBe(true);
    expect(isConnectionError(new WriteTimeoutError("slow"))).toBe(true);
    expect(isConnectionError(new Error("plain"))).toBe(false);
    expect(isConnectionError("a string")).toBe(false);
  });
});

describe("reviveBatch", () => {
  it("turns a spooled batch's date strings back into dates and keeps the rest", () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    const spooled = JSON.parse(
      JSON.stringify({
        hosts: [{ id: "h", hostname: "h", firstSeen: at }],
        executions: [{ id: "e", startedAt: at, endedAt: null, status: "running" }],
        samples: [{ executionId: "e", ts: at, cpuCores: 0.5, netRxBytes: null }],
        processes: [{ executionId: "e", pid: 1, startTicks: 2, firstSeen: at, lastSeen: at }],
      }),
    );
    const batch = reviveBatch(spooled);
    expect(batch.hosts[0]?.firstSeen).toEqual(at);
    expect(batch.executions[0]).toEqual({ id: "e", startedAt: at, endedAt: null, status: "running" });
    expect(batch.samples[0]).toEqual({ executionId: "e", ts: at, cpuCores: 0.5, netRxBytes: null });
    expect(batch.processes[0]?.lastSeen).toEqual(at);
  });

  it("refuses a record that is not a batch, naming the missing list", () => {
    expect(() => reviveBatch({ hosts: [] })).toThrow("spooled batch has no 'executions' list");
    expect(() => reviveBatch(null)).toThrow("spooled batch has no 'hosts' list");
  });
});
