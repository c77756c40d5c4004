import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  openSpool,
  pidOfExitedProcess,
  rejectedRecords,
  replayAll,
  useTempDirs,
} from "../../test-support/spool-fixtures.js";

const tempDir = useTempDirs("rightsize-spool-unit-");

describe("spool", () => {
  it("replays records in append order across segments and removes them", () => {
    const dir = tempDir();
    const spool = openSpool(dir, { segmentBytes: 200 });
    const records = Array.from({ length: 50 }, (_, index) => ({ index, text: "x".repeat(index % 13) }));
    for (const record of records) expect(spool.append(record)).toBe(true);
    expect(spool.segments().length).toBeGreaterThan(5);
    expect(replayAll(spool)).toEqual(records);
    expect(spool.hasRecords()).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a new spool on the same folder finds what an earlier one left, and appends after it", () => {
    const dir = tempDir();
    const first = openSpool(dir, { sync: "rotate" });
    first.append({ n: 1 });
    first.append({ n: 2 });
    // No close: the process died. The page cache has the bytes, as after a real crash of the process.
    const second = openSpool(dir);
    expect(second.hasRecords()).toBe(true);
    second.append({ n: 3 });
    expect(replayAll(second)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("shares a folder: a live process's segments are left alone, a dead one's are adopted", () => {
    const dir = tempDir();
    // Segments written "by" other processes: the parent of this test (alive) and a finished child.
    const scratch = tempDir();
    const writer = openSpool(scratch);
    writer.append({ from: "live" });
    const [liveSource] = writer.segments();
    writer.append({ from: "dead" });
    const [, deadSource] = writer.segments();
    renameSync(liveSource!, join(dir, `segment-000000000001-${process.ppid}.spool`));
    renameSync(deadSource!, join(dir, `segment-000000000002-${pidOfExitedProcess()}.spool`));

    const spool = openSpool(dir);
    spool.append({ from: "me" });
    expect(replayAll(spool)).toEqual([{ from: "dead" }, { from: "me" }]);
    // New segments sort after every existing one, the live process's included.
    expect(readdirSync(dir)).toEqual([`segment-000000000001-${process.ppid}.spool`]);
  });

  it("refuses appends past its bound and counts them", () => {
    const dir = tempDir();
    const spool = openSpool(dir, { maxBytes: 1000 });
    let accepted = 0;
    for (let index = 0; index < 40; index++) if (spool.append({ index, pad: "y".repeat(40) })) accepted++;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(40);
    expect(spool.stats()).toMatchObject({ appendedRecords: accepted, droppedRecords: 40 - accepted });
    expect(spool.bytes).toBeLessThanOrEqual(1000);
    expect(replayAll(spool)).toHaveLength(accepted);
  });

  it("skips a torn tail and a corrupted middle line, keeping every good record", () => {
    const dir = tempDir();
    const spool = openSpool(dir);
    for (let n = 0; n < 5; n++) spool.append({ n });
    const [segment] = spool.segments();
    const lines = readFileSync(segment!, "utf8").split("\n");
    lines[2] = lines[2]!.replace('"n":2', '"n":9'); // bit rot: the checksum no longer matches
    writeFileSync(segment!, `${lines.join("\n")}0badc0de\t{"n":`); // and a torn last write
    const reopened = openSpool(dir);
    const contents = reopened.read(reopened.segments()[0]!);
    expect(contents.records).toEqual([{ n: 0 }, { n: 1 }, { n: 3 }, { n: 4 }]);
    expect(contents.corruptLines).toBe(2);
  });

  it("sets refused records aside in rejected/", () => {
    const dir = tempDir();
    const spool = openSpool(dir);
    expect(spool.reject({ bad: true })).toBe(join(dir, "rejected", "records.spool"));
    expect(rejectedRecords(dir)).toEqual([{ bad: true }]);
  });

  it("any truncation of a line is detected (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, cut) => {
        const dir = tempDir();
        const spool = openSpool(dir);
        spool.append(value);
        const [segment] = spool.segments();
        const text = readFileSync(segment!, "utf8");
        // Cut anywhere before the final newline: the line is torn.
        const at = cut % (text.length - 1);
        writeFileSync(segment!, text.slice(0, at));
        const contents = spool.read(segment!);
        rmSync(dir, { recursive: true, force: true });
        return contents.records.length === 0 && contents.corruptLines === (at === 0 ? 0 : 1);
      }),
      { numRuns: 200 },
    );
    // 200 spools with an fsync'd append each: seconds on a shared disk, past vitest's 5 s default.
  }, 60_000);
});
