/** Cgroup readers over a fixture cgroup v2 tree and /proc/PID/cgroup file laid out in a temp folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  cgroupLineage,
  detectCgroupLayout,
  locateCgroup,
  readCgroupCounters,
  readCgroupResources,
} from "./cgroup.js";
import { ProcReader } from "./proc-reader.js";

const root = mkdtempSync(join(tmpdir(), "rightsize-cgroup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

describe("cgroup v2", () => {
  const cgroupRoot = join(root, "v2");
  const procRoot = join(root, "proc");
  const pod = "/kubepods.slice/kubepods-burstable.slice/pod1/cri-abc";
  write(join(cgroupRoot, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  write(join(procRoot, "4242", "cgroup"), `0::${pod}\n`);
  const folder = join(cgroupRoot, pod);
  write(join(folder, "cpu.max"), "150000 100000\n");
  // runc: 2 cores = 2048 shares → weight 1 + (2046 × 9999) / 262142 ≈ 79.
  write(join(folder, "cpu.weight"), "79\n");
  write(join(folder, "memory.max"), "2147483648\n");
  write(join(folder, "memory.min"), "0\n");
  write(
    join(folder, "cpu.stat"),
    "usage_usec 7500000\nuser_usec 7000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 9\nthrottled_usec 1200000\n",
  );
  write(join(folder, "memory.events"), "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
  write(join(folder, "memory.peak"), "1073741824\n");
  write(join(folder, "io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  write(
    join(folder, "cpu.pressure"),
    "some avg10=1.00 avg60=0.50 avg300=0.10 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
  );
  const reader = new ProcReader();

  it("finds the task's cgroup from /proc/PID/cgroup", () => {
    const layout = detectCgroupLayout(cgroupRoot);
    expect(layout).toEqual({ kind: "v2", root: cgroupRoot });
    const cgroup = locateCgroup(reader, procRoot, 4242, layout);
    expect(cgroup).toMatchObject({ version: 2, unified: folder, path: pod });
    expect(locateCgroup(reader, procRoot, 9999, layout)).toBeNull();
  });

  it("reads requests and limits", () => {
    const cgroup = locateCgroup(reader, procRoot, 4242, detectCgroupLayout(cgroupRoot))!;
    const resources = readCgroupResources(reader, cgroup, detectCgroupLayout(cgroupRoot)!);
    expect(resources.limitCpuCores).toBe(1.5);
    expect(resources.requestCpuCores).toBeCloseTo(2, 1);
    expect(resources.limitMemoryBytes).toBe(2147483648);
    expect(resources.requestMemoryBytes).toBeNull();
  });

  it("takes the tightest limit along the lineage: a pod's limits bind its container", () => {
    const podFolder = join(cgroupRoot, "/kubepods.slice/kubepods-burstable.slice/pod2");
    const container = join(podFolder, "cri-def");
    write(join(podFolder, "memory.max"), "1073741824\n");
    write(join(podFolder, "cpu.max"), "max 100000\n");
    write(join(container, "memory.max"), "max\n");
    write(join(container, "cpu.max"), "50000 100000\n");
    write(join(cgroupRoot, "kubepods.slice", "cpu.max"), "400000 100000\n");
    write(join(procRoot, "4343", "cgroup"), "0::/kubepods.slice/kubepods-burstable.slice/pod2/cri-def\n");
    const layout = detectCgroupLayout(cgroupRoot)!;
    const cgroup = locateCgroup(reader, procRoot, 4343, layout)!;
    expect(readCgroupResources(reader, cgroup, layout)).toMatchObject({
      limitMemoryBytes: 1073741824,
      limitCpuCores: 0.5,
    });
  });

  it("reads counters, unknown where a file is missing", () => {
    const cgroup = locateCgroup(reader, procRoot, 4242, detectCgroupLayout(cgroupRoot))!;
    const counters = readCgroupCounters(reader, cgroup);
    expect(counters).toMatchObject({
      cpuSeconds: 7.5,
      throttling: { periods: 40, throttledPeriods: 9, throttledSeconds: 1.2 },
      oomKills: 1,
      memoryPeakBytes: 1073741824,
      readBytes: 4096,
      writeBytes: 8192,
    });
    expect(counters.pressure.cpu?.some?.totalUs).toBe(123456);
    expect(counters.pressure.memory).toBeNull();
  });
});

describe("cgroupLineage", () => {
  it("walks up to the v2 root, with it", () => {
    expect(cgroupLineage("/sys/fs/cgroup/a/b", { kind: "v2", root: "/sys/fs/cgroup" })).toEqual([
      "/sys/fs/cgroup/a/b",
      "/sys/fs/cgroup/a",
      "/sys/fs/cgroup",
    ]);
  });

  it("stops at a v1 controller's mount, and at the unified mount on a hybrid host", () => {
    const layout = { kind: "v1", root: "/sys/fs/cgroup", unified: "/sys/fs/cgroup/unified" } as const;
    expect(cgroupLineage("/sys/fs/cgroup/memory/process_api/x/run-1", layout)).toEqual([
      "/sys/fs/cgroup/memory/process_api/x/run-1",
      "/sys/fs/cgroup/memory/process_api/x",
      "/sys/fs/cgroup/memory/process_api",
      "/sys/fs/cgroup/memory",
    ]);
    expect(cgroupLineage("/sys/fs/cgroup/cpu,cpuacct/x", layout)).toEqual([
      "/sys/fs/cgroup/cpu,cpuacct/x",
      "/sys/fs/cgroup/cpu,cpuacct",
    ]);
    expect(cgroupLineage("/sys/fs/cgroup/unified/user.slice/x", layout)).toEqual([
      "/sys/fs/cgroup/unified/user.slice/x",
      "/sys/fs/cgroup/unified/user.slice",
      "/sys/fs/cgroup/unified",
    ]);
  });

  it("keeps a folder outside the hierarchy to itself", () => {
    expect(cgroupLineage("/elsewhere/x", { kind: "v2", root: "/sys/fs/cgroup" })).toEqual(["/elsewhere/x"]);
  });
});
