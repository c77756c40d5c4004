import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeTcpAddress,
  isAttributionEnvKey,
  parseCmdline,
  parseEnviron,
  parseHostStat,
  parseIo,
  parseDiskstats,
  parseHostCpu,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseNetTcp,
  parsePressure,
  parseProcCgroup,
  parseSchedstat,
  parseStat,
  parseStatus,
  parseSyscall,
  socketInode,
} from "./procfs-parse.js";

/** A real /proc/PID/stat line (bash on kernel 6.x), fields after comm. */
const STAT_TAIL =
  "S 10063 10067 10067 0 -1 4194560 2736 42775 0 5 7 2 26 9 20 0 1 0 56947 5124096 965 18446744073709551615 94268671508480 94268672297885 140733400044432 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 3 0 0 94268672531184 94268672579428 94269134368768 140733400046459 140733400046474 140733400046474 140733400047594 0";

function statLine(pid: number, comm: string, tail = STAT_TAIL): string {
  return `${pid} (${comm}) ${tail}\n`;
}

describe("parseStat", () => {
  it("reads the fields of a real line", () => {
    const stat = parseStat(statLine(10067, "bash"));
    expect(stat).toEqual({
      pid: 10067,
      comm: "bash",
      state: "S",
      ppid: 10063,
      utimeTicks: 7,
      stimeTicks: 2,
      cutimeTicks: 26,
      cstimeTicks: 9,
      numThreads: 1,
      startTicks: 56947,
      vsizeBytes: 5124096,
      rssPages: 965,
      blkioDelayTicks: 3,
    });
  });

  it("keeps comm names with spaces, parentheses and newlines whole", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4_194_304 }),
        // The kernel caps comm at 15 bytes but any text must parse: spaces, ")", "(", newlines included.
        fc.string({ unit: fc.constantFrom("a", " ", "(", ")", "\n", "x", ")) ", "é"), maxLength: 30 }),
        (pid, comm) => {
          const stat = parseStat(statLine(pid, comm));
          expect(stat?.pid).toBe(pid);
          expect(stat?.comm).toBe(comm);
          expect(stat?.ppid).toBe(10063);
          expect(stat?.startTicks).toBe(56947);
        },
      ),
    );
  });

  it("returns null for a line cut anywhere, never wrong numbers", () => {
    const full = statLine(42, "a (b) c");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length - 1 }), (cut) => {
        expect(parseStat(full.slice(0, cut))).toBeNull();
      }),
    );
    expect(parseStat(full)?.rssPages).toBe(965);
  });

  it("returns null for garbage instead of throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const stat = parseStat(text);
        if (stat !== null) expect(Number.isFinite(stat.utimeTicks)).toBe(true);
      }),
    );
  });

  it("says unknown for the block-I/O delay on kernels that omit it", () => {
    const tail = STAT_TAIL.split(" ").slice(0, 30).join(" ");
    expect(parseStat(statLine(1, "init", tail))?.blkioDelayTicks).toBeNull();
  });
});

describe("parseStatus", () => {
  it("reads memory in bytes and leaves missing fields unknown", () => {
    const status = parseStatus(
      "Name:\tpython3\nState:\tS (sleeping)\nPPid:\t12\nThreads:\t4\nUid:\t0\t0\t0\t0\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n",
    );
    expect(status).toEqual({
      name: "python3",
      state: "S",
      ppid: 12,
      threads: 4,
      uid: 0,
      rssBytes: 1024 * 1024,
      peakRssBytes: 2048 * 1024,
      swapBytes: null,
    });
    // A kernel thread has no Vm* lines: unknown, not 0.
    expect(parseStatus("Name:\tkthreadd\nState:\tS (sleeping)\n").rssBytes).toBeNull();
  });

  it("never invents a number from a truncated file", () => {
    const text = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length }), (cut) => {
        const status = parseStatus(text.slice(0, cut));
        if (status.rssBytes !== null) expect(status.rssBytes).toBe(1024 * 1024);
        if (status.peakRssBytes !== null)
          expect([2048 * 1024, 2 * 1024, 20 * 1024, 204 * 1024]).toContain(status.peakRssBytes);
      }),
    );
  });
});

describe("parseIo, parseSchedstat, parseCmdline, parseEnviron", () => {
  it("reads /proc/PID/io and says unknown for a missing key", () => {
    expect(
      parseIo(
        "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
      ),
    ).toEqual({
      readBytes: 4096,
      writeBytes: 8192,
      cancelledWriteBytes: 0,
      rchar: 6976,
      wchar: 0,
    });
    expect(parseIo("rchar: 1\n").writeBytes).toBeNull();
  });

  it("reads schedstat and rejects a cut one", () => {
    expect(parseSchedstat("26763014 16054122 91\n")).toEqual({
      runNs: 26763014,
      delayNs: 16054122,
      slices: 91,
    });
    expect(parseSchedstat("26763014 160")).toBeNull();
    expect(parseSchedstat("")).toBeNull();
  });

  it("splits argv at NULs and keeps a rewritten title whole", () => {
    expect(parseCmdline("python3\0-c\0print('a b')\0")).toEqual(["python3", "-c", "print('a b')"]);
    expect(parseCmdline("airflow task runner: dag task run 12")).toEqual([
      "airflow task runner: dag task run 12",
    ]);
    expect(parseCmdline("")).toEqual([]);
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom("a", " ", "=", "é"), minLength: 1 }), { minLength: 1 }),
        (argv) => {
          expect(parseCmdline(`${argv.join("\0")}\0`)).toEqual(argv);
        },
      ),
    );
  });

  it("keeps only the attribution keys of an environment", () => {
    const env = parseEnviron(
      "PATH=/bin\0AWS_SECRET_ACCESS_KEY=abc\0RIGHTSIZE_TASK=t\0AIRFLOW_CTX_TRY_NUMBER=2\0PREFECT__FLOW_RUN_ID=x=y\0PREFECT_API_KEY=k\0",
    );
    expect(env).toEqual({ RIGHTSIZE_TASK: "t", AIRFLOW_CTX_TRY_NUMBER: "2", PREFECT__FLOW_RUN_ID: "x=y" });
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => !k.includes("=") && !k.includes("\0")),
          fc.string().filter((v) => !v.includes("\0")),
        ),
        (vars) => {
          const text = Object.entries(vars)
            .map(([k, v]) => `${k}=${v}`)
            .join("\0");
          for (const key of Object.keys(parseEnviron(text))) expect(isAttributionEnvKey(key)).toBe(true);
        },
      ),
    );
  });
});

describe("parseSyscall", () => {
  it("reads a blocked call, a running thread and one outside a call", () => {
    expect(parseSyscall("45 0x3 0x7f 0x1000 0x0 0x0 0x0 0x7ffe 0x7fd4\n")).toEqual({
      kind: "syscall",
      nr: 45,
      args: [3, 0x7f, 0x1000, 0, 0, 0],
    });
    expect(parseSyscall("running\n")).toEqual({ kind: "running" });
    expect(parseSyscall("-1 0x7ffe 0x7fd4\n")).toEqual({ kind: "none" });
    expect(parseSyscall("45 0x3")).toBeNull();
    expect(parseSyscall("")).toBeNull();
  });

  it("maps fd links to socket inodes", () => {
    expect(socketInode("socket:[12345]")).toBe(12345);
    expect(socketInode("pipe:[12345]")).toBeNull();
    expect(socketInode("/var/log/x")).toBeNull();
  });
});

describe("host files", () => {
  it("reads /proc/stat", () => {
    const stat = parseHostStat(
      "cpu  20196 0 6638 99311 946 0 281 19 0 0\ncpu0 9252 0 2671 51516 73 0 79 9 0 0\nctxt 1\nbtime 1795304628\nprocesses 12834\nprocs_running 2\nprocs_blocked 0\n",
    );
    expect(stat).toEqual({
      cpuTotalTicks: 20196 + 6638 + 99311 + 946 + 281 + 19,
      cpuIdleTicks: 99311 + 946,
      processes: 12834,
      procsRunning: 2,
      procsBlocked: 0,
      bootTimeSeconds: 1795304628,
    });
    expect(parseHostStat("").processes).toBeNull();
  });

  it("reads only /proc/stat's cpu line for the host's busy, iowait and steal ticks", () => {
    expect(
      parseHostCpu("cpu  9860 5 4394 38431 258 7 95 26 3 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2 3\n"),
    ).toEqual({
      busy: 9860 + 5 + 4394 + 7 + 95 + 26,
      iowait: 258,
      steal: 26,
    });
    // Kernels before 2.6.11 had no steal column: no answer rather than a wrong one.
    expect(parseHostCpu("cpu  1 2 3 4 5 6 7\n")).toBeNull();
    expect(parseHostCpu("cpu0 1 2 3 4 5 6 7 8\n")).toBeNull();
    expect(parseHostCpu("cpu  1 2 x 4 5 6 7 8\n")).toBeNull();
    expect(parseHostCpu("")).toBeNull();
  });

  it("reads the named devices' sectors and busy time from /proc/diskstats", () => {
    const text = [
      "   7       0 loop0 10 0 80 0 0 0 0 0 0 4 0 0 0 0 0 0 0",
      " 254       0 vda 45866 7710 1878274 4357 36509 47523 4519552 17126 0 5968 22482 10470 32 778656 681 6672 316",
      " 254       1 vda1 45000 7000 1800000 4000 36000 47000 4500000 17000 0 5900 22000",
      " 259       0 nvme0n1 1 0 8 0 1 0 16 0 0 2",
      " 259       1 short 1 2 3",
    ].join("\n");
    expect(parseDiskstats(text, new Set(["vda", "nvme0n1", "short"]))).toEqual(
      new Map([
        ["vda", { sectorsRead: 1878274, sectorsWritten: 4519552, ioTicksMs: 5968 }],
        ["nvme0n1", { sectorsRead: 8, sectorsWritten: 16, ioTicksMs: 2 }],
      ]),
    );
  });

  it("reads meminfo in bytes", () => {
    const info = parseMeminfo(
      "MemTotal:       24576000 kB\nMemAvailable:   1000 kB\nHugePages_Total:       0\n",
    );
    expect(info.get("MemTotal")).toBe(24576000 * 1024);
    expect(info.get("HugePages_Total")).toBe(0);
    expect(info.has("SwapTotal")).toBe(false);
  });

  it("reads loadavg with the last pid", () => {
    expect(parseLoadavg("0.36 0.61 0.33 1/145 12119\n")).toEqual({
      load1: 0.36,
      load5: 0.61,
      load15: 0.33,
      runnable: 1,
      total: 145,
      lastPid: 12119,
    });
    expect(parseLoadavg("0.36 0.61")).toBeNull();
  });

  it("reads pressure with and without a full line", () => {
    const cpu = parsePressure(
      "some avg10=3.54 avg60=3.97 avg300=4.82 total=31596633\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    expect(cpu.some).toEqual({ avg10: 3.54, avg60: 3.97, avg300: 4.82, totalUs: 31596633 });
    expect(cpu.full?.totalUs).toBe(0);
    expect(parsePressure("some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n").full).toBeNull();
    expect(parsePressure("some avg10=1.00").some).toBeNull();
  });

  it("reads /proc/PID/cgroup for v1, v2 and hybrid", () => {
    expect(parseProcCgroup("4:memory:/process_api/95cb\n2:cpu,cpuacct:/\n0::/user.slice\n")).toEqual([
      { hierarchyId: 4, controllers: ["memory"], path: "/process_api/95cb" },
      { hierarchyId: 2, controllers: ["cpu", "cpuacct"], path: "/" },
      { hierarchyId: 0, controllers: [], path: "/user.slice" },
    ]);
  });
});

describe("network files", () => {
  it("decodes IPv4 and IPv6 addresses", () => {
    expect(decodeTcpAddress("0100007F:1F90")).toBe("127.0.0.1:8080");
    expect(decodeTcpAddress("00000000000000000000000001000000:0016")).toBe("[::1]:22");
    expect(decodeTcpAddress("0000000000000000FFFF00000100007F:1538")).toBe("127.0.0.1:5432");
    expect(decodeTcpAddress("zz")).toBeNull();
  });

  it("reads sockets by inode, skipping malformed lines", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5142 1 00000000cd3dcde2 100 0 0 10 0",
      "   1: 0100007F:9C40 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 7777 1 0000000000000000 20 4 30 10 -1",
      "   2: broken",
    ].join("\n");
    const sockets = parseNetTcp(text);
    expect(sockets.size).toBe(2);
    expect(sockets.get(7777)).toEqual({
      inode: 7777,
      local: "127.0.0.1:40000",
      remote: "127.0.0.1:5432",
      state: 1,
    });
    expect(sockets.get(5142)?.state).toBe(10);
  });

  it("sums non-loopback interface bytes", () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  100     1    0    0    0     0          0         0      200     2    0    0    0     0       0          0
  eth0: 1000    10    0    0    0     0          0         0     3000    30    0    0    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual({ rxBytes: 1000, txBytes: 3000 });
    expect(parseNetDev(text.split("\n").slice(0, 3).join("\n"))).toBeNull();
  });
});
