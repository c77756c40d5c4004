import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HostReader, hostUsage, listWholeDisks } from "./host-reading.js";
import { ProcReader } from "./proc-reader.js";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function scratch(): string {
  const folder = mkdtempSync(join(tmpdir(), "rightsize-host-"));
  folders.push(folder);
  return folder;
}

describe("hostUsage", () => {
  const at = (
    atMs: number,
    busy: number,
    iowait: number,
    disks: Array<[string, number, number, number]>,
  ) => ({
    atMs,
    cpu: { busy, iowait, steal: 0 },
    disks: new Map(
      disks.map(([name, r, w, t]) => [name, { sectorsRead: r, sectorsWritten: w, ioTicksMs: t }]),
    ),
  });

  it("turns tick and sector counts into cores, the busiest disk's share and bytes", () => {
    const usage = hostUsage(
      at(0, 1000, 50, [
        ["vda", 100, 200, 1000],
        ["vdb", 0, 0, 0],
      ]),
      at(2000, 1300, 70, [
        ["vda", 300, 1200, 1500],
        ["vdb", 8, 0, 1900],
      ]),
    );
    expect(usage).toEqual({
      intervalSeconds: 2,
      cpuBusyCores: 1.5, // 300 ticks at 100 a second over 2 s
      cpuIowaitCores: 0.1,
      cpuStealCores: 0,
      diskBusyShare: 0.95, // vdb: 1.9 s of 2
      diskReadBytes: (200 + 8) * 512,
      diskWriteBytes: 1000 * 512,
    });
  });

  it("says unknown for a counter that went back and for a disk not seen before", () => {
    const usage = hostUsage(
      at(0, 1000, 50, [["vda", 100, 200, 1000]]),
      at(1000, 900, 60, [["vdb", 8, 8, 8]]),
    );
    expect(usage).toMatchObject({ cpuBusyCores: null, diskBusyShare: null, diskReadBytes: null });
    expect(usage?.cpuIowaitCores).toBeCloseTo(0.1);
    expect(hostUsage(at(5, 1, 1, []), at(5, 2, 2, []))).toBeNull();
  });

  it("never reports a disk busier than the whole interval", () => {
    const usage = hostUsage(at(0, 0, 0, [["vda", 0, 0, 0]]), at(1000, 0, 0, [["vda", 0, 0, 1040]]));
    expect(usage?.diskBusyShare).toBe(1);
  });
});

describe("HostReader", () => {
  it("reads the host's use between two ticks from /proc/stat and /proc/diskstats", () => {
    const proc = scratch();
    const write = (busy: number, sectors: number) => {
      writeFileSync(join(proc, "stat"), `cpu  ${busy} 0 0 900 10 0 0 0 0 0\nintr 5 1 2\n`);
      writeFileSync(join(proc, "diskstats"), ` 254 0 vda 1 0 ${sectors} 0 1 0 ${sectors} 0 0 ${sectors} 0\n`);
      writeFileSync(join(proc, "loadavg"), "0.50 0.40 0.30 1/100 4242\n");
    };
    write(100, 10);
    const reader = new HostReader(new ProcReader(), proc, new Set(["vda"]));
    expect(reader.read(1_000).usage).toBeNull();
    write(250, 510);
    const reading = reader.read(2_000);
    expect(reading.load1).toBe(0.5);
    expect(reading.usage).toMatchObject({
      intervalSeconds: 1,
      cpuBusyCores: 1.5,
      diskBusyShare: 0.5,
      diskReadBytes: 500 * 512,
      diskWriteBytes: 500 * 512,
    });
  });
});

describe("listWholeDisks", () => {
  it("keeps block devices backed by a device: no partitions, loop or zram", () => {
    const sys = scratch();
    for (const name of ["vda", "nvme0n1", "loop0", "zram0", "dm-0"])
      mkdirSync(join(sys, "block", name), { recursive: true });
    for (const name of ["vda", "nvme0n1"]) mkdirSync(join(sys, "block", name, "device"));
    expect([...listWholeDisks(sys)].sort()).toEqual(["nvme0n1", "vda"]);
    expect(listWholeDisks(join(sys, "missing")).size).toBe(0);
  });
});
