/**
 * Host-wide readings of one tick, shared by every execution's sample: load, the pid counter, the host's
 * pressure stall totals (their change since the last tick), and what the whole host used over the tick
 * (CPU from /proc/stat, whole disks from /proc/diskstats) for the host's own samples.
 */
import { existsSync, readdirSync } from "node:fs";
import type { ProcReader } from "./proc-reader.js";
import {
  CLOCK_TICKS_PER_SECOND,
  type DiskCounters,
  type HostCpuTicks,
  parseDiskstats,
  parseHostCpu,
  parseLoadavg,
  parsePressure,
} from "./procfs-parse.js";

/** What the whole host used between two readings; null fields are unknown. */
export interface HostUsage {
  intervalSeconds: number;
  cpuBusyCores: number | null;
  cpuIowaitCores: number | null;
  cpuStealCores: number | null;
  /** The busiest whole disk's share of the interval with I/O in flight, 0–1. */
  diskBusyShare: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
}

export interface HostReading {
  load1: number | null;
  lastPid: number | null;
  /** Stall time since the last reading, µs (null: unknown or first reading). */
  pressure: { cpu: number | null; memory: number | null; io: number | null };
  /** Since the last reading (null on the first one). */
  usage: HostUsage | null;
}

/** /proc/diskstats counts 512-byte sectors whatever the device's own sector size. */
const DISKSTATS_SECTOR_BYTES = 512;

/**
 * The host's whole disks: /sys/block entries backed by a device (vda, sda, nvme0n1), so partitions, loop,
 * zram and device-mapper volumes, whose I/O is already inside a whole disk's, are not counted twice. Read
 * once: a disk attached later is seen after a restart.
 */
export function listWholeDisks(sysRoot: string): Set<string> {
  try {
    return new Set(
      readdirSync(`${sysRoot}/block`).filter((name) => existsSync(`${sysRoot}/block/${name}/device`)),
    );
  } catch {
    return new Set();
  }
}

/** Counter change, null when either side is missing or the counter went back (a reset). */
function grew(now: number | undefined, before: number | undefined): number | null {
  return now === undefined || before === undefined || now < before ? null : now - before;
}

/** The host's usage between two readings of /proc/stat's cpu line and the whole disks' counters. */
export function hostUsage(
  before: { atMs: number; cpu: HostCpuTicks | null; disks: Map<string, DiskCounters> },
  after: { atMs: number; cpu: HostCpuTicks | null; disks: Map<string, DiskCounters> },
): HostUsage | null {
  const intervalSeconds = (after.atMs - before.atMs) / 1000;
  if (!(intervalSeconds > 0)) return null;
  const cores = (field: keyof HostCpuTicks) => {
    const ticks = grew(after.cpu?.[field], before.cpu?.[field]);
    return ticks === null ? null : ticks / CLOCK_TICKS_PER_SECOND / intervalSeconds;
  };
  let busiest: number | null = null;
  let sectorsRead: number | null = null;
  let sectorsWritten: number | null = null;
  for (const [name, counters] of after.disks) {
    const previous = before.disks.get(name);
    const busyMs = grew(counters.ioTicksMs, previous?.ioTicksMs);
    const read = grew(counters.sectorsRead, previous?.sectorsRead);
    const written = grew(counters.sectorsWritten, previous?.sectorsWritten);
    if (busyMs !== null) busiest = Math.max(busiest ?? 0, Math.min(busyMs / 1000 / intervalSeconds, 1));
    if (read !== null) sectorsRead = (sectorsRead ?? 0) + read;
    if (written !== null) sectorsWritten = (sectorsWritten ?? 0) + written;
  }
  return {
    intervalSeconds,
    cpuBusyCores: cores("busy"),
    cpuIowaitCores: cores("iowait"),
    cpuStealCores: cores("steal"),
    diskBusyShare: busiest,
    diskReadBytes: sectorsRead === null ? null : sectorsRead * DISKSTATS_SECTOR_BYTES,
    diskWriteBytes: sectorsWritten === null ? null : sectorsWritten * DISKSTATS_SECTOR_BYTES,
  };
}

export class HostReader {
  private previous: Map<string, number> | null = null;
  private previousUse: { atMs: number; cpu: HostCpuTicks | null; disks: Map<string, DiskCounters> } | null =
    null;

  constructor(
    private readonly reader: ProcReader,
    private readonly procRoot: string,
    /**
     * Whole disks to count, from {@link listWholeDisks}, when the host's usage is wanted (the `collect`
     * daemon's host samples); omitted: no usage is read.
     */
    private readonly disks?: ReadonlySet<string>,
  ) {}

  /** Seconds since boot, from /proc/uptime (null: unreadable). */
  uptimeSeconds(): number | null {
    const seconds = Number(this.reader.read(`${this.procRoot}/uptime`)?.split(" ")[0]);
    return Number.isFinite(seconds) ? seconds : null;
  }

  /** Seconds since a process started (`startTicks`: its start, clock ticks after boot). */
  ageSeconds(startTicks: number): number | null {
    const seconds = this.uptimeSeconds();
    return seconds === null ? null : seconds - startTicks / CLOCK_TICKS_PER_SECOND;
  }

  /** This tick's readings; `atMs`: the tick's time, for the usage's interval. */
  read(atMs: number): HostReading {
    const load = parseLoadavg(this.reader.readKept(`${this.procRoot}/loadavg`) ?? "");
    const totals = new Map<string, number>();
    const pressure = { cpu: null as number | null, memory: null as number | null, io: null as number | null };
    for (const name of ["cpu", "memory", "io"] as const) {
      const text = this.reader.readKept(`${this.procRoot}/pressure/${name}`);
      const some = text === undefined ? null : parsePressure(text).some;
      if (some) {
        totals.set(name, some.totalUs);
        const before = this.previous?.get(name);
        if (before !== undefined) pressure[name] = some.totalUs - before;
      }
    }
    this.previous = totals;
    return {
      load1: load?.load1 ?? null,
      lastPid: load?.lastPid ?? null,
      pressure,
      usage: this.readUsage(atMs),
    };
  }

  /** The host's use since the last reading, when it is wanted (null on the first reading). */
  private readUsage(atMs: number): HostUsage | null {
    if (this.disks === undefined) return null;
    const use = {
      atMs,
      cpu: parseHostCpu(this.reader.readKept(`${this.procRoot}/stat`) ?? ""),
      disks:
        this.disks.size === 0
          ? new Map<string, DiskCounters>()
          : parseDiskstats(this.reader.readKept(`${this.procRoot}/diskstats`) ?? "", this.disks),
    };
    const usage = this.previousUse === null ? null : hostUsage(this.previousUse, use);
    this.previousUse = use;
    return usage;
  }
}

/** The kernel's page size, from this process's own RSS in pages and in kB. */
export function measurePageSize(reader: ProcReader, procRoot: string): number {
  const statm = reader.read(`${procRoot}/self/statm`);
  const status = reader.read(`${procRoot}/self/status`);
  const pages = Number(statm?.split(" ")[1]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status ?? "")?.[1]);
  if (!(pages > 0 && rssKb > 0)) return 4096;
  const estimate = (rssKb * 1024) / pages;
  // The two reads are not simultaneous; snap to the page sizes Linux uses (4, 16, 64 KiB).
  return [4096, 16384, 65536].reduce((best, size) =>
    Math.abs(size - estimate) < Math.abs(best - estimate) ? size : best,
  );
}
