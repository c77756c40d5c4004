/**
 * A task's cgroup: where it is (v2, v1 or hybrid), what it requests and limits, its counters, and
 * (for `rightsize run`) making one of its own. Reads go through {@link ProcReader}; parsing is in
 * cgroup-parse.ts.
 */
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type CgroupResources,
  cfsLimitCores,
  parseBlkioServiceBytes,
  parseCpuMax,
  parseCpuStatV1,
  parseCpuStatV2,
  parseIoStat,
  parseMemoryLimit,
  parseOomKills,
  parseSingleNumber,
  requestCoresFromCgroup,
  type Throttling,
} from "./cgroup-parse.js";
import type { ProcReader } from "./proc-reader.js";
import { type Pressure, parsePressure, parseProcCgroup } from "./procfs-parse.js";

/** Folders of one task's cgroup, per controller; absent where the controller is not mounted. */
export interface TaskCgroup {
  version: 1 | 2;
  /** v2 folder (also set on a v1 host with a unified hierarchy, for pressure). */
  unified: string | null;
  cpu: string | null;
  cpuacct: string | null;
  memory: string | null;
  blkio: string | null;
  /** The path inside the hierarchy, for the execution row (v2 path, else the memory or cpu one). */
  path: string;
}

export type CgroupLayout =
  { kind: "v2"; root: string } | { kind: "v1"; root: string; unified: string | null };

export function detectCgroupLayout(cgroupRoot: string): CgroupLayout | null {
  if (existsSync(join(cgroupRoot, "cgroup.controllers"))) return { kind: "v2", root: cgroupRoot };
  if (existsSync(join(cgroupRoot, "cpu")) || existsSync(join(cgroupRoot, "memory"))) {
    const unified = join(cgroupRoot, "unified");
    return {
      kind: "v1",
      root: cgroupRoot,
      unified: existsSync(join(unified, "cgroup.procs")) ? unified : null,
    };
  }
  return null;
}

/** Where a process's cgroups are, from /proc/PID/cgroup; null when the process is gone or no cgroup fs. */
export function locateCgroup(
  reader: ProcReader,
  procRoot: string,
  pid: number,
  layout: CgroupLayout | null,
): TaskCgroup | null {
  if (layout === null) return null;
  const text = reader.read(`${procRoot}/${pid}/cgroup`);
  if (text === undefined) return null;
  const memberships = parseProcCgroup(text);
  const v2 = memberships.find((entry) => entry.hierarchyId === 0);
  if (layout.kind === "v2") {
    if (!v2) return null;
    const folder = join(layout.root, v2.path);
    return {
      version: 2,
      unified: folder,
      cpu: null,
      cpuacct: null,
      memory: null,
      blkio: null,
      path: v2.path,
    };
  }
  const folderOf = (controller: string): string | null => {
    const entry = memberships.find((item) => item.controllers.includes(controller));
    if (!entry) return null;
    // Controllers co-mounted as "cpu,cpuacct" still get per-name symlinks on systemd hosts.
    const mount = join(layout.root, entry.controllers.join(","));
    const base = existsSync(mount) ? mount : join(layout.root, controller);
    return join(base, entry.path);
  };
  const memoryPath = memberships.find((item) => item.controllers.includes("memory"))?.path;
  const cpuPath = memberships.find((item) => item.controllers.includes("cpu"))?.path;
  return {
    version: 1,
    unified: layout.unified && v2 ? join(layout.unified, v2.path) : null,
    cpu: folderOf("cpu"),
    cpuacct: folderOf("cpuacct"),
    memory: folderOf("memory"),
    blkio: folderOf("blkio"),
    path: memoryPath ?? cpuPath ?? v2?.path ?? "/",
  };
}

function readNumber(reader: ProcReader, folder: string | null, file: string): number | null {
  if (folder === null) return null;
  const text = reader.read(join(folder, file));
  return text === undefined ? null : parseSingleNumber(text);
}

function readText(reader: ProcReader, folder: string | null, file: string, keep = false): string | undefined {
  if (folder === null) return undefined;
  const path = join(folder, file);
  return keep ? reader.readKept(path) : reader.read(path);
}

/**
 * A cgroup's folder and every cgroup above it in its hierarchy, nearest first, up to the hierarchy's root
 * (`layout.root` on v2; on v1 the controller's mount under it). A limit set above a task's cgroup binds
 * it too: a Kubernetes pod's above its container's, a systemd slice's above the service, the cgroup a
 * `run` was started in above the one `run` makes for its command.
 */
export function cgroupLineage(folder: string, layout: CgroupLayout): string[] {
  const root =
    layout.kind === "v1" && layout.unified && folder.startsWith(layout.unified)
      ? layout.unified
      : layout.root;
  const v1Mounts = layout.kind === "v1" && root === layout.root;
  const folders = [folder];
  if (!folder.startsWith(`${root}/`)) return folders;
  for (let current = folder; ;) {
    const parent = dirname(current);
    if (parent === current || (v1Mounts ? parent === root : current === root)) break;
    folders.push(parent);
    current = parent;
  }
  return folders;
}

/** The smallest of the limits set along a folder's lineage; null where none sets one. */
function tightest(
  reader: ProcReader,
  folder: string | null,
  layout: CgroupLayout,
  limitOf: (folder: string) => number | null,
): number | null {
  if (folder === null) return null;
  let limit: number | null = null;
  for (const each of cgroupLineage(folder, layout)) {
    const value = limitOf(each);
    if (value !== null && (limit === null || value < limit)) limit = value;
  }
  return limit;
}

/**
 * The requests a cgroup sets and the limits that bind it (source "cgroup"); null where none is set. The
 * limits are the tightest along the cgroup's lineage ({@link cgroupLineage}): the kernel enforces each
 * ancestor's memory.max and cpu.max on everything below it. Requests (weights, shares, memory.min) are
 * the cgroup's own: they set its share among its siblings, not a bound.
 */
export function readCgroupResources(
  reader: ProcReader,
  cgroup: TaskCgroup,
  layout: CgroupLayout,
): CgroupResources {
  if (cgroup.version === 2) {
    const memoryLow = readText(reader, cgroup.unified, "memory.min");
    return {
      requestCpuCores: requestCoresFromCgroup(
        { weight: readNumber(reader, cgroup.unified, "cpu.weight") },
        cgroup.path,
      ),
      limitCpuCores: tightest(reader, cgroup.unified, layout, (folder) => {
        const text = readText(reader, folder, "cpu.max");
        return text === undefined ? null : parseCpuMax(text).limitCores;
      }),
      limitMemoryBytes: tightest(reader, cgroup.unified, layout, (folder) => {
        const text = readText(reader, folder, "memory.max");
        return text === undefined ? null : parseMemoryLimit(text);
      }),
      // memory.min is what Kubernetes sets from the memory request with the MemoryQoS feature; 0 = unset.
      requestMemoryBytes: memoryLow === undefined ? null : parseMemoryLimit(memoryLow) || null,
    };
  }
  return {
    requestCpuCores: requestCoresFromCgroup(
      { shares: readNumber(reader, cgroup.cpu, "cpu.shares") },
      cgroup.path,
    ),
    limitCpuCores: tightest(reader, cgroup.cpu, layout, (folder) =>
      cfsLimitCores(
        readNumber(reader, folder, "cpu.cfs_quota_us"),
        readNumber(reader, folder, "cpu.cfs_period_us"),
      ),
    ),
    limitMemoryBytes: tightest(reader, cgroup.memory, layout, (folder) => {
      const text = readText(reader, folder, "memory.limit_in_bytes");
      return text === undefined ? null : parseMemoryLimit(text);
    }),
    requestMemoryBytes: null,
  };
}

/** Cumulative counters of a cgroup; null where the controller or file is missing. */
export interface CgroupCounters {
  cpuSeconds: number | null;
  throttling: Throttling;
  oomKills: number | null;
  memoryPeakBytes: number | null;
  readBytes: number | null;
  writeBytes: number | null;
  pressure: { cpu: Pressure | null; memory: Pressure | null; io: Pressure | null };
}

export function readCgroupCounters(reader: ProcReader, cgroup: TaskCgroup): CgroupCounters {
  const pressureOf = (name: string) => {
    const text = readText(reader, cgroup.unified, `${name}.pressure`, true);
    return text === undefined ? null : parsePressure(text);
  };
  const pressure = { cpu: pressureOf("cpu"), memory: pressureOf("memory"), io: pressureOf("io") };
  if (cgroup.version === 2) {
    const cpuStat = readText(reader, cgroup.unified, "cpu.stat", true);
    const parsed = cpuStat === undefined ? null : parseCpuStatV2(cpuStat);
    const events = readText(reader, cgroup.unified, "memory.events", true);
    const io = readText(reader, cgroup.unified, "io.stat", true);
    const ioTotals = io === undefined ? null : parseIoStat(io);
    return {
      cpuSeconds: parsed?.usageSeconds ?? null,
      throttling: parsed?.throttling ?? { periods: null, throttledPeriods: null, throttledSeconds: null },
      oomKills: events === undefined ? null : parseOomKills(events),
      memoryPeakBytes: readNumber(reader, cgroup.unified, "memory.peak"),
      readBytes: ioTotals?.readBytes ?? null,
      writeBytes: ioTotals?.writeBytes ?? null,
      pressure,
    };
  }
  const usageNs = readNumber(reader, cgroup.cpuacct, "cpuacct.usage");
  const cpuStat = readText(reader, cgroup.cpu, "cpu.stat", true);
  const oom = readText(reader, cgroup.memory, "memory.oom_control", true);
  const blkio = readText(reader, cgroup.blkio, "blkio.throttle.io_service_bytes_recursive");
  const blkioTotals = blkio === undefined ? null : parseBlkioServiceBytes(blkio);
  return {
    cpuSeconds: usageNs === null ? null : usageNs / 1e9,
    throttling:
      cpuStat === undefined
        ? { periods: null, throttledPeriods: null, throttledSeconds: null }
        : parseCpuStatV1(cpuStat),
    oomKills: oom === undefined ? null : parseOomKills(oom),
    memoryPeakBytes: readNumber(reader, cgroup.memory, "memory.max_usage_in_bytes"),
    readBytes: blkioTotals?.readBytes ?? null,
    writeBytes: blkioTotals?.writeBytes ?? null,
    pressure,
  };
}

/** A cgroup made for one command by `rightsize run`. */
export interface OwnCgroup {
  cgroup: TaskCgroup;
  /** cgroup.procs files the child writes its pid into before it execs the command. */
  procsFiles: string[];
  /** Removes the folders (they must be empty: every process of the command gone). */
  remove(): string[];
}

/**
 * Makes a cgroup named `name` below the current process's own cgroup in every writable hierarchy (v2, or
 * v1 cpu, cpuacct, memory, blkio). Returns null when none could be made (not root, read-only cgroupfs,
 * v2 with processes in inner nodes): the caller then sums the process tree instead.
 */
export function createOwnCgroup(
  reader: ProcReader,
  procRoot: string,
  layout: CgroupLayout | null,
  name: string,
): OwnCgroup | null {
  const self = locateCgroup(reader, procRoot, process.pid, layout);
  if (self === null || layout === null) return null;
  const made: string[] = [];
  const make = (parent: string | null): string | null => {
    if (parent === null) return null;
    const folder = join(parent, name);
    try {
      mkdirSync(folder);
      made.push(folder);
      return folder;
    } catch {
      return null;
    }
  };
  const cgroup: TaskCgroup =
    self.version === 2
      ? { ...self, unified: make(self.unified) }
      : {
          ...self,
          unified: make(self.unified),
          cpu: make(self.cpu),
          cpuacct: self.cpuacct === self.cpu ? null : make(self.cpuacct),
          memory: make(self.memory),
          blkio: make(self.blkio),
        };
  if (self.version === 1 && self.cpuacct === self.cpu) cgroup.cpuacct = cgroup.cpu;
  if (made.length === 0) return null;
  cgroup.path = `${self.path.replace(/\/$/, "")}/${name}`;
  return {
    cgroup,
    procsFiles: made.map((folder) => join(folder, "cgroup.procs")),
    remove: () => {
      const failed: string[] = [];
      for (const folder of made.reverse()) {
        try {
          rmdirSync(folder);
        } catch {
          failed.push(folder);
        }
      }
      return failed;
    },
  };
}

/** The processes in the cgroup (`cgroup.procs`); null when unreadable. */
export function cgroupProcesses(reader: ProcReader, cgroup: TaskCgroup): number[] | null {
  const folder = cgroup.version === 2 ? cgroup.unified : (cgroup.cpuacct ?? cgroup.memory);
  const text = readText(reader, folder, "cgroup.procs");
  return text === undefined ? null : text.split("\n").filter(Boolean).map(Number);
}

/** Whether every process in the cgroup is one of `pids` (then its counters are the task's alone). */
export function cgroupHoldsOnly(reader: ProcReader, cgroup: TaskCgroup, pids: Set<number>): boolean {
  const members = cgroupProcesses(reader, cgroup);
  return members !== null && members.length > 0 && members.every((pid) => pids.has(pid));
}
