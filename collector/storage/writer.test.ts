import { describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../../common/errors.js";
import { silentLogger } from "../../common/logger.js";
import type { NewExecution } from "../../db/queries/executions.js";
import { openSpool, rejectedRecords, useTempDirs } from "../../test-support/spool-fixtures.js";
import { testExecution, testHost, testProcess, testSample } from "../../test-support/writer-test-rows.js";
import { executionProblem, reviveBatch } from "./writer-batch.js";
import { isConnectionError, RefusedRows, SetAside, WriteTimeoutError } from "./writer-set-aside.js";

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

  it("reads a batch spooled before host samples existed as one without them", () => {
    const batch = reviveBatch({ hosts: [], executions: [], samples: [], processes: [] });
    expect(batch.hostSamples).toEqual([]);
    const at = "2026-01-02T03:04:05.678Z";
    const withHost = reviveBatch({ ...batch, hostSamples: [{ hostId: "h", ts: at, intervalSeconds: 1 }] });
    expect(withHost.hostSamples[0]?.ts).toEqual(new Date(at));
    expect(() => reviveBatch({ ...batch, hostSamples: {} })).toThrow(
      "spooled batch has no 'hostSamples' list",
    );
  });

  it("refuses a record that is not a batch, naming the missing list", () => {
    expect(() => reviveBatch({ hosts: [] })).toThrow("spooled batch has no 'executions' list");
    expect(() => reviveBatch(null)).toThrow("spooled batch has no 'hosts' list");
  });
});

describe("executionProblem", () => {
  const valid = () => testExecution("host-1");

  it("accepts a well-formed execution", () => {
    expect(executionProblem(valid())).toBeNull();
  });

  it.each([
    [{ id: "not-a-uuid" }, "id is not a uuid"],
    [{ pipeline: "etl\u0000daily" }, "pipeline holds a NUL character"],
    [{ runId: undefined }, "run_id is missing"],
    [{ tryNumber: 99_999_999_999 }, "try_number = 99999999999 is not a whole number from 0 to 2147483647"],
    [{ mapIndex: -2 }, "map_index = -2 is not a whole number from -1 to 2147483647"],
    [{ exitCode: 1.5 }, "exit_code = 1.5 is not a whole number from -2147483648 to 2147483647"],
    [{ rootStartTicks: -1 }, "root_start_ticks = -1 is not a whole number from 0 to 2^53"],
    [{ startedAt: new Date(Number.NaN) }, "started_at is not a time"],
  ])("names the column a hostile value breaks: %o", (overrides, problem) => {
    expect(executionProblem({ ...valid(), ...(overrides as Partial<NewExecution>) })).toBe(problem);
  });
});

describe("RefusedRows", () => {
  it("sets an execution's samples and processes aside with it, and keeps the others", () => {
    const refused = new RefusedRows();
    const bad = testExecution("host-1");
    const good = testExecution("host-1");
    refused.refuseExecution(bad, new RangeError("try_number out of range"));
    const at = new Date();
    const kept = refused.ofStoredExecutions("samples", [
      testSample(bad.id, at, 0),
      testSample(good.id, at, 0),
    ]);
    expect(kept.map((row) => row.executionId)).toEqual([good.id]);
    expect(refused.ofStoredExecutions("processes", [testProcess(bad.id, 7, at, 1)])).toEqual([]);
    expect(refused.isExecutionRefused(bad.id)).toBe(true);
    expect(refused.isExecutionRefused(good.id)).toBe(false);
    expect(refused.size).toBe(3);
    expect(refused.reasons).toEqual([
      "try_number out of range",
      "its execution was set aside",
      "its execution was set aside",
    ]);
  });

  it("throws a connection error instead of setting the row aside: the whole batch is retried", () => {
    const refused = new RefusedRows();
    const lost = Object.assign(new Error("gone"), { code: "ECONNRESET" });
    expect(() => refused.refuse("hosts", testHost(), lost)).toThrow(lost);
    expect(() => refused.refuseExecution(testExecution("host-1"), lost)).toThrow(lost);
    expect(refused.size).toBe(0);
  });

  it("keeps at most 20 reasons, however many rows it sets aside", () => {
    const refused = new RefusedRows();
    const at = new Date();
    for (let tick = 0; tick < 50; tick++) refused.refuse("samples", testSample("e", at, tick), `row ${tick}`);
    expect(refused.size).toBe(50);
    expect(refused.reasons).toHaveLength(20);
  });
});

describe("SetAside", () => {
  const tempDir = useTempDirs("rightsize-set-aside-");
  function setAsideIn(): { setAside: SetAside; rejected: () => unknown[] } {
    const dir = tempDir();
    const spool = openSpool(dir);
    return { setAside: new SetAside(spool, silentLogger), rejected: () => rejectedRecords(dir) };
  }

  it("keeps a batch's refused rows as one record with their reasons, and counts them", () => {
    const { setAside, rejected } = setAsideIn();
    const refused = new RefusedRows();
    setAside.rows(refused);
    expect(setAside.stats()).toEqual({
      rejectedBatches: 0,
      setAsideExecutions: 0,
      setAsideSamples: 0,
      setAsideProcesses: 0,
    });
    const execution = testExecution("host-1");
    refused.refuseExecution(execution, new RangeError("too big"));
    refused.ofStoredExecutions("samples", [testSample(execution.id, new Date(0), 1)]);
    setAside.rows(refused);
    expect(setAside.stats()).toMatchObject({ setAsideExecutions: 1, setAsideSamples: 1, rejectedBatches: 0 });
    const [record] = rejected() as Array<Record<string, unknown[]>>;
    expect(Object.keys(record!)).toEqual([
      "hosts",
      "executions",
      "samples",
      "processes",
      "hostSamples",
      "reasons",
    ]);
    expect(record!.executions).toHaveLength(1);
    expect(record!.reasons).toEqual(["too big", "its execution was set aside"]);
  });

  it("sets a spooled batch aside on its third refusal, not before; a stored batch starts over", () => {
    const { setAside, rejected } = setAsideIn();
    expect(setAside.refusedAgain("s#0")).toBe(false);
    expect(setAside.refusedAgain("s#0")).toBe(false);
    expect(setAside.refusedAgain("s#0")).toBe(true);
    // Counting starts over after it was set aside, and after a batch was stored.
    expect(setAside.refusedAgain("s#0")).toBe(false);
    expect(setAside.refusedAgain("s#1")).toBe(false);
    setAside.stored("s#1");
    expect(setAside.refusedAgain("s#1")).toBe(false);
    expect(setAside.refusedAgain("s#1")).toBe(false);
    setAside.batch({ not: "a batch" }, "s#0", new Error("refused"));
    expect(setAside.stats().rejectedBatches).toBe(1);
    expect(rejected()).toEqual([{ not: "a batch" }]);
  });
});
