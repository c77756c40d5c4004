/**
 * The sampler: follows task process trees and turns each tick into one sample per execution.
 *
 * Everything here is synchronous procfs reading and never awaits the database: rows go to a
 * {@link SampleSink} (the writer), which only buffers. Two loops drive it (collector/loop.ts): `tick()`
 * every interval, and `poll()` every ~10 ms, which reads only the children lists of tracked trees so
 * short-lived subprocesses are seen and counted at a cost proportional to the trees, not the host.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../common/logger.js";
import type { NewExecution } from "../db/queries/executions.js";
import type { NewProcess } from "../db/queries/processes.js";
import type { NewSample } from "../db/queries/samples.js";
import { type Attribution, mayHoldAirflowLog, refineAttribution, resolveAttribution } from "./attribution.js";
import {
  type CgroupCounters,
  type CgroupLayout,
  cgroupHoldsOnly,
  detectCgroupLayout,
  locateCgroup,
  readCgroupCounters,
  readCgroupResources,
  type TaskCgroup,
} from "./cgroup.js";
import { listDir, ProcReader, readLink } from "./proc-reader.js";
import {
  type ProcStat,
  parseCmdline,
  parseEnviron,
  parseHostStat,
  parseIo,
  parseLoadavg,
  parseNetDev,
  parseNetTcp,
  parsePressure,
  parseSchedstat,
  parseStat,
  parseSyscall,
  socketInode,
  TCP_ESTABLISHED,
  type TcpSocket,
} from "./procfs-parse.js";
import {
  addThreadSeconds,
  classifyThread,
  emptyThreadSeconds,
  SYSCALL_TABLES,
  splitThreadTick,
  type ThreadSeconds,
  topEndpoints,
} from "./thread-state.js";

/** USER_HZ: clock ticks per second in /proc times; 100 on every Linux architecture in use (man 5 proc). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Discovery lists all of /proc every this many ticks (else it probes only the pids handed out since). */
const FULL_LISTING_EVERY = 10;
/** More new pids than this since the last tick: listing /proc is cheaper than probing each. */
const MAX_PROBED_PIDS = 2000;

/** A tree that spawned within this long is polled at full rate. */
const HOT_TREE_MS = 2000;
/** A quiet tree's children are read this often: its first child of a burst is seen within this. */
const QUIET_TREE_POLL_MS = 200;

/** Where the sampler's rows go: the writer's buffering calls. */
export interface SampleSink {
  execution(row: NewExecution): void;
  samples(rows: NewSample[]): void;
  processes(rows: NewProcess[]): void;
}

export interface SamplerOptions {
  procRoot: string;
  cgroupRoot: string;
  hostId: string;
  sink: SampleSink;
  logger: Logger;
  /** Redacts argv before it is stored (collector/redact.ts). */
  redact: (argv: string[]) => string[];
  /** Nominal tick, to decide whether a just-discovered process is young enough to count from zero. */
  intervalMs: number;
  /** Page size for stat's rss; measured from /proc/self when omitted. */
  pageSize?: number;
  /** Wall clock in ms; tests may pass their own. */
  now?: () => number;
}

/** What `rightsize run` knows about the command it started. */
export interface StartedRoot {
  pid: number;
  attribution: Attribution;
  startedAtMs: number;
  /** A cgroup made for the command alone: its counters are preferred. */
  ownCgroup?: TaskCgroup | null;
  requests?: { cpuCores: number | null; memoryBytes: number | null };
  executionId?: string;
}

/** An execution a previous collector left open whose root is still alive: resumed under the same id. */
export interface ResumedExecution {
  id: string;
  attribution: Attribution;
  rootPid: number;
  rootStartTicks: number;
  startedAt: Date;
}

interface ThreadMark {
  runNs: number;
  delayNs: number;
  slices: number;
  /** What the thread was blocked in at the last tick, and on which endpoints. */
  blocked: "disk" | "net" | "child" | "idle";
  endpoints: string[];
}

interface ProcessRecord {
  pid: number;
  startTicks: number;
  ppid: number;
  comm: string;
  argv: string[] | null;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Own utime+stime, ticks. */
  ownTicks: number;
  /** cutime+cstime: reaped children, ticks. */
  childTicks: number;
  rssBytes: number;
  peakRssBytes: number;
  readBytes: number | null;
  writeBytes: number | null;
  numThreads: number;
  state: string;
  alive: boolean;
  /** Times a young process was re-read by the poll (to catch its exec). */
  looks: number;
  /** Ticks the process has been examined for attribution refinement. */
  examined: number;
  /** Row needs writing: first seen, or exited. */
  dirty: boolean;
  threads: Map<number, ThreadMark>;
}

interface Previous {
  atMs: number;
  cpuSeconds: number;
  readBytes: number | null;
  writeBytes: number | null;
  net: { rxBytes: number; txBytes: number } | null;
  counters: CgroupCounters | null;
}

interface ExecutionState {
  id: string;
  attribution: Attribution;
  runId: string;
  startedAt: Date;
  rootPid: number;
  rootStartTicks: number;
  processes: Map<number, ProcessRecord>;
  /** Exited processes whose final row is still to be written. */
  departed: ProcessRecord[];
  cgroup: TaskCgroup | null;
  /** The cgroup holds this task only, so its counters are the task's. */
  ownCgroup: boolean;
  resources: Pick<
    NewExecution,
    | "requestCpuCores"
    | "limitCpuCores"
    | "cpuSource"
    | "requestMemoryBytes"
    | "limitMemoryBytes"
    | "memorySource"
  >;
  previous: Previous | null;
  /** Exited processes' times whose parent is outside the tree (the root): no one else keeps them. */
  carryTicks: number;
  carryRead: number;
  carryWrite: number;
  /** Highest cumulative CPU reported: the series never goes back. */
  reportedCpuSeconds: number;
  endpoints: Map<string, number>;
  /** Network namespace link when the task has its own; else null (bytes unknown). */
  ownNetns: string | null;
  startedThisTick: number;
  churnThisTick: boolean;
  /** Last time a child was seen starting or leaving. */
  lastChurnMs: number;
  /** Re-read the root's counters every poll (`run`: its parent is the wrapper). */
  watchRoot: boolean;
  /** When the root was last seen alive. */
  rootLastSeenMs: number;
  /** When a poll last read the tree's children lists. */
  lastPolledMs: number;
  status: string;
  endedAt: Date | null;
  exitCode: number | null;
}

/** Host-wide readings of one tick, shared by every execution's sample. */
interface HostReading {
  load1: number | null;
  lastPid: number | null;
  pressure: { cpu: number | null; memory: number | null; io: number | null };
}

function measurePageSize(reader: ProcReader, procRoot: string): number {
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

export class Sampler {
  readonly reader = new ProcReader();
  private readonly procRoot: string;
  private readonly layout: CgroupLayout | null;
  private readonly pageSize: number;
  private readonly now: () => number;
  private readonly executions = new Map<string, ExecutionState>();
  /** pid → execution id, for every live tracked process. */
  private readonly owner = new Map<number, string>();
  /** Host pids known from /proc listings (collect mode): pid → the listing that last saw it. */
  private readonly known = new Map<number, number>();
  /** New pids still to be examined for attribution: pid → times examined. */
  private readonly pending = new Map<number, number>();
  private generation = 0;
  /** Discovery has looked at every pid up to this one (null: not yet). */
  private probedUpTo: number | null = null;
  private probing = true;
  private readonly probeFound = new Set<number>();
  private readonly bootTimeSeconds: number | null;
  private readonly hostNetns: string | undefined;
  private readonly syscalls = SYSCALL_TABLES[process.arch];
  private previousHost: { lastPid: number | null; pressure: Map<string, number> } | null = null;
  private tcpCache = new Map<string, Map<number, TcpSocket>>();
  private fdCache = new Map<number, string[]>();

  constructor(private readonly options: SamplerOptions) {
    this.procRoot = options.procRoot;
    this.layout = detectCgroupLayout(options.cgroupRoot);
    this.pageSize = options.pageSize ?? measurePageSize(this.reader, this.procRoot);
    this.now = options.now ?? Date.now;
    const stat = this.reader.read(`${this.procRoot}/stat`);
    this.bootTimeSeconds = stat === undefined ? null : parseHostStat(stat).bootTimeSeconds;
    this.hostNetns = readLink(`${this.procRoot}/1/ns/net`);
  }

  get cgroupLayout(): CgroupLayout | null {
    return this.layout;
  }

  /** Ids of executions still being followed. */
  openExecutions(): string[] {
    return [...this.executions.values()].filter((execution) => execution.endedAt === null).map((e) => e.id);
  }

  /** Starts following a command `rightsize run` started. Returns the execution id. */
  track(root: StartedRoot): string {
    const stat = this.readStat(root.pid);
    const execution = this.newExecution({
      id: root.executionId ?? randomUUID(),
      attribution: root.attribution,
      rootPid: root.pid,
      rootStartTicks: stat?.startTicks ?? 0,
      startedAt: new Date(root.startedAtMs),
      cgroup: root.ownCgroup ?? null,
      ownCgroup: Boolean(root.ownCgroup),
      countFromZero: true,
    });
    execution.watchRoot = true;
    if (root.requests?.cpuCores != null) {
      execution.resources.requestCpuCores = root.requests.cpuCores;
      execution.resources.cpuSource = "flag";
    }
    if (root.requests?.memoryBytes != null) {
      execution.resources.requestMemoryBytes = root.requests.memoryBytes;
      execution.resources.memorySource = "flag";
    }
    if (stat) this.adopt(execution, stat, root.startedAtMs);
    this.options.sink.execution(this.executionRow(execution));
    return execution.id;
  }

  /** Resumes executions a previous collector left open whose root still runs (same pid and start). */
  resume(previous: ResumedExecution): boolean {
    const stat = this.readStat(previous.rootPid);
    if (!stat || stat.startTicks !== previous.rootStartTicks) return false;
    const execution = this.newExecution({
      id: previous.id,
      attribution: previous.attribution,
      rootPid: previous.rootPid,
      rootStartTicks: previous.rootStartTicks,
      startedAt: previous.startedAt,
      cgroup: null,
      ownCgroup: false,
      countFromZero: false,
    });
    this.adopt(execution, stat, this.now());
    return true;
  }

  /** Whether a process with this identity is alive now. */
  isAlive(pid: number, startTicks: number): boolean {
    const stat = this.readStat(pid);
    return stat !== null && stat.startTicks === startTicks && stat.state !== "Z" && stat.state !== "X";
  }

  /**
   * Marks an execution ended (the root exited) after a last tick; writes its row and every process row.
   * `status` per the task_executions column: succeeded, failed, killed, lost, or ended (exit unknown).
   */
  end(id: string, outcome: { exitCode: number | null; status: string; atMs?: number }): void {
    const execution = this.executions.get(id);
    if (!execution || execution.endedAt !== null) return;
    execution.status = outcome.status;
    execution.exitCode = outcome.exitCode;
    execution.endedAt = new Date(outcome.atMs ?? this.now());
    const rows: NewProcess[] = [];
    for (const record of execution.processes.values()) {
      if (record.alive) {
        record.alive = false;
        this.owner.delete(record.pid);
        this.reader.forgetPrefix(`${this.procRoot}/${record.pid}/`);
      }
      rows.push(this.processRow(execution, record));
    }
    for (const record of execution.departed) rows.push(this.processRow(execution, record));
    execution.departed = [];
    this.options.sink.processes(rows);
    this.options.sink.execution(this.executionRow(execution));
    this.executions.delete(id);
  }

  /** Writes every live process's current totals (a collector stopping while its tasks run on). */
  writeLiveProcesses(): void {
    const rows: NewProcess[] = [];
    for (const execution of this.executions.values()) {
      for (const record of execution.processes.values())
        if (record.alive) rows.push(this.processRow(execution, record));
    }
    if (rows.length > 0) this.options.sink.processes(rows);
  }

  /** Releases kept file descriptors. */
  close(): void {
    this.reader.close();
  }

  /**
   * Finds new attributed task roots host-wide (collect mode). Lists /proc, and reads only pids not seen
   * before: a few times each (a process may exec or open its task log after it starts), then never again.
   */
  discover(): void {
    const lastPid = parseLoadavg(this.reader.readKept(`${this.procRoot}/loadavg`) ?? "")?.lastPid ?? null;
    const from = this.probedUpTo;
    const generation = ++this.generation;
    // New processes have the pids handed out since the last look ([from+1, lastPid]): probing those costs
    // in proportion to the fork rate, where listing /proc costs in proportion to the host (~1.5 ms for
    // 2,000 entries here). The listing still runs every 10th tick to forget exited pids and to check
    // that the counter speaks of our pid namespace, and whenever the counter wrapped or jumped far.
    const inRange = lastPid !== null && from !== null && lastPid >= from && lastPid - from <= MAX_PROBED_PIDS;
    if (this.probing && inRange) {
      for (let pid = from + 1; pid <= lastPid; pid++) this.probePid(pid, generation);
    }
    if (!this.probing || !inRange || generation % FULL_LISTING_EVERY === 0) {
      // After a probe of the same range, anything the listing finds new is something probing missed.
      this.listAll(generation, this.probing && inRange);
    }
    this.probedUpTo = lastPid;

    // Examined three times at most (its first ticks): enough to see an exec or a log file opened at start.
    const candidates = new Map<number, { stat: ProcStat; attribution: Attribution }>();
    for (const [pid, examined] of this.pending) {
      if (examined >= 2 || this.owner.has(pid) || pid === process.pid) this.pending.delete(pid);
      else this.pending.set(pid, examined + 1);
      if (this.owner.has(pid) || pid === process.pid) continue;
      const stat = this.readStat(pid);
      // Kernel threads (children of kthreadd, pid 2) have no environment or argv worth reading.
      if (!stat || pid === 2 || stat.ppid === 2) {
        this.pending.delete(pid);
        continue;
      }
      const env = parseEnviron(this.reader.read(`${this.procRoot}/${pid}/environ`) ?? "");
      if (env.RIGHTSIZE_WRAPPED) {
        // `rightsize run` samples this one itself.
        this.pending.delete(pid);
        continue;
      }
      const argv = parseCmdline(this.reader.read(`${this.procRoot}/${pid}/cmdline`) ?? "");
      const facts = { argv, env, fdTargets: mayHoldAirflowLog(argv) ? this.fdTargets(pid) : [] };
      const attribution = resolveAttribution(facts);
      if (attribution) candidates.set(pid, { stat, attribution });
    }
    for (const [pid, candidate] of candidates) {
      if (this.hasTrackedOrCandidateAncestor(candidate.stat.ppid, candidates)) continue;
      const ageSeconds = this.ageSeconds(candidate.stat);
      const startedAtMs =
        this.bootTimeSeconds === null
          ? this.now()
          : (this.bootTimeSeconds + candidate.stat.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
      const cgroup = locateCgroup(this.reader, this.procRoot, pid, this.layout);
      const execution = this.newExecution({
        id: randomUUID(),
        attribution: candidate.attribution,
        rootPid: pid,
        rootStartTicks: candidate.stat.startTicks,
        startedAt: new Date(startedAtMs),
        cgroup,
        ownCgroup:
          cgroup !== null && cgroup.path !== "/" && cgroupHoldsOnly(this.reader, cgroup, new Set([pid])),
        // A process seen within two ticks of its start has used next to nothing before: count from zero.
        countFromZero: ageSeconds !== null && ageSeconds * 1000 < 2 * this.options.intervalMs,
      });
      this.adopt(execution, candidate.stat, this.now());
      this.pending.delete(pid);
      this.options.logger.info(
        { execution: execution.id, pid, ...candidate.attribution },
        "task execution discovered",
      );
      this.options.sink.execution(this.executionRow(execution));
    }
  }

  /** A freshly allocated pid: a new process when it is a thread-group leader (threads share the pid space). */
  private probePid(pid: number, generation: number): void {
    const status = this.reader.read(`${this.procRoot}/${pid}/status`);
    if (status === undefined) return;
    const tgid = Number(/\nTgid:\s*(\d+)/.exec(status)?.[1]);
    if (tgid !== pid) return;
    // Allocated since the last look, so a new process even if an older one once had this pid.
    this.pending.set(pid, 0);
    this.probeFound.add(pid);
    if (!this.owner.has(pid)) this.otherAllocations++;
    this.known.set(pid, generation);
  }

  private listAll(generation: number, checkProbes: boolean): void {
    const entries = listDir(this.procRoot) ?? [];
    let missedByProbes = 0;
    for (const entry of entries) {
      const code = entry.charCodeAt(0);
      if (code < 48 || code > 57) continue;
      const pid = Number(entry);
      if (!this.known.has(pid)) {
        this.pending.set(pid, 0);
        if (!this.owner.has(pid)) this.otherAllocations++;
        if (checkProbes && !this.probeFound.has(pid)) missedByProbes++;
      }
      this.known.set(pid, generation);
    }
    for (const [pid, seen] of this.known) {
      if (seen !== generation) {
        this.known.delete(pid);
        this.pending.delete(pid);
      }
    }
    this.probeFound.clear();
    // Live processes the probes never saw: the pid counter is another namespace's (a container without
    // the host's pid namespace). A few may be a race at start-up; more means probing is blind here.
    if (this.probing && missedByProbes > 3) {
      this.probing = false;
      this.options.logger.info(
        { missedByProbes },
        "the pid counter does not match this /proc: listing it every tick",
      );
    }
  }

  /**
   * Fast inner poll: children lists of tracked trees only, so short-lived children are seen.
   * `everyTree` reads every tree whatever the gates (for measuring the busy-host cost). Returns whether
   * any tree is busy (spawned lately): the loop polls fast only then.
   */
  poll(everyTree = false): boolean {
    // Nothing was forked anywhere since the last poll (the host's last pid is unchanged): no new child
    // to find. One read of /proc/loadavg instead of one per tracked process.
    const lastPid = parseLoadavg(this.reader.readKept(`${this.procRoot}/loadavg`) ?? "")?.lastPid ?? null;
    const forked = lastPid === null || lastPid !== this.lastPolledPid;
    this.lastPolledPid = lastPid;
    const now = this.now();
    let anyHot = false;
    for (const execution of this.executions.values()) {
      // Trees that spawned lately are read every poll, quiet ones every 200 ms, so the first child of a
      // burst is seen within ~200 ms and its siblings at full rate.
      const hot = now - execution.lastChurnMs < HOT_TREE_MS;
      anyHot ||= hot;
      const quietDue = now - execution.lastPolledMs >= QUIET_TREE_POLL_MS;
      const due = everyTree || (forked && (hot || quietDue));
      if (due) execution.lastPolledMs = now;
      if (!due && !execution.watchRoot) continue;
      for (const record of [...execution.processes.values()]) {
        if (!record.alive) continue;
        const young = record.looks < 3 && record.firstSeenMs !== now;
        // `run`: the root's parent is the wrapper, so nothing keeps its counters once it exits: re-read
        // them each poll, and only its last ~10 ms can be lost.
        const root = execution.watchRoot && record.pid === execution.rootPid;
        if ((young && due) || root) {
          // Young: re-read to catch its exec (a forked shell becoming `gzip`) and its last CPU time.
          if (young) record.looks++;
          const stat = this.readStat(record.pid, root);
          if (stat && stat.startTicks === record.startTicks) {
            this.refresh(record, stat, now);
            if (root) this.readProcessIo(record);
          }
        }
        if (due) this.findChildren(execution, record, now);
      }
    }
    return anyHot;
  }

  /** One tick: every tracked tree's measures, one sample per execution. */
  tick(): void {
    const now = this.now();
    this.tcpCache = new Map();
    this.fdCache = new Map();
    const host = this.readHost();
    const rows: NewSample[] = [];
    const processRows: NewProcess[] = [];
    for (const execution of this.executions.values()) {
      if (execution.endedAt !== null) continue;
      try {
        this.walk(execution, now);
      } catch (error) {
        this.options.logger.error({ err: error, execution: execution.id }, "tree walk failed; tick skipped");
      }
    }
    this.attributeUnseenStarts(host, this.seenSinceTick);
    this.seenSinceTick = 0;
    for (const execution of this.executions.values()) {
      if (execution.endedAt !== null) continue;
      try {
        const sample = this.measure(execution, now, host);
        if (sample) rows.push(sample);
        for (const record of execution.processes.values()) {
          if (record.dirty) {
            record.dirty = false;
            processRows.push(this.processRow(execution, record));
          }
        }
        for (const record of execution.departed) processRows.push(this.processRow(execution, record));
        execution.departed = [];
      } catch (error) {
        this.options.logger.error({ err: error, execution: execution.id }, "measuring failed; tick skipped");
      }
    }
    if (rows.length > 0) this.options.sink.samples(rows);
    if (processRows.length > 0) this.options.sink.processes(processRows);
  }

  /** Whether the root of an execution is still alive. */
  rootAlive(id: string): boolean {
    const execution = this.executions.get(id);
    if (!execution) return false;
    const root = execution.processes.get(execution.rootPid);
    return root?.alive === true && root.startTicks === execution.rootStartTicks && root.state !== "Z";
  }

  /** Ends executions whose root is gone (collect mode); the exit code is not visible from outside. */
  endFinished(): void {
    for (const execution of [...this.executions.values()]) {
      if (execution.endedAt === null && !this.rootAlive(execution.id)) {
        this.end(execution.id, { exitCode: null, status: "ended", atMs: execution.rootLastSeenMs });
      }
    }
  }

  // ——— internals ———

  private newExecution(init: {
    id: string;
    attribution: Attribution;
    rootPid: number;
    rootStartTicks: number;
    startedAt: Date;
    cgroup: TaskCgroup | null;
    ownCgroup: boolean;
    countFromZero: boolean;
  }): ExecutionState {
    const cgroup = init.cgroup ?? locateCgroup(this.reader, this.procRoot, init.rootPid, this.layout);
    const resources = cgroup ? readCgroupResources(this.reader, cgroup) : null;
    const execution: ExecutionState = {
      id: init.id,
      attribution: init.attribution,
      runId: init.attribution.runId ?? init.startedAt.toISOString(),
      startedAt: init.startedAt,
      rootPid: init.rootPid,
      rootStartTicks: init.rootStartTicks,
      processes: new Map(),
      departed: [],
      cgroup,
      ownCgroup: init.ownCgroup,
      resources: {
        requestCpuCores: resources?.requestCpuCores ?? null,
        limitCpuCores: resources?.limitCpuCores ?? null,
        cpuSource: resources?.requestCpuCores != null || resources?.limitCpuCores != null ? "cgroup" : null,
        requestMemoryBytes: resources?.requestMemoryBytes ?? null,
        limitMemoryBytes: resources?.limitMemoryBytes ?? null,
        memorySource:
          resources?.limitMemoryBytes != null || resources?.requestMemoryBytes != null ? "cgroup" : null,
      },
      previous: init.countFromZero
        ? {
            atMs: init.startedAt.getTime(),
            cpuSeconds: 0,
            readBytes: 0,
            writeBytes: 0,
            net: null,
            counters: null,
          }
        : null,
      carryTicks: 0,
      carryRead: 0,
      carryWrite: 0,
      reportedCpuSeconds: 0,
      endpoints: new Map(),
      ownNetns: null,
      startedThisTick: 0,
      churnThisTick: false,
      // A task spawns most at its start: poll it at full rate from the beginning.
      lastChurnMs: this.now(),
      watchRoot: false,
      rootLastSeenMs: init.startedAt.getTime(),
      lastPolledMs: 0,
      status: "running",
      endedAt: null,
      exitCode: null,
    };
    const netns = readLink(`${this.procRoot}/${init.rootPid}/ns/net`);
    if (netns !== undefined && this.hostNetns !== undefined && netns !== this.hostNetns)
      execution.ownNetns = netns;
    this.executions.set(execution.id, execution);
    return execution;
  }

  private adopt(execution: ExecutionState, stat: ProcStat, now: number): void {
    const record = this.newRecord(stat, now);
    execution.processes.set(stat.pid, record);
    this.owner.set(stat.pid, execution.id);
  }

  private newRecord(stat: ProcStat, now: number): ProcessRecord {
    const argv = parseCmdline(this.reader.read(`${this.procRoot}/${stat.pid}/cmdline`) ?? "");
    return {
      pid: stat.pid,
      startTicks: stat.startTicks,
      ppid: stat.ppid,
      comm: stat.comm,
      argv: argv.length > 0 ? argv : null,
      firstSeenMs: now,
      lastSeenMs: now,
      ownTicks: stat.utimeTicks + stat.stimeTicks,
      childTicks: stat.cutimeTicks + stat.cstimeTicks,
      rssBytes: stat.rssPages * this.pageSize,
      peakRssBytes: stat.rssPages * this.pageSize,
      readBytes: null,
      writeBytes: null,
      numThreads: stat.numThreads,
      state: stat.state,
      alive: true,
      looks: 0,
      examined: 0,
      dirty: true,
      threads: new Map(),
    };
  }

  private refresh(record: ProcessRecord, stat: ProcStat, now: number): void {
    // A new comm means the process exec'd: its argv changed too.
    if (stat.comm !== record.comm) {
      const argv = parseCmdline(this.reader.read(`${this.procRoot}/${stat.pid}/cmdline`) ?? "");
      if (argv.length > 0) record.argv = argv;
    }
    record.comm = stat.comm;
    record.lastSeenMs = now;
    record.ownTicks = stat.utimeTicks + stat.stimeTicks;
    record.childTicks = stat.cutimeTicks + stat.cstimeTicks;
    record.rssBytes = stat.rssPages * this.pageSize;
    if (record.rssBytes > record.peakRssBytes) record.peakRssBytes = record.rssBytes;
    record.numThreads = stat.numThreads;
    record.state = stat.state;
  }

  private readProcessIo(record: ProcessRecord): void {
    const io = this.reader.readKept(`${this.procRoot}/${record.pid}/io`);
    if (io === undefined) return;
    const parsed = parseIo(io);
    record.readBytes = parsed.readBytes;
    record.writeBytes = parsed.writeBytes;
  }

  private readStat(pid: number, kept = false): ProcStat | null {
    const path = `${this.procRoot}/${pid}/stat`;
    const text = kept ? this.reader.readKept(path) : this.reader.read(path);
    return text === undefined ? null : parseStat(text);
  }

  private ageSeconds(stat: ProcStat): number | null {
    const uptime = this.reader.read(`${this.procRoot}/uptime`);
    const seconds = Number(uptime?.split(" ")[0]);
    return Number.isFinite(seconds) ? seconds - stat.startTicks / CLOCK_TICKS_PER_SECOND : null;
  }

  private hasTrackedOrCandidateAncestor(ppid: number, candidates: Map<number, unknown>): boolean {
    let pid = ppid;
    // Task roots sit a few levels below a worker; 32 levels bounds a walk through a cyclic or odd tree.
    for (let depth = 0; depth < 32 && pid > 1; depth++) {
      if (this.owner.has(pid) || candidates.has(pid)) return true;
      const stat = this.readStat(pid);
      if (!stat) return false;
      pid = stat.ppid;
    }
    return false;
  }

  private fdTargets(pid: number): string[] {
    const cached = this.fdCache.get(pid);
    if (cached) return cached;
    const folder = `${this.procRoot}/${pid}/fd`;
    const targets: string[] = [];
    for (const fd of listDir(folder) ?? []) {
      const target = readLink(`${folder}/${fd}`);
      if (target !== undefined) targets.push(target);
    }
    this.fdCache.set(pid, targets);
    return targets;
  }

  /** Reads a record's threads' children lists and adopts new children. Returns how many were new. */
  private findChildren(execution: ExecutionState, record: ProcessRecord, now: number): number {
    const tids = record.threads.size > 0 ? [...record.threads.keys()] : [record.pid];
    let found = 0;
    for (const tid of tids) {
      const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${tid}/children`);
      if (!text) continue;
      for (const item of text.trim().split(" ")) {
        const pid = Number(item);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        const known = execution.processes.get(pid);
        if (known?.alive) continue;
        if (this.owner.has(pid) && this.owner.get(pid) !== execution.id) continue;
        const stat = this.readStat(pid);
        if (!stat) continue;
        if (known) this.depart(execution, known);
        const child = this.newRecord(stat, now);
        // Its I/O so far belongs to this tick (it started after the last one); read it before it can exit.
        this.readProcessIo(child);
        execution.processes.set(pid, child);
        this.owner.set(pid, execution.id);
        execution.startedThisTick++;
        found++;
      }
    }
    if (found > 0) {
      execution.churnThisTick = true;
      execution.lastChurnMs = now;
      this.seenSinceTick += found;
    }
    return found;
  }

  /** A process left the tree: keep what no one else will (see carry). */
  private depart(execution: ExecutionState, record: ProcessRecord): void {
    if (!record.alive) return;
    record.alive = false;
    record.dirty = false;
    this.owner.delete(record.pid);
    this.reader.forgetPrefix(`${this.procRoot}/${record.pid}/`);
    execution.churnThisTick = true;
    execution.lastChurnMs = this.now();
    if (record.pid === execution.rootPid) execution.rootLastSeenMs = record.lastSeenMs;
    const parent = execution.processes.get(record.ppid);
    // A reaped child's times and I/O move into its parent's cutime/cstime and io; only a process whose
    // parent is outside the tree (the root) takes them away with it.
    if (!parent?.alive) {
      execution.carryTicks += record.ownTicks + record.childTicks;
      execution.carryRead += record.readBytes ?? 0;
      execution.carryWrite += record.writeBytes ?? 0;
    }
    execution.processes.delete(record.pid);
    execution.departed.push(record);
  }

  /** Refreshes every process of the tree and finds new ones. */
  private walk(execution: ExecutionState, now: number): void {
    const quiet = new Set<ProcessRecord>();
    for (const record of [...execution.processes.values()]) {
      if (!record.alive) continue;
      if (this.unscheduled(record)) {
        // Not run once since the last tick: its times, I/O and children cannot have changed (a fork,
        // a write, reaping a child all need the CPU), so its files need not be read again.
        record.lastSeenMs = now;
        quiet.add(record);
        continue;
      }
      const stat = this.readStat(record.pid, true);
      if (!stat || stat.startTicks !== record.startTicks) {
        this.depart(execution, record);
        continue;
      }
      this.refresh(record, stat, now);
      this.readProcessIo(record);
    }
    for (const record of [...execution.processes.values()]) {
      if (record.alive && !quiet.has(record)) this.findChildren(execution, record, now);
    }
    this.refine(execution);
  }

  /**
   * Whether a single-threaded process was not scheduled since the last tick (schedstat's run time and
   * timeslice count unchanged). Its schedstat is read here; a process gone reads as scheduled, so the
   * full read notices the exit.
   */
  private unscheduled(record: ProcessRecord): boolean {
    if (record.numThreads !== 1) return false;
    const mark = record.threads.get(record.pid);
    if (mark === undefined) return false;
    const text = this.reader.readKept(`${this.procRoot}/${record.pid}/task/${record.pid}/schedstat`);
    const sched = text === undefined ? null : parseSchedstat(text);
    return sched !== null && sched.runNs === mark.runNs && sched.slices === mark.slices;
  }

  /** Airflow trees: a descendant's AIRFLOW_CTX_TRY_NUMBER or open log tells the try the root did not. */
  private refine(execution: ExecutionState): void {
    const attribution = execution.attribution;
    if (attribution.orchestrator !== "airflow" || attribution.tryNumber !== null) return;
    for (const record of execution.processes.values()) {
      if (!record.alive || record.examined >= 3) continue;
      record.examined++;
      const env = parseEnviron(this.reader.read(`${this.procRoot}/${record.pid}/environ`) ?? "");
      const argv = record.argv ?? [];
      const found = resolveAttribution({
        argv,
        env,
        fdTargets: mayHoldAirflowLog(argv) ? this.fdTargets(record.pid) : [],
      });
      const refined = found ? refineAttribution(execution.attribution, found) : null;
      if (refined) {
        execution.attribution = refined;
        if (refined.runId !== null && execution.runId !== refined.runId && attribution.runId === null)
          execution.runId = refined.runId;
        this.options.sink.execution(this.executionRow(execution));
        return;
      }
    }
  }

  private readHost(): HostReading {
    const load = parseLoadavg(this.reader.readKept(`${this.procRoot}/loadavg`) ?? "");
    const totals = new Map<string, number>();
    const pressure = { cpu: null as number | null, memory: null as number | null, io: null as number | null };
    const previous = this.previousHost;
    for (const name of ["cpu", "memory", "io"] as const) {
      const text = this.reader.readKept(`${this.procRoot}/pressure/${name}`);
      const some = text === undefined ? null : parsePressure(text).some;
      if (some) {
        totals.set(name, some.totalUs);
        const before = previous?.pressure.get(name);
        if (before !== undefined) pressure[name] = some.totalUs - before;
      }
    }
    const reading: HostReading = { load1: load?.load1 ?? null, lastPid: load?.lastPid ?? null, pressure };
    this.previousHost = { lastPid: load?.lastPid ?? null, pressure: totals };
    return reading;
  }

  /**
   * Children that lived and died between two polls were never seen. The host's pid counter says how
   * many pids were handed out; what no tree accounts for is charged to the one tree that had churn this
   * tick (and to none when several did: then it is unknown which).
   */
  private attributeUnseenStarts(host: HostReading, knownAllocations: number): void {
    const previousPid = this.lastPidSeen;
    this.lastPidSeen = host.lastPid;
    if (previousPid === null || host.lastPid === null) return;
    const others = this.otherAllocations;
    this.otherAllocations = 0;
    const delta = host.lastPid >= previousPid ? host.lastPid - previousPid : null; // wrapped: unknown
    if (delta === null) return;
    const churning = [...this.executions.values()].filter((e) => e.endedAt === null && e.churnThisTick);
    if (churning.length !== 1) return;
    const unseen = delta - knownAllocations - others;
    if (unseen > 0) churning[0]!.startedThisTick += unseen;
  }

  private lastPidSeen: number | null = null;
  /** Children the polls and walks adopted since the last tick: pids the counter need not explain. */
  private seenSinceTick = 0;
  private lastPolledPid: number | null = null;
  /** Pids the collector knows went elsewhere this tick (its own threads, discovered host processes). */
  private otherAllocations = 0;

  private threadTimes(
    execution: ExecutionState,
    record: ProcessRecord,
    intervalSeconds: number,
    into: ThreadSeconds,
  ): number {
    const base = `${this.procRoot}/${record.pid}/task`;
    const tids = record.numThreads > 1 ? (listDir(base) ?? []).map(Number) : [record.pid];
    const marks = new Map<number, ThreadMark>();
    let threads = 0;
    for (const tid of tids) {
      const schedText = this.reader.readKept(`${base}/${tid}/schedstat`);
      const sched = schedText === undefined ? null : parseSchedstat(schedText);
      if (!sched) continue;
      threads++;
      const previous = record.threads.get(tid);
      let blocked: "disk" | "net" | "child" | "idle" = "idle";
      let endpoints: string[] = [];
      if (previous !== undefined && previous.slices === sched.slices && previous.runNs === sched.runNs) {
        // Not scheduled once since the last tick: still blocked in the same wait, no need to look again.
        blocked = previous.blocked;
        endpoints = previous.endpoints;
      } else {
        let state = record.state;
        if (tid !== record.pid || record.numThreads > 1) {
          const text = this.reader.readKept(`${base}/${tid}/stat`);
          const threadStat = text === undefined ? null : parseStat(text);
          if (!threadStat) continue;
          state = threadStat.state;
        }
        const syscall =
          state === "S" ? parseSyscall(this.reader.readKept(`${base}/${tid}/syscall`) ?? "") : null;
        const wait = classifyThread(state, syscall, this.syscalls);
        if (wait.kind === "disk" || wait.kind === "child") blocked = wait.kind;
        else if (wait.kind === "fd-read") {
          const link = readLink(`${this.procRoot}/${record.pid}/fd/${wait.fd}`);
          const inode = link === undefined ? null : socketInode(link);
          if (inode !== null) {
            blocked = "net";
            const socket = this.tcpOf(record.pid).get(inode);
            if (socket) endpoints = [socket.remote];
          }
        } else if (wait.kind === "multiplex") {
          endpoints = this.establishedRemotes(record.pid);
          if (endpoints.length > 0) blocked = "net";
        }
      }
      // A thread without a mark started during this tick (or the tree is new): all its time is this tick's.
      const runDelta = (sched.runNs - (previous?.runNs ?? 0)) / 1e9;
      const delayDelta = (sched.delayNs - (previous?.delayNs ?? 0)) / 1e9;
      const split = splitThreadTick(intervalSeconds, runDelta, delayDelta, blocked);
      addThreadSeconds(into, split);
      if (blocked === "net" && endpoints.length > 0) {
        const share = split.net / endpoints.length;
        for (const endpoint of endpoints)
          execution.endpoints.set(endpoint, (execution.endpoints.get(endpoint) ?? 0) + share);
      }
      marks.set(tid, { ...sched, blocked, endpoints });
    }
    for (const tid of record.threads.keys()) {
      if (!marks.has(tid)) this.reader.forgetPrefix(`${base}/${tid}/`);
    }
    record.threads = marks;
    return threads;
  }

  private tcpOf(pid: number): Map<number, TcpSocket> {
    const netns = readLink(`${this.procRoot}/${pid}/ns/net`) ?? "host";
    let table = this.tcpCache.get(netns);
    if (!table) {
      table = new Map();
      for (const file of ["tcp", "tcp6"]) {
        const text = this.reader.read(`${this.procRoot}/${pid}/net/${file}`);
        if (text !== undefined) parseNetTcp(text, table);
      }
      this.tcpCache.set(netns, table);
    }
    return table;
  }

  private establishedRemotes(pid: number): string[] {
    const remotes: string[] = [];
    for (const target of this.fdTargets(pid)) {
      const inode = socketInode(target);
      if (inode === null) continue;
      const socket = this.tcpOf(pid).get(inode);
      if (socket && socket.state === TCP_ESTABLISHED) remotes.push(socket.remote);
    }
    return remotes;
  }

  private measure(execution: ExecutionState, now: number, host: HostReading): NewSample | null {
    const previous = execution.previous;
    const intervalSeconds = previous ? (now - previous.atMs) / 1000 : 0;
    let treeTicks = execution.carryTicks;
    let readBytes: number | null = execution.carryRead;
    let writeBytes: number | null = execution.carryWrite;
    let rssBytes = 0;
    let alive = 0;
    let threads = 0;
    const times = emptyThreadSeconds();
    for (const record of execution.processes.values()) {
      if (!record.alive) continue;
      alive++;
      treeTicks += record.ownTicks + record.childTicks;
      rssBytes += record.rssBytes;
      if (record.readBytes === null || readBytes === null) readBytes = null;
      else readBytes += record.readBytes;
      if (record.writeBytes === null || writeBytes === null) writeBytes = null;
      else writeBytes += record.writeBytes;
      if (intervalSeconds > 0) threads += this.threadTimes(execution, record, intervalSeconds, times);
      else this.threadTimes(execution, record, 0, emptyThreadSeconds());
    }
    const counters =
      execution.ownCgroup && execution.cgroup ? readCgroupCounters(this.reader, execution.cgroup) : null;
    const cpuSeconds = counters?.cpuSeconds ?? treeTicks / CLOCK_TICKS_PER_SECOND;
    let net: { rxBytes: number; txBytes: number } | null = null;
    if (execution.ownNetns !== null)
      net = parseNetDev(this.reader.read(`${this.procRoot}/${execution.rootPid}/net/dev`) ?? "");
    const started = execution.startedThisTick;
    execution.startedThisTick = 0;
    execution.churnThisTick = false;
    const current: Previous = { atMs: now, cpuSeconds, readBytes, writeBytes, net, counters };
    // Gaps under 10 ms (a final tick right after a regular one) would give noisy rates and a duplicate ts.
    if (!previous || now - previous.atMs < 10) {
      if (!previous) execution.previous = current;
      return null;
    }
    execution.previous = current;
    const delta = (a: number | null | undefined, b: number | null | undefined) =>
      a === null || a === undefined || b === null || b === undefined ? null : Math.max(a - b, 0);
    const cpuDelta = Math.max(cpuSeconds - previous.cpuSeconds, 0);
    execution.reportedCpuSeconds += cpuDelta;
    const pressureOf = (name: "cpu" | "memory" | "io"): number | null => {
      const own = counters?.pressure[name]?.some?.totalUs;
      const before = previous.counters?.pressure[name]?.some?.totalUs;
      const stalledUs = own !== undefined && before !== undefined ? own - before : host.pressure[name];
      return stalledUs === null ? null : Math.min(Math.max(stalledUs / 1e6 / intervalSeconds, 0), 1);
    };
    const throttling = counters?.throttling;
    const previousThrottling = previous.counters?.throttling;
    return {
      executionId: execution.id,
      ts: new Date(now),
      intervalSeconds,
      cpuCores: cpuDelta / intervalSeconds,
      cpuSecondsTotal: execution.reportedCpuSeconds,
      rssBytes: alive > 0 ? rssBytes : null,
      diskReadBytes: delta(readBytes, previous.readBytes),
      diskWriteBytes: delta(writeBytes, previous.writeBytes),
      netRxBytes: delta(net?.rxBytes, previous.net?.rxBytes),
      netTxBytes: delta(net?.txBytes, previous.net?.txBytes),
      onCpuSeconds: times.onCpu,
      cpuWaitSeconds: times.cpuWait,
      diskWaitSeconds: times.disk,
      netWaitSeconds: times.net,
      childWaitSeconds: times.child,
      idleSeconds: times.idle,
      threads,
      processesAlive: alive,
      processesStarted: started,
      throttledPeriods: delta(throttling?.throttledPeriods, previousThrottling?.throttledPeriods),
      totalPeriods: delta(throttling?.periods, previousThrottling?.periods),
      throttledSeconds: delta(throttling?.throttledSeconds, previousThrottling?.throttledSeconds),
      oomKills: delta(counters?.oomKills, previous.counters?.oomKills),
      psiCpuSome: pressureOf("cpu"),
      psiMemorySome: pressureOf("memory"),
      psiIoSome: pressureOf("io"),
      hostLoad1: host.load1,
    };
  }

  private executionRow(execution: ExecutionState): NewExecution {
    const attribution = execution.attribution;
    return {
      id: execution.id,
      orchestrator: attribution.orchestrator,
      pipeline: attribution.pipeline,
      task: attribution.task,
      runId: execution.runId,
      tryNumber: attribution.tryNumber ?? 1,
      mapIndex: attribution.mapIndex ?? -1,
      hostId: this.options.hostId,
      attribution: attribution.source,
      rootPid: execution.rootPid,
      rootStartTicks: execution.rootStartTicks,
      cgroupPath: execution.cgroup?.path ?? null,
      startedAt: execution.startedAt,
      endedAt: execution.endedAt,
      exitCode: execution.exitCode,
      status: execution.status,
      ...execution.resources,
      endpoints: execution.endpoints.size > 0 ? topEndpoints(execution.endpoints) : null,
    };
  }

  private processRow(execution: ExecutionState, record: ProcessRecord): NewProcess {
    return {
      executionId: execution.id,
      pid: record.pid,
      startTicks: record.startTicks,
      ppid: record.ppid,
      command: record.comm,
      argv: record.argv ? this.options.redact(record.argv).join(" ") : null,
      firstSeen: new Date(record.firstSeenMs),
      lastSeen: new Date(record.lastSeenMs),
      cpuSeconds: record.ownTicks / CLOCK_TICKS_PER_SECOND,
      peakRssBytes: record.peakRssBytes,
      readBytes: record.readBytes,
      writeBytes: record.writeBytes,
      exited: !record.alive,
    };
  }
}
