import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cfsLimitCores,
  coresFromShares,
  coresFromWeight,
  parseBlkioServiceBytes,
  parseCpuMax,
  parseCpuStatV1,
  parseCpuStatV2,
  parseFlatKeyed,
  parseIoStat,
  parseMemoryLimit,
  parseOomKills,
  requestCoresFromCgroup,
  sharesFromCores,
  weightFromShares,
} from "./cgroup-parse.js";

describe("cgroup v2 files", () => {
  it("reads cpu.max as a limit in cores", () => {
    expect(parseCpuMax("200000 100000\n")).toEqual({ limitCores: 2, periodUs: 100000 });
    expect(parseCpuMax("50000 100000")).toEqual({ limitCores: 0.5, periodUs: 100000 });
    expect(parseCpuMax("max 100000\n")).toEqual({ limitCores: null, periodUs: 100000 });
    expect(parseCpuMax("")).toEqual({ limitCores: null, periodUs: null });
  });

  it("reads cpu.stat usage and throttling, unknown when absent", () => {
    const stat = parseCpuStatV2(
      "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 100\nnr_throttled 7\nthrottled_usec 350000\n",
    );
    expect(stat).toEqual({
      usageSeconds: 2.5,
      throttling: { periods: 100, throttledPeriods: 7, throttledSeconds: 0.35 },
    });
    // Without the cpu controller only usage is there: throttling is unknown, not 0.
    expect(parseCpuStatV2("usage_usec 10\nuser_usec 5\nsystem_usec 5\n").throttling).toEqual({
      periods: null,
      throttledPeriods: null,
      throttledSeconds: null,
    });
  });

  it("reads memory.max and memory.events", () => {
    expect(parseMemoryLimit("max\n")).toBeNull();
    expect(parseMemoryLimit("536870912\n")).toBe(536870912);
    expect(parseOomKills("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n")).toBe(1);
    expect(parseOomKills("low 0\n")).toBeNull();
  });

  it("sums io.stat over devices", () => {
    expect(
      parseIoStat(
        "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=10 wbytes=20 rios=1 wios=1\n",
      ),
    ).toEqual({ readBytes: 1010, writeBytes: 2020 });
  });
});

describe("cgroup v1 files", () => {
  it("reads the CFS quota as a limit in cores", () => {
    expect(cfsLimitCores(150000, 100000)).toBe(1.5);
    expect(cfsLimitCores(-1, 100000)).toBeNull();
    expect(cfsLimitCores(null, 100000)).toBeNull();
  });

  it("treats the page-aligned 63-bit memory limit as no limit", () => {
    expect(parseMemoryLimit("9223372036854771712\n")).toBeNull();
    expect(parseMemoryLimit("2147483648\n")).toBe(2147483648);
  });

  it("reads cpu.stat throttled_time in seconds and memory.oom_control", () => {
    expect(parseCpuStatV1("nr_periods 10\nnr_throttled 4\nthrottled_time 2000000000\n")).toEqual({
      periods: 10,
      throttledPeriods: 4,
      throttledSeconds: 2,
    });
    expect(parseOomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")).toBe(2);
    // Kernels before 4.13 have no oom_kill line: unknown.
    expect(parseOomKills("oom_kill_disable 0\nunder_oom 0\n")).toBeNull();
  });

  it("sums blkio service bytes per direction, ignoring the Total line", () => {
    const text = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 100\n8:0 Async 0\n8:0 Total 12288\nTotal 12288\n";
    expect(parseBlkioServiceBytes(text)).toEqual({ readBytes: 4096, writeBytes: 8192 });
  });

  it("skips lines that are not key value pairs", () => {
    expect([...parseFlatKeyed("a 1\nb\nc 2 3\nd x\n")]).toEqual([["a", 1]]);
  });
});

describe("Kubernetes CPU request mapping", () => {
  it("maps shares to cores as the kubelet sets them (cores × 1024)", () => {
    expect(coresFromShares(2048)).toBe(2);
    expect(coresFromShares(512)).toBe(0.5);
    expect(sharesFromCores(0.25)).toBe(256);
  });

  it("inverts runc's shares → weight conversion", () => {
    // runc: weight = 1 + ((shares - 2) * 9999) / 262142; 1 core = 1024 shares → weight ≈ 40.
    expect(Math.round(weightFromShares(1024))).toBe(40);
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 64, noNaN: true }), (cores) => {
        const weight = weightFromShares(sharesFromCores(cores));
        expect(coresFromWeight(weight)).toBeCloseTo(sharesFromCores(cores) / 1024, 6);
      }),
    );
  });

  it("reads no request from a default weight outside Kubernetes", () => {
    expect(requestCoresFromCgroup({ shares: 1024 }, "/user.slice")).toBeNull();
    expect(requestCoresFromCgroup({ shares: 1024 }, "/kubepods/burstable/pod1/abc")).toBe(1);
    expect(requestCoresFromCgroup({ shares: 512 }, "/docker/abc")).toBe(0.5);
    expect(requestCoresFromCgroup({ weight: 100 }, "/system.slice")).toBeNull();
    expect(requestCoresFromCgroup({ weight: weightFromShares(2048) }, "/kubepods.slice/x")).toBeCloseTo(2, 6);
    expect(requestCoresFromCgroup({}, "/")).toBeNull();
  });
});
