/**
 * The host row, taken once when a collector starts (systeminformation: it spawns helpers, which is fine
 * once at start and never per tick).
 */
import { hostname } from "node:os";
import si from "systeminformation";
import type { NewHost } from "../db/queries/hosts.js";
import type { CgroupLayout } from "./cgroup.js";

export async function takeHostInventory(hostId: string, layout: CgroupLayout | null): Promise<NewHost> {
  const [os, cpu, mem] = await Promise.all([
    si.osInfo().catch(() => null),
    si.cpu().catch(() => null),
    si.mem().catch(() => null),
  ]);
  return {
    id: hostId,
    hostname: os?.hostname || hostname(),
    cores: cpu?.cores ?? null,
    memoryBytes: mem?.total ?? null,
    os: os ? `${os.distro} ${os.release}`.trim() : process.platform,
    kernel: os?.kernel ?? null,
    cgroupVersion: layout === null ? null : layout.kind === "v2" ? 2 : 1,
    inventory: {
      platform: process.platform,
      arch: process.arch,
      cpu: cpu
        ? {
            manufacturer: cpu.manufacturer,
            brand: cpu.brand,
            physicalCores: cpu.physicalCores,
            speedGhz: cpu.speed,
          }
        : null,
      cgroup: layout,
    },
  };
}
