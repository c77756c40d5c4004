/**
 * Host-wide readings of one tick, shared by every execution's sample: load, the pid counter, and the
 * host's pressure stall totals (their change since the last tick).
 */
import type { ProcReader } from "./proc-reader.js";
import { CLOCK_TICKS_PER_SECOND, parseLoadavg, parsePressure } from "./procfs-parse.js";

export interface HostReading {
  load1: number | null;
  lastPid: number | null;
  /** Stall time since the last reading, µs (null: unknown or first reading). */
  pressure: { cpu: number | null; memory: number | null; io: number | null };
}

export class HostReader {
  private previous: Map<string, number> | null = null;

  constructor(
    private readonly reader: ProcReader,
    private readonly procRoot: string,
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

  read(): HostReading {
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
    return { load1: load?.load1 ?? null, lastPid: load?.lastPid ?? null, pressure };
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
