/**
 * acct(5) v3 records and their attribution (pure): comp_t decoding, records split across reads, parent
 * chains of processes that all exited between two ticks, pid reuse, and a split of the tick's CPU that
 * always adds up to the tree's.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACCT_V3_RECORD_BYTES,
  AcctFormatError,
  decodeCompT,
  encodeAcctRecord,
  encodeCompT,
  parseAcctRecords,
} from "../procfs/acct-format.js";
import { attributeExits, type KnownProcess, splitTickCpu } from "./exit-accounting.js";

describe("comp_t", () => {
  it("decodes a 13-bit mantissa with a base-8 exponent", () => {
    expect(decodeCompT(0)).toBe(0);
    expect(decodeCompT(8191)).toBe(8191);
    expect(decodeCompT((1 << 13) | 1024)).toBe(8192);
    expect(decodeCompT((2 << 13) | 100)).toBe(6400);
  });

  it("round-trips exactly below 8192 and within the kernel's rounding above", () => {
    fc.assert(
      fc.property(fc.nat(1e9), (value) => {
        const decoded = decodeCompT(encodeCompT(value));
        if (value <= 8191) expect(decoded).toBe(value);
        else expect(Math.abs(decoded - value) / value).toBeLessThan(1 / 1024);
      }),
    );
  });
});

describe("parseAcctRecords", () => {
  it("reads whole records and leaves a partial one for the next read", () => {
    const one = encodeAcctRecord({ pid: 42, ppid: 7, comm: "gzip", cpuTicks: 3, beginSeconds: 1000 });
    const two = encodeAcctRecord({ pid: 43, ppid: 42, comm: "sh", elapsedSeconds: 0.25, exitCode: 256 });
    const bytes = Buffer.concat([one, two.subarray(0, 10)]);
    const parsed = parseAcctRecords(bytes);
    expect(parsed.used).toBe(ACCT_V3_RECORD_BYTES);
    expect(parsed.records).toHaveLength(1);
    expect(parsed.records[0]).toMatchObject({
      pid: 42,
      ppid: 7,
      comm: "gzip",
      cpuTicks: 3,
      beginSeconds: 1000,
    });
    const rest = parseAcctRecords(two);
    expect(rest.records[0]).toMatchObject({ pid: 43, comm: "sh", exitCode: 256 });
    expect(rest.records[0]!.elapsedSeconds).toBeCloseTo(0.25);
  });

  it("names the offset of a record that is not v3", () => {
    const bad = encodeAcctRecord({ pid: 1, ppid: 0 });
    bad[1] = 2;
    expect(() => parseAcctRecords(bad, bad.length, 640)).toThrow(AcctFormatError);
    expect(() => parseAcctRecords(bad, bad.length, 640)).toThrow(/byte 640/);
  });
});

describe("attributeExits", () => {
  const shell: KnownProcess = { executionId: "e1", startMs: 1_000_000 };
  const known = (pid: number) => (pid === 100 ? shell : undefined);

  it("follows a chain of processes that all exited between two ticks to the tracked shell", () => {
    const records = [
      { pid: 202, ppid: 201, comm: "gzip", beginSeconds: 1001 },
      { pid: 201, ppid: 100, comm: "sh", beginSeconds: 1001, elapsedSeconds: 1 },
      { pid: 300, ppid: 55, comm: "cron", beginSeconds: 1001 },
    ].map((record) => parseAcctRecords(encodeAcctRecord(record)).records[0]!);
    const exits = attributeExits(records, known);
    expect(exits.map((exit) => [exit.record.comm, exit.executionId, exit.kind])).toEqual([
      ["gzip", "e1", "unseen"],
      ["sh", "e1", "unseen"],
    ]);
  });

  it("a tracked pid's record is its own only with the same start; a parent must predate its child", () => {
    const own = parseAcctRecords(encodeAcctRecord({ pid: 100, ppid: 1, beginSeconds: 1000 })).records[0]!;
    // pid 100 reused by a process started long after, whose parent is not tracked: not the shell's.
    const reused = parseAcctRecords(encodeAcctRecord({ pid: 100, ppid: 9, beginSeconds: 5000 })).records[0]!;
    // A child claiming pid 100 as parent but started before the shell: an older process with that pid.
    const older = parseAcctRecords(encodeAcctRecord({ pid: 7, ppid: 100, beginSeconds: 900 })).records[0]!;
    const exits = attributeExits([own, reused, older], known);
    expect(exits).toHaveLength(1);
    expect(exits[0]).toMatchObject({ kind: "own", executionId: "e1" });
  });
});

describe("splitTickCpu", () => {
  const item = fc.record({ usedSeconds: fc.double({ min: -1, max: 10, noNaN: true }) });

  it("always adds up to the tree's CPU", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.array(item, { maxLength: 10 }),
        fc.array(item, { maxLength: 10 }),
        (tree, live, exited) => {
          fc.pre(live.length + exited.length > 0);
          const split = splitTickCpu(tree, live, exited);
          const sum = [...split.live, ...split.exited].reduce((a, b) => a + b, 0);
          expect(sum).toBeCloseTo(tree, 6);
        },
      ),
    );
  });

  it("gives live processes what they used and the rest to the exited, by their records", () => {
    const split = splitTickCpu(1, [{ usedSeconds: 0.4 }], [{ usedSeconds: 0.1 }, { usedSeconds: 0.3 }]);
    expect(split.live[0]).toBeCloseTo(0.4);
    expect(split.exited[0]! + split.exited[1]!).toBeCloseTo(0.6);
    expect(split.exited[1]!).toBeGreaterThan(split.exited[0]!);
  });
});
