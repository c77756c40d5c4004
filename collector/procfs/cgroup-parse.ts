/**
 * Pure parsers of cgroup files (v2 and v1) and the Kubernetes mappings between CPU requests and cgroup
 * weights. A value the file does not give ("max", an absent key) is `null`.
 */

/** Flat "key value" files: cpu.stat, memory.events, memory.stat, v1 memory.oom_control. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined || extra !== undefined) continue;
    const number = Number(value);
    if (Number.isFinite(number)) map.set(key, number);
  }
  return map;
}

/** A single number file (cpu.weight, cpu.shares, cpuacct.usage, memory.current…); null when not a number. */
export function parseSingleNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return null;
  return Number(trimmed);
}

/**
 * v1 reports "no limit" as the largest page-aligned 63-bit value (9223372036854771712 with 4 KiB pages);
 * anything at or above 2^62 bytes is no limit on any machine that exists.
 */
const UNLIMITED_BYTES = 2 ** 62;

/** memory.max / memory.high ("max" or bytes) and v1 memory.limit_in_bytes → bytes, null when unlimited. */
export function parseMemoryLimit(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "max") return null;
  const value = parseSingleNumber(trimmed);
  if (value === null || value < 0 || value >= UNLIMITED_BYTES) return null;
  return value;
}

/** v2 cpu.max: "QUOTA PERIOD" or "max PERIOD" → limit in cores, null when unlimited. */
export function parseCpuMax(text: string): { limitCores: number | null; periodUs: number | null } {
  const [quota, period] = text.trim().split(/\s+/);
  const periodUs = period === undefined ? null : Number(period);
  if (periodUs === null || !Number.isFinite(periodUs) || periodUs <= 0)
    return { limitCores: null, periodUs: null };
  if (quota === "max") return { limitCores: null, periodUs };
  const quotaUs = Number(quota);
  return { limitCores: Number.isFinite(quotaUs) && quotaUs > 0 ? quotaUs / periodUs : null, periodUs };
}

/** v1 cpu.cfs_quota_us (-1 = none) and cpu.cfs_period_us → limit in cores. */
export function cfsLimitCores(quotaUs: number | null, periodUs: number | null): number | null {
  if (quotaUs === null || periodUs === null || quotaUs <= 0 || periodUs <= 0) return null;
  return quotaUs / periodUs;
}

/** Kubernetes sets cpu.shares = request millicores × 1024 / 1000 (pkg/kubelet/cm MilliCPUToShares). */
export function coresFromShares(shares: number): number {
  return shares / 1024;
}

export function sharesFromCores(cores: number): number {
  return Math.max(2, Math.round(cores * 1024));
}

/**
 * On cgroup v2 the kubelet/runc convert shares to weight as weight = 1 + (shares − 2) × 9999 / 262142
 * (runc libcontainer/cgroups ConvertCPUSharesToCgroupV2Value); this inverts it.
 */
export function coresFromWeight(weight: number): number {
  const shares = 2 + ((weight - 1) * 262142) / 9999;
  return coresFromShares(shares);
}

export function weightFromShares(shares: number): number {
  return 1 + ((shares - 2) * 9999) / 262142;
}

/** v2 io.stat: "MAJ:MIN rbytes=… wbytes=… rios=… wios=…" per device → totals. */
export function parseIoStat(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    for (const match of line.matchAll(/\b(rbytes|wbytes)=(\d+)/g)) {
      if (match[1] === "rbytes") readBytes += Number(match[2]);
      else writeBytes += Number(match[2]);
    }
  }
  return { readBytes, writeBytes };
}

/** v1 blkio.throttle.io_service_bytes(_recursive): "MAJ:MIN Read N" lines → totals (the "Total" line is skipped). */
export function parseBlkioServiceBytes(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3 || !parts[0]?.includes(":")) continue;
    const value = Number(parts[2]);
    if (!Number.isFinite(value)) continue;
    if (parts[1] === "Read") readBytes += value;
    else if (parts[1] === "Write") writeBytes += value;
  }
  return { readBytes, writeBytes };
}

/** CPU throttling counters, cumulative. */
export interface Throttling {
  periods: number | null;
  throttledPeriods: number | null;
  throttledSeconds: number | null;
}

/** v2 cpu.stat: usage_usec, nr_periods, nr_throttled, throttled_usec. */
export function parseCpuStatV2(text: string): { usageSeconds: number | null; throttling: Throttling } {
  const map = parseFlatKeyed(text);
  const usec = (key: string) => (map.has(key) ? map.get(key)! / 1e6 : null);
  return {
    usageSeconds: usec("usage_usec"),
    throttling: {
      periods: map.get("nr_periods") ?? null,
      throttledPeriods: map.get("nr_throttled") ?? null,
      throttledSeconds: usec("throttled_usec"),
    },
  };
}

/** v1 cpu.stat: nr_periods, nr_throttled, throttled_time (ns). */
export function parseCpuStatV1(text: string): Throttling {
  const map = parseFlatKeyed(text);
  return {
    periods: map.get("nr_periods") ?? null,
    throttledPeriods: map.get("nr_throttled") ?? null,
    throttledSeconds: map.has("throttled_time") ? map.get("throttled_time")! / 1e9 : null,
  };
}

/** v2 memory.events "oom_kill N"; v1 memory.oom_control "oom_kill N" (kernels ≥ 4.13). */
export function parseOomKills(text: string): number | null {
  return parseFlatKeyed(text).get("oom_kill") ?? null;
}

/** Requests and limits read from a task's cgroup, each null when the cgroup does not set it. */
export interface CgroupResources {
  requestCpuCores: number | null;
  limitCpuCores: number | null;
  limitMemoryBytes: number | null;
  requestMemoryBytes: number | null;
}

/** The default weight (v2 cpu.weight 100) and shares (v1 cpu.shares 1024) mean "nobody set a request". */
export const DEFAULT_CPU_WEIGHT = 100;
export const DEFAULT_CPU_SHARES = 1024;

/**
 * The request a cgroup's CPU weight stands for. A default weight says nothing unless the cgroup is a
 * Kubernetes pod's (kubepods), where 1 core maps to exactly the default.
 */
export function requestCoresFromCgroup(
  value: { shares?: number | null; weight?: number | null },
  path: string,
): number | null {
  const kubernetes = path.includes("kubepods");
  if (value.shares !== undefined && value.shares !== null) {
    if (value.shares === DEFAULT_CPU_SHARES && !kubernetes) return null;
    return coresFromShares(value.shares);
  }
  if (value.weight !== undefined && value.weight !== null) {
    if (value.weight === DEFAULT_CPU_WEIGHT && !kubernetes) return null;
    return coresFromWeight(value.weight);
  }
  return null;
}
