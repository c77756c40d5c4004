/**
 * Pure parsers of procfs text. Each takes the text of one file and returns plain data; a field the text
 * does not carry is `null` ("unknown"), never 0. A file cut short (a process exiting mid-read) yields
 * `null` for the whole record where the record cannot be trusted.
 */

/** /proc/PID/stat and /proc/PID/task/TID/stat (man 5 proc). Times in clock ticks. */
/** USER_HZ: clock ticks per second in /proc times; 100 on every Linux architecture in use (man 5 proc). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  /** R running, S sleeping, D disk sleep, Z zombie, T stopped, t traced, X dead, I idle. */
  state: string;
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  /** Times of waited-for (reaped) children: the part of the tree that already exited. */
  cutimeTicks: number;
  cstimeTicks: number;
  numThreads: number;
  /** Start time in clock ticks since boot: with the pid, the process's identity. */
  startTicks: number;
  vsizeBytes: number;
  rssPages: number;
  /** Aggregated block I/O delays (field 42), or null on kernels that omit it. */
  blkioDelayTicks: number | null;
}

/**
 * Parses a stat line (with its final newline). The comm field is in parentheses and may itself hold spaces, parentheses and even
 * newlines, so the fields are split at the LAST ')' (as procps does).
 */
export function parseStat(text: string): ProcStat | null {
  // The kernel ends the line with a newline; without it the read was cut and the last field may be too.
  if (!text.endsWith("\n")) return null;
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isInteger(pid)) return null;
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // Fields after comm, 0-based: 0 state … 21 rss (man 5 proc fields 3 … 24); fewer means a cut read.
  if (rest.length < 22) return null;
  const num = (index: number) => Number(rest[index]);
  const values = {
    ppid: num(1),
    utimeTicks: num(11),
    stimeTicks: num(12),
    cutimeTicks: num(13),
    cstimeTicks: num(14),
    numThreads: num(17),
    startTicks: num(19),
    vsizeBytes: num(20),
    rssPages: num(21),
  };
  for (const value of Object.values(values)) if (!Number.isFinite(value)) return null;
  const blkio = rest.length > 39 ? Number(rest[39]) : Number.NaN;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ...values,
    blkioDelayTicks: Number.isFinite(blkio) ? blkio : null,
  };
}

/** "Key:\tvalue" files: /proc/PID/status, /proc/meminfo. */
export function parseKeyValueLines(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    map.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return map;
}

/** "1234 kB" → bytes; anything else → null. */
function kilobytes(value: string | undefined): number | null {
  if (value === undefined) return null;
  const match = /^(\d+)\s*kB$/.exec(value);
  return match ? Number(match[1]) * 1024 : null;
}

function integerOrNull(value: string | undefined): number | null {
  if (value === undefined || !/^-?\d+$/.test(value.trim())) return null;
  return Number(value.trim());
}

export interface ProcStatus {
  name: string | null;
  state: string | null;
  ppid: number | null;
  threads: number | null;
  uid: number | null;
  rssBytes: number | null;
  /** High-water mark of resident memory over the process's life. */
  peakRssBytes: number | null;
  swapBytes: number | null;
}

export function parseStatus(text: string): ProcStatus {
  const map = parseKeyValueLines(text);
  return {
    name: map.get("Name") ?? null,
    state: map.get("State")?.charAt(0) ?? null,
    ppid: integerOrNull(map.get("PPid")),
    threads: integerOrNull(map.get("Threads")),
    uid: integerOrNull(map.get("Uid")?.split(/\s+/)[0]),
    rssBytes: kilobytes(map.get("VmRSS")),
    peakRssBytes: kilobytes(map.get("VmHWM")),
    swapBytes: kilobytes(map.get("VmSwap")),
  };
}

/** /proc/PID/io: storage bytes, including those of reaped children (the kernel folds them in on wait). */
export interface ProcIo {
  readBytes: number | null;
  writeBytes: number | null;
  cancelledWriteBytes: number | null;
  rchar: number | null;
  wchar: number | null;
}

export function parseIo(text: string): ProcIo {
  const map = parseKeyValueLines(text);
  return {
    readBytes: integerOrNull(map.get("read_bytes")),
    writeBytes: integerOrNull(map.get("write_bytes")),
    cancelledWriteBytes: integerOrNull(map.get("cancelled_write_bytes")),
    rchar: integerOrNull(map.get("rchar")),
    wchar: integerOrNull(map.get("wchar")),
  };
}

/** /proc/PID/task/TID/schedstat: nanoseconds on a CPU, nanoseconds runnable but waiting, timeslices. */
export interface SchedStat {
  runNs: number;
  delayNs: number;
  slices: number;
}

export function parseSchedstat(text: string): SchedStat | null {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 3) return null;
  const [runNs, delayNs, slices] = parts.map(Number) as [number, number, number];
  if (![runNs, delayNs, slices].every(Number.isFinite)) return null;
  return { runNs, delayNs, slices };
}

/**
 * /proc/PID/cmdline: NUL-separated argv. A process that rewrote its title (setproctitle, as Airflow
 * does) may leave one space-separated string instead; that is returned as a single element.
 */
export function parseCmdline(text: string): string[] {
  if (text.length === 0) return [];
  const parts = text.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** The environment keys attribution reads; nothing else is ever kept (docs/collector.md "How task
 * processes are recognised"). */
export function isAttributionEnvKey(key: string): boolean {
  return (
    key.startsWith("RIGHTSIZE_") ||
    key.startsWith("AIRFLOW_CTX_") ||
    key === "PREFECT__FLOW_RUN_ID" ||
    key === "PREFECT__FLOW_NAME" ||
    key === "PREFECT__FLOW_ID" ||
    key === "PREFECT__DEPLOYMENT_NAME" ||
    key === "PREFECT__DEPLOYMENT_ID" ||
    // Airflow 3's run_as_user re-exec carries its task in these (collector/attribution/airflow-attribution.ts).
    key === "_AIRFLOW__STARTUP_MSG" ||
    key === "_AIRFLOW__REEXECUTED_PROCESS" ||
    key === "AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE"
  );
}

/**
 * Whether /proc/PID/environ no longer holds an environment: setproctitle (unless SPT_NOENV is set) moves
 * the environment away and writes the title over the memory this file shows, so it reads as the title's
 * tail and NULs, with no KEY=VALUE entry left (dvarrazzo/py-setproctitle `src/spt_status.c`).
 */
export function environLooksClobbered(text: string): boolean {
  return !/(^|\0)[A-Za-z_][A-Za-z0-9_]*=/.test(text);
}

/** /proc/PID/environ, keeping only the attribution keys. */
export function parseEnviron(text: string): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const equals = entry.indexOf("=");
    if (equals <= 0) continue;
    const key = entry.slice(0, equals);
    if (isAttributionEnvKey(key)) kept[key] = entry.slice(equals + 1);
  }
  return kept;
}

/**
 * /proc/PID/task/TID/syscall: "running", or "-1 SP PC" (blocked outside a system call), or
 * "NR ARG0 … ARG5 SP PC" (blocked in system call NR).
 */
export type SyscallState =
  { kind: "running" } | { kind: "none" } | { kind: "syscall"; nr: number; args: number[] };

export function parseSyscall(text: string): SyscallState | null {
  const trimmed = text.trim();
  if (trimmed === "running") return { kind: "running" };
  const parts = trimmed.split(/\s+/);
  const nr = Number(parts[0]);
  if (parts.length === 0 || !Number.isInteger(nr)) return null;
  if (nr < 0) return { kind: "none" };
  if (parts.length < 7) return null;
  // Arguments are hex; only small ones (fds) are used, so Number precision is enough.
  const args = parts.slice(1, 7).map((arg) => Number.parseInt(arg, 16));
  if (!args.every(Number.isFinite)) return null;
  return { kind: "syscall", nr, args };
}

/** "socket:[12345]" (an fd link) → 12345. */
export function socketInode(link: string): number | null {
  const match = /^socket:\[(\d+)\]$/.exec(link);
  return match ? Number(match[1]) : null;
}

/** /proc/stat: host CPU ticks, process counter. */
export interface HostStat {
  cpuTotalTicks: number | null;
  cpuIdleTicks: number | null;
  /** Forks since boot. */
  processes: number | null;
  procsRunning: number | null;
  procsBlocked: number | null;
  bootTimeSeconds: number | null;
}

export function parseHostStat(text: string): HostStat {
  const result: HostStat = {
    cpuTotalTicks: null,
    cpuIdleTicks: null,
    processes: null,
    procsRunning: null,
    procsBlocked: null,
    bootTimeSeconds: null,
  };
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    const value = Number(parts[1]);
    switch (parts[0]) {
      case "cpu": {
        const ticks = parts.slice(1).map(Number);
        if (ticks.length >= 4 && ticks.every(Number.isFinite)) {
          // guest and guest_nice (fields 9, 10) are already inside user and nice (man 5 proc).
          result.cpuTotalTicks = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
          result.cpuIdleTicks = (ticks[3] ?? 0) + (ticks[4] ?? 0);
        }
        break;
      }
      case "processes":
        if (Number.isFinite(value)) result.processes = value;
        break;
      case "procs_running":
        if (Number.isFinite(value)) result.procsRunning = value;
        break;
      case "procs_blocked":
        if (Number.isFinite(value)) result.procsBlocked = value;
        break;
      case "btime":
        if (Number.isFinite(value)) result.bootTimeSeconds = value;
        break;
    }
  }
  return result;
}

/** The first line of /proc/stat, the host's CPU ticks by kind since boot (man 5 proc). */
export interface HostCpuTicks {
  /** user, nice, system, irq, softirq, steal (guest time is already inside user and nice). */
  busy: number;
  iowait: number;
  steal: number;
}

/**
 * Reads only the aggregate "cpu" line of /proc/stat: the tick needs nothing else, and the "intr" line
 * below it holds thousands of numbers.
 */
export function parseHostCpu(text: string): HostCpuTicks | null {
  const end = text.indexOf("\n");
  const parts = (end < 0 ? text : text.slice(0, end)).trim().split(/\s+/);
  if (parts[0] !== "cpu" || parts.length < 9) return null;
  const [user, nice, system, , iowait, irq, softirq, steal] = parts.slice(1, 9).map(Number) as number[];
  const values = [user, nice, system, iowait, irq, softirq, steal] as number[];
  if (!values.every(Number.isFinite)) return null;
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, iowait: iowait!, steal: steal! };
}

/** One device's cumulative counters from /proc/diskstats. */
export interface DiskCounters {
  sectorsRead: number;
  sectorsWritten: number;
  /** Milliseconds with I/O in flight (field 13, "io_ticks"). */
  ioTicksMs: number;
}

/**
 * /proc/diskstats rows of the named devices (Documentation/admin-guide/iostats.rst): sectors there are
 * always 512 bytes, whatever the device's own sector size.
 */
export function parseDiskstats(text: string, devices: ReadonlySet<string>): Map<string, DiskCounters> {
  const result = new Map<string, DiskCounters>();
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 13 || !devices.has(parts[2]!)) continue;
    const sectorsRead = Number(parts[5]);
    const sectorsWritten = Number(parts[9]);
    const ioTicksMs = Number(parts[12]);
    if ([sectorsRead, sectorsWritten, ioTicksMs].every(Number.isFinite))
      result.set(parts[2]!, { sectorsRead, sectorsWritten, ioTicksMs });
  }
  return result;
}

/** /proc/meminfo → bytes by key ("MemTotal", "MemAvailable", …). */
export function parseMeminfo(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of parseKeyValueLines(text)) {
    const bytes = kilobytes(value) ?? integerOrNull(value);
    if (bytes !== null) result.set(key, bytes);
  }
  return result;
}

export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
  runnable: number;
  total: number;
  /** The most recently allocated pid: a cheap counter of processes and threads started host-wide. */
  lastPid: number;
}

export function parseLoadavg(text: string): LoadAvg | null {
  const match = /^([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\/(\d+)\s+(\d+)/.exec(text.trim());
  if (!match) return null;
  const [, load1, load5, load15, runnable, total, lastPid] = match.map(Number) as number[];
  return {
    load1: load1!,
    load5: load5!,
    load15: load15!,
    runnable: runnable!,
    total: total!,
    lastPid: lastPid!,
  };
}

/** One line of a pressure (PSI) file; `totalUs` is cumulative stall time in microseconds. */
export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  totalUs: number;
}

export interface Pressure {
  some: PressureLine | null;
  full: PressureLine | null;
}

/** /proc/pressure/{cpu,memory,io} and cgroup v2 *.pressure. */
export function parsePressure(text: string): Pressure {
  const result: Pressure = { some: null, full: null };
  for (const line of text.split("\n")) {
    const match = /^(some|full)\s+avg10=([\d.]+)\s+avg60=([\d.]+)\s+avg300=([\d.]+)\s+total=(\d+)/.exec(line);
    if (!match) continue;
    result[match[1] as "some" | "full"] = {
      avg10: Number(match[2]),
      avg60: Number(match[3]),
      avg300: Number(match[4]),
      totalUs: Number(match[5]),
    };
  }
  return result;
}

/** A TCP socket from /proc/net/tcp or tcp6. */
export interface TcpSocket {
  inode: number;
  local: string;
  remote: string;
  /** Kernel TCP state number (include/net/tcp_states.h): 1 ESTABLISHED, 10 LISTEN, … */
  state: number;
}

export const TCP_ESTABLISHED = 1;
export const TCP_LISTEN = 10;

/** "0100007F:1F90" → "127.0.0.1:8080"; the v6 form → "[::1]:8080". Words are host-order (little-endian here). */
export function decodeTcpAddress(hex: string): string | null {
  const [address, portHex] = hex.split(":");
  if (address === undefined || portHex === undefined) return null;
  const port = Number.parseInt(portHex, 16);
  if (!Number.isFinite(port)) return null;
  if (address.length === 8) {
    const bytes = (address.match(/../g) ?? []).map((byte) => Number.parseInt(byte, 16)).reverse();
    if (bytes.length !== 4 || !bytes.every(Number.isFinite)) return null;
    return `${bytes.join(".")}:${port}`;
  }
  if (address.length === 32) {
    const groups: string[] = [];
    for (let word = 0; word < 4; word++) {
      const bytes = (address.slice(word * 8, word * 8 + 8).match(/../g) ?? []).reverse();
      groups.push(bytes.slice(0, 2).join(""), bytes.slice(2, 4).join(""));
    }
    // ::ffff:a.b.c.d is how an IPv4 peer of a v6 socket appears; show it as IPv4.
    if (groups.slice(0, 5).every((g) => g === "0000") && groups[5]?.toLowerCase() === "ffff") {
      const v4 = [groups[6]!, groups[7]!].flatMap((g) => [
        Number.parseInt(g.slice(0, 2), 16),
        Number.parseInt(g.slice(2), 16),
      ]);
      return `${v4.join(".")}:${port}`;
    }
    const compact = groups.map((g) => Number.parseInt(g, 16).toString(16)).join(":");
    return `[${compact.replace(/(^|:)0(:0)+(:|$)/, "::")}]:${port}`;
  }
  return null;
}

/** /proc/net/tcp or /proc/net/tcp6 → sockets by inode. Malformed lines are skipped. */
export function parseNetTcp(text: string, into = new Map<number, TcpSocket>()): Map<number, TcpSocket> {
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const parts = lines[i]!.trim().split(/\s+/);
    if (parts.length < 10) continue;
    const local = decodeTcpAddress(parts[1]!);
    const remote = decodeTcpAddress(parts[2]!);
    const state = Number.parseInt(parts[3]!, 16);
    const inode = Number(parts[9]);
    if (local === null || remote === null || !Number.isFinite(state) || !Number.isInteger(inode)) continue;
    into.set(inode, { inode, local, remote, state });
  }
  return into;
}

/** /proc/PID/net/dev: bytes received and sent over all interfaces but loopback. */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } | null {
  let rxBytes = 0;
  let txBytes = 0;
  let found = false;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (fields.length < 16 || name === "lo") continue;
    // Receive: bytes is field 0; transmit: bytes is field 8 (after 8 receive columns).
    rxBytes += fields[0] ?? 0;
    txBytes += fields[8] ?? 0;
    found = true;
  }
  return found ? { rxBytes, txBytes } : null;
}

/** One line of /proc/PID/cgroup: "ID:controllers:path" ("0::/path" is the cgroup v2 entry). */
export interface CgroupMembership {
  hierarchyId: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupMembership[] {
  const result: CgroupMembership[] = [];
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const hierarchyId = Number(line.slice(0, first));
    if (!Number.isInteger(hierarchyId)) continue;
    const controllers = line.slice(first + 1, second);
    result.push({
      hierarchyId,
      controllers: controllers === "" ? [] : controllers.split(","),
      path: line.slice(second + 1),
    });
  }
  return result;
}
