/**
 * The host row, taken once when a collector starts, from files and node:os: no helper processes. Every
 * `rightsize run` takes it, and systeminformation's osInfo/cpu/mem spawned 24 helpers (hostname -f,
 * lscpu twice, dmesg, dmidecode, ip…) costing about 0.3 s of CPU per wrapped task (BENCHMARKS.md
 * "wrapper"). Linux files: os-release(5) and /proc/cpuinfo (proc(5)); elsewhere node:os alone.
 */
import { readFileSync } from "node:fs";
import { cpus, hostname, release, totalmem } from "node:os";
import type { NewHost } from "../../db/queries/hosts.js";
import type { CgroupLayout } from "./cgroup.js";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** `KEY=value` lines of os-release(5), values unquoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) fields[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return fields;
}

/** Vendor, model name and physical cores (distinct physical id + core id pairs) from /proc/cpuinfo. */
export function parseCpuinfo(text: string): {
  manufacturer: string | null;
  brand: string | null;
  physicalCores: number | null;
} {
  let manufacturer: string | null = null;
  let brand: string | null = null;
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    manufacturer ??= fields.get("vendor_id") ?? null;
    brand ??= fields.get("model name") ?? null;
    if (fields.has("core id")) cores.add(`${fields.get("physical id") ?? "0"}/${fields.get("core id")}`);
  }
  return { manufacturer, brand, physicalCores: cores.size > 0 ? cores.size : null };
}

export async function takeHostInventory(hostId: string, layout: CgroupLayout | null): Promise<NewHost> {
  const osRelease = parseOsRelease(readText("/etc/os-release") ?? readText("/usr/lib/os-release") ?? "");
  const cpuinfo = parseCpuinfo(readText("/proc/cpuinfo") ?? "");
  const first = cpus()[0];
  const distro = osRelease.NAME ?? null;
  return {
    id: hostId,
    hostname: hostname(),
    cores: cpus().length || null,
    memoryBytes: totalmem(),
    os: distro ? `${distro} ${osRelease.VERSION_ID ?? ""}`.trim() : process.platform,
    kernel: release(),
    cgroupVersion: layout === null ? null : layout.kind === "v2" ? 2 : 1,
    inventory: {
      platform: process.platform,
      arch: process.arch,
      cpu: {
        manufacturer: cpuinfo.manufacturer,
        brand: cpuinfo.brand ?? first?.model ?? null,
        physicalCores: cpuinfo.physicalCores,
        // node:os reports MHz; 0 where the kernel does not say.
        speedGhz: first?.speed ? first.speed / 1000 : null,
      },
      cgroup: layout,
    },
  };
}
