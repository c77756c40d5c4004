/**
 * The sampler: follows task process trees and turns each tick into one sample per execution.
 *
 * A thin coordinator. Discovery (discovery.ts) finds task roots host-wide, the process tree
 * (process-tree.ts) follows each tree's members, thread waits (thread-waits.ts) split each thread's
 * tick, host readings (host-reading.ts) are shared by every sample, and the arithmetic of a sample from
 * two readings is pure (sample-math.ts); rows.ts maps state to rows.
 *
 * Everything here is synchronous procfs reading and never awaits the database: rows go to a
 * {@link SampleSink} (the writer), which only buffers. Two loops drive it (collector/tracking/loop.ts): `tick()`
 * every interval, and `poll()` every ~10 ms, which reads only the children lists of tracked trees so
 * short-lived subprocesses are seen and counted at a cost proportional to the trees, not the host.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../common/logger.js";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewHostSample } from "../../db/queries/host-samples.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { NewSample } from "../../db/queries/samples.js";
import type { LogTemplate } from "../attribution/airflow-log-template.js";
import type { Attribution } from "../attribution/attribution.js";
import type { PodSource } from "../attribution/kubernetes-client.js";
import { parseStatusUid, type TrustPolicy } from "../attribution/trust.js";
import {
  type CgroupLayout,
  cgroupHoldsOnly,
  detectCgroupLayout,
  locateCgroup,
  readCgroupCounters,
  readCgroupResources,
  type TaskCgroup,
} from "../procfs/cgroup.js";
import { type HostReading, HostReader, listWholeDisks, measurePageSize } from "../procfs/host-reading.js";
import { ProcReader, readLink } from "../procfs/proc-reader.js";
import {
  type AccountingMode,
  type ExitSource,
  openExitSource,
  pollExitSource,
} from "../procfs/process-accounting.js";
import {
  CLOCK_TICKS_PER_SECOND,
  parseHostStat,
  parseLoadavg,
  parseNetDev,
  type ProcStat,
} from "../procfs/procfs-parse.js";
import * as selfCheck from "./cpu-self-check.js";
import { Discovery, refineFromDescendants } from "./discovery.js";
import { countStarts, type ExecutionState, takeDeparted, takeStarts } from "./execution-state.js";
import { creditTickCpu, ExitLedger } from "./exit-ledger.js";
import { ProcessTree, type RootIo } from "./process-tree.js";
import { executionRow, hostSampleRow, processRow } from "./rows.js";
import {
  emptyCarry,
  type ExecutionReading,
  readingCpuSeconds,
  sampleBetween,
  tickWallSplit,
  type TreeReading,
  treeTotals,
  unseenStarts,
  zeroReading,
} from "./sample-math.js";
import { emptyThreadSeconds, emptyWallProducts } from "./thread-state.js";
import { ThreadWaits } from "./thread-waits.js";

/** A tree that spawned within this long is polled at full rate. */
const HOT_TREE_MS = 2000;
/** A quiet tree's children are read this often: its first child of a burst is seen within this. */
const QUIET_TREE_POLL_MS = 200;

/** Where the sampler's rows go: the writer's buffering calls. */
export interface SampleSink {
  execution(row: NewExecution): void;
  samples(rows: NewSample[]): void;
  processes(rows: NewProcess[]): void;
  /** The host's own samples: only a sink that stores them has it (the `collect` daemon's writer). */
  hostSamples?(rows: NewHostSample[]): void;
}

export interface SamplerOptions {
  procRoot: string;
  cgroupRoot: string;
  hostId: string;
  sink: SampleSink;
  logger: Logger;
  /** Redacts argv before it is stored (collector/storage/redact.ts). */
  redact: (argv: string[]) => string[];
  /** Nominal tick, to decide whether a just-discovered process is young enough to count from zero. */
  intervalMs: number;
  /** Page size for stat's rss; measured from /proc/self when omitted. */
  pageSize?: number;
  /** Wall clock in ms; tests may pass their own. */
  now?: () => number;
  /** Collect mode: configured log templates and pod metadata for discovery (collector/attribution/process-attributor.ts). */
  attribution?: { logTemplates?: readonly LogTemplate[]; pods?: PodSource | null };
  /** Whose processes discovery may attribute (collector/attribution/trust.ts); absent: everyone's. */
  trust?: TrustPolicy;
  /**
   * Where exited processes are read from (process-accounting.ts): BSD process accounting when it can be
   * turned on, else the poll. Omitted: the poll.
   */
  accounting?: { mode: AccountingMode; stateDir: string };
  /** Exited processes from a source of one's own (records read elsewhere), in place of `accounting`. */
  exits?: ExitSource;
  /**
   * Record the host's own samples (db/schema.ts hostSamples) on each tick a task runs: the `collect`
   * daemon, the one collector per host. `sysRoot` holds the block devices (/sys unless tests say).
   */
  hostSamples?: { sysRoot: string };
  /** Sees each ended execution's CPU self-check (collector/tracking/cpu-self-check.ts): `collect`'s histogram. */
  onCpuCheck?: (check: selfCheck.CpuCheck) => void;
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
  /** The Kubernetes pod it runs in, as stored. */
  podUid?: string | null;
}

export class Sampler {
  readonly reader = new ProcReader();
  private readonly procRoot: string;
  private readonly layout: CgroupLayout | null;
  private readonly now: () => number;
  private readonly executions = new Map<string, ExecutionState>();
  private readonly tree: ProcessTree;
  private readonly waits: ThreadWaits;
  private readonly discovery: Discovery;
  private readonly host: HostReader;
  private readonly bootTimeSeconds: number | null;
  /** Seconds since boot when this sampler started: roots started later are counted from their start. */
  private readonly startedAtUptime: number | null;
  private readonly hostNetns: string | undefined;
  /** Where exited processes come from: accounting records, or nothing (the poll). */
  readonly exits: ExitSource;
  /** Accounting records to processes (exit-ledger.ts). */
  private readonly ledger: ExitLedger;
  private ticks = 0;
  private lastPidSeen: number | null = null;
  private lastPolledPid: number | null = null;
  private readonly refineSources: Parameters<typeof refineFromDescendants>[1];

  constructor(private readonly options: SamplerOptions) {
    this.procRoot = options.procRoot;
    this.layout = detectCgroupLayout(options.cgroupRoot);
    this.now = options.now ?? Date.now;
    const pageSize = options.pageSize ?? measurePageSize(this.reader, this.procRoot);
    this.exits =
      options.exits ??
      (options.accounting
        ? openExitSource({ ...options.accounting, logger: options.logger, procRoot: this.procRoot })
        : pollExitSource);
    this.tree = new ProcessTree(this.reader, this.procRoot, pageSize, this.now, this.exits.method === "acct");
    this.waits = new ThreadWaits(this.reader, this.procRoot);
    this.discovery = new Discovery({
      reader: this.reader,
      procRoot: this.procRoot,
      logger: options.logger,
      tree: this.tree,
      fdTargets: (pid) => this.waits.fdTargets(pid),
      ...options.attribution,
      trust: options.trust,
    });
    this.host = new HostReader(
      this.reader,
      this.procRoot,
      options.hostSamples ? listWholeDisks(options.hostSamples.sysRoot) : undefined,
    );
    this.startedAtUptime = this.host.uptimeSeconds();
    this.refineSources = {
      reader: this.reader,
      procRoot: this.procRoot,
      fdTargets: (pid) => this.waits.fdTargets(pid),
    };
    const stat = this.reader.read(`${this.procRoot}/stat`);
    this.bootTimeSeconds = stat === undefined ? null : parseHostStat(stat).bootTimeSeconds;
    this.ledger = new ExitLedger(this.bootTimeSeconds, this.tree.owner, this.tree.recordedExits);
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
    const stat = this.tree.readStat(root.pid);
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
    if (stat) this.tree.adopt(execution, stat, root.startedAtMs);
    this.options.sink.execution(executionRow(execution, this.options.hostId));
    return execution.id;
  }

  /** Resumes executions a previous collector left open whose root still runs (same pid and start). */
  resume(previous: ResumedExecution): boolean {
    const stat = this.tree.readStat(previous.rootPid);
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
    // Its pod stays on the row, and the pod spec's requests are read again once the pod is listed.
    if (previous.podUid) {
      execution.pod = { podUid: previous.podUid, containerId: null };
      execution.podSpecPending = true;
    }
    this.tree.adopt(execution, stat, this.now());
    return true;
  }

  /**
   * The root's exact final CPU and storage bytes (own + reaped children's), as its parent got them on
   * reaping it: `run` reads them from its own children's times and io (process-tree.ts settleRoot). Call
   * before the final tick.
   */
  settleRoot(id: string, totalSeconds: number, io: RootIo | null = null): void {
    const execution = this.executions.get(id);
    if (execution && execution.endedAt === null) {
      execution.cpuCheck.wait4Seconds = totalSeconds;
      execution.settledTicks += this.tree.settleRoot(
        execution,
        Math.round(totalSeconds * CLOCK_TICKS_PER_SECOND),
        io,
      );
    }
  }

  /** Whether a process with this identity is alive now. */
  isAlive(pid: number, startTicks: number): boolean {
    const stat = this.tree.readStat(pid);
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
    this.tree.release(execution);
    const rows: NewProcess[] = [];
    for (const record of execution.processes.values()) rows.push(this.processRow(execution, record));
    for (const record of takeDeparted(execution)) rows.push(this.processRow(execution, record));
    execution.cpuCheck.processesSeen += rows.length;
    this.options.sink.processes(rows);
    this.options.sink.execution(executionRow(execution, this.options.hostId));
    selfCheck.reportCpuCheck(execution.id, execution.cpuCheck, this.options.logger, this.options.onCpuCheck);
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

  /** Releases kept file descriptors and leaves process accounting (the last user turns it off). */
  close(): void {
    this.reader.close();
    this.exits.close();
  }

  /** Task-shaped processes discovery ignored because the trust model refused them. */
  untrustedRoots(): number {
    return this.discovery.untrustedRoots;
  }

  /** Finds new attributed task roots host-wide (collect mode) and starts following them. */
  discover(): void {
    for (const root of this.discovery.findRoots()) {
      const { pid, stat, attribution } = root;
      if (this.joinOpenExecution(root)) continue;
      const ageSeconds = this.host.ageSeconds(stat.startTicks);
      const startedAtMs =
        this.bootTimeSeconds === null
          ? this.now()
          : (this.bootTimeSeconds + stat.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
      const cgroup = locateCgroup(this.reader, this.procRoot, pid, this.layout);
      const execution = this.newExecution({
        id: randomUUID(),
        attribution,
        rootPid: pid,
        rootStartTicks: stat.startTicks,
        startedAt: new Date(startedAtMs),
        cgroup,
        ownCgroup:
          cgroup !== null && cgroup.path !== "/" && cgroupHoldsOnly(this.reader, cgroup, new Set([pid])),
        // Everything it used is the task's when it started after this collector did (discovery can be
        // late: a title set after start-up, a busy host), or within two ticks of its first sight: count
        // from zero. A task already running when the collector started is counted from now on.
        countFromZero:
          (this.startedAtUptime !== null &&
            stat.startTicks / CLOCK_TICKS_PER_SECOND >= this.startedAtUptime) ||
          (ageSeconds !== null && ageSeconds * 1000 < 2 * this.options.intervalMs),
      });
      execution.pod = root.pod;
      execution.podSpecPending = root.pod !== null;
      this.discovery.applyPodSpec(execution);
      this.tree.adopt(execution, stat, this.now());
      this.options.logger.info({ execution: execution.id, pid, ...attribution }, "task execution discovered");
      this.options.sink.execution(executionRow(execution, this.options.hostId));
    }
    const now = this.now();
    for (const pid of this.discovery.takeChildrenOfTracked()) this.adoptNewChild(pid, now);
    // Pod specs listed since (the API answers off the tick): their requests join the execution's row.
    for (const execution of this.executions.values()) {
      if (execution.podSpecPending && execution.endedAt === null && this.discovery.applyPodSpec(execution))
        this.options.sink.execution(executionRow(execution, this.options.hostId));
    }
  }

  /**
   * Fast inner poll: children lists of tracked trees only, so short-lived children are seen.
   * `everyTree` reads every tree whatever the gates (for measuring the busy-host cost). Returns whether
   * any tree is busy (spawned lately): the loop polls fast only then.
   */
  poll(everyTree = false): boolean {
    if (!this.pollNeeded()) return false;
    // With process accounting, every exited process leaves a record the next tick reads: the children
    // lists need no polling, only a `run` root's own counters (below).
    const childrenPolled = everyTree || this.exits.method === "poll";
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
      const due = childrenPolled && (everyTree || (forked && (hot || quietDue)));
      if (due) execution.lastPolledMs = now;
      if (!due && !execution.watchRoot) continue;
      for (const record of [...execution.processes.values()]) {
        if (!record.alive) continue;
        const young = record.looks < 3 && record.firstSeenMs !== now;
        // `run`: the root's parent is the wrapper, which settles its exact CPU and storage bytes when it
        // reaps it (settleRoot). Re-read each poll, the tree's own sum (the CPU self-check's) misses only
        // its last ~10 ms, and its last moments are shared among its chain as they went.
        const root = execution.watchRoot && record.pid === execution.rootPid;
        if ((young && due) || root) {
          // Young: re-read to catch its exec (a forked shell becoming `gzip`) and its last CPU time.
          if (young) record.looks++;
          const stat = this.tree.readStat(record.pid, root);
          if (stat && stat.startTicks === record.startTicks) {
            this.tree.refresh(record, stat, now);
            if (root) this.tree.readProcessIo(record);
          }
        }
        if (due) this.tree.findChildren(execution, record, now);
      }
    }
    return anyHot;
  }

  /**
   * Whether polls between ticks do anything: children lists are polled only without accounting, and a
   * `run` root's counters always (see poll). The loop sleeps until the next tick otherwise.
   */
  pollNeeded(): boolean {
    if (this.exits.method === "poll") return true;
    for (const execution of this.executions.values())
      if (execution.watchRoot && execution.endedAt === null) return true;
    return false;
  }

  /** One tick: every tracked tree's measures, one sample per execution. */
  tick(): void {
    const now = this.now();
    this.ticks++;
    this.waits.beginTick();
    const host = this.host.read(now);
    // Before the walks: a process gone from /proc has its record written already (the kernel writes it
    // in do_exit, before the process becomes a zombie), so its exact final CPU is known when it departs;
    // a walk that finds members gone reads again, for those that exited since.
    const readExits = () => {
      try {
        this.ledger.apply(this.exits.readNew(), now, this.executions);
      } catch (error) {
        this.options.logger.error(
          { err: error },
          "reading process accounting failed; exits polled this tick",
        );
      }
    };
    readExits();
    const rows: NewSample[] = [];
    const processRows: NewProcess[] = [];
    for (const execution of this.executions.values()) {
      if (execution.endedAt !== null) continue;
      try {
        this.tree.walk(execution, now, readExits);
        if (refineFromDescendants(execution, this.refineSources))
          this.options.sink.execution(executionRow(execution, this.options.hostId));
      } catch (error) {
        this.options.logger.error({ err: error, execution: execution.id }, "tree walk failed; tick skipped");
      }
    }
    // With accounting every exited process has a record: starts are counted exactly, not estimated.
    if (this.exits.method === "poll") this.attributeUnseenStarts(host);
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
        for (const record of takeDeparted(execution)) {
          execution.cpuCheck.processesSeen++;
          processRows.push(this.processRow(execution, record));
          this.ledger.remember(execution.id, record, this.ticks);
        }
      } catch (error) {
        this.options.logger.error({ err: error, execution: execution.id }, "measuring failed; tick skipped");
      }
    }
    if (rows.length > 0) this.options.sink.samples(rows);
    if (processRows.length > 0) this.options.sink.processes(processRows);
    const hostRow =
      this.options.hostSamples && rows.length > 0 ? hostSampleRow(this.options.hostId, now, host) : null;
    if (hostRow) this.options.sink.hostSamples?.([hostRow]);
    this.ledger.forgetBefore(this.ticks);
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

  private processRow(execution: ExecutionState, record: Parameters<typeof processRow>[1]): NewProcess {
    return processRow(execution, record, this.options.redact);
  }

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
    const resources = cgroup && this.layout ? readCgroupResources(this.reader, cgroup, this.layout) : null;
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
      pod: null,
      podSpecPending: false,
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
      previous: init.countFromZero ? zeroReading(init.startedAt.getTime()) : null,
      carry: emptyCarry(),
      reportedCpuSeconds: 0,
      endpoints: new Map(),
      ownNetns: null,
      startedThisTick: 0,
      churnThisTick: false,
      // A task spawns most at its start: poll it at full rate from the beginning.
      lastChurnMs: this.now(),
      watchRoot: false,
      rootLastSeenMs: init.startedAt.getTime(),
      rootLastTicks: 0,
      rootChain: [],
      outsideParents: new Map(),
      rootFinalTicks: null,
      settledTicks: 0,
      lastPolledMs: 0,
      status: "running",
      endedAt: null,
      exitCode: null,
      uid: parseStatusUid(this.reader.read(`${this.procRoot}/${init.rootPid}/status`)),
      cpuCheck: selfCheck.newCpuCheck(init.countFromZero),
    };
    const netns = readLink(`${this.procRoot}/${init.rootPid}/ns/net`);
    if (netns !== undefined && this.hostNetns !== undefined && netns !== this.hostNetns)
      execution.ownNetns = netns;
    this.executions.set(execution.id, execution);
    return execution;
  }

  /**
   * A task-shaped process whose attribution names an execution already followed (the same task key, run,
   * try and map index) is that execution's: a double-forked grandchild reparented before any tick saw it,
   * which inherited the task's environment. It joins the tree while the root lives (its exit is carried:
   * its reaper is outside). Without a run id nothing says it is the same run; and an orphan went to
   * init or to a subreaper above the root (the nearest one above its lost parent), so a process started
   * before the root or under another parent is another process of that name (a second copy of the task
   * started by hand, or by a test beside this one).
   */
  private joinOpenExecution(root: { pid: number; stat: ProcStat; attribution: Attribution }): boolean {
    const wanted = root.attribution;
    if (wanted.runId === null) return false;
    for (const execution of this.executions.values()) {
      const known = execution.attribution;
      const same =
        execution.endedAt === null &&
        known.orchestrator === wanted.orchestrator &&
        known.pipeline === wanted.pipeline &&
        known.task === wanted.task &&
        known.runId === wanted.runId &&
        known.tryNumber === wanted.tryNumber &&
        known.mapIndex === wanted.mapIndex;
      // Read now: the root's last reading is a tick old, and an orphan of an ended task is not its.
      if (!same || !this.isAlive(execution.rootPid, execution.rootStartTicks)) continue;
      if (root.stat.startTicks < execution.rootStartTicks) continue;
      if (root.stat.ppid !== 1 && !this.ancestorsOf(execution.rootPid).has(root.stat.ppid)) continue;
      this.tree.adopt(execution, root.stat, this.now());
      countStarts(execution, 1, null);
      this.options.logger.info(
        { execution: execution.id, pid: root.pid },
        "a process outside the task's tree with its attribution joined it",
      );
      return true;
    }
    return false;
  }

  /** The pids above `pid` up to init, as /proc says now. */
  private ancestorsOf(pid: number): Set<number> {
    const above = new Set<number>();
    for (let at = this.tree.readStat(pid)?.ppid; at !== undefined && at > 0 && !above.has(at);) {
      above.add(at);
      at = this.tree.readStat(at)?.ppid;
    }
    return above;
  }

  /** A new process discovery found under a tracked parent joins the parent's tree. */
  private adoptNewChild(pid: number, now: number): void {
    const stat = this.tree.readStat(pid);
    if (!stat) return;
    const execution = this.executions.get(this.tree.owner.get(stat.ppid) ?? "");
    const parent = execution?.processes.get(stat.ppid);
    if (execution && parent?.alive) this.tree.adoptChild(execution, parent, stat, now);
  }

  /** Charges pids no tree accounts for to the one tree that churned this tick (sample-math.ts). */
  private attributeUnseenStarts(host: HostReading): void {
    const previousLastPid = this.lastPidSeen;
    this.lastPidSeen = host.lastPid;
    const knownAllocations = this.tree.takeAdoptedSinceTick();
    const otherAllocations = this.discovery.takeOtherAllocations();
    const churning = [...this.executions.values()].filter((e) => e.endedAt === null && e.churnThisTick);
    const unseen = unseenStarts({
      previousLastPid,
      lastPid: host.lastPid,
      knownAllocations,
      otherAllocations,
      churningTrees: churning.length,
    });
    if (unseen > 0) countStarts(churning[0]!, unseen, null);
  }

  /** One execution's sample of this tick: what the files say now, then the arithmetic against the last. */
  private measure(execution: ExecutionState, now: number, host: HostReading): NewSample | null {
    const previous = execution.previous;
    const intervalSeconds = previous ? (now - previous.atMs) / 1000 : 0;
    const reading = this.readExecution(execution, now, intervalSeconds);
    selfCheck.recordCpuReading(
      execution.cpuCheck,
      reading.totals,
      execution.settledTicks,
      reading.current.counters,
    );
    const started = takeStarts(execution);
    if (!previous) {
      execution.previous = reading.current;
      // CPU before the first reading is not in any sample: the split starts from here too.
      for (const record of execution.processes.values())
        record.countedOwnSeconds = record.ownTicks / CLOCK_TICKS_PER_SECOND;
      return null;
    }
    const result = sampleBetween(previous, reading.current, {
      reportedCpuSeconds: execution.reportedCpuSeconds,
      totals: reading.totals,
      threadSeconds: reading.threadSeconds,
      wallSeconds: tickWallSplit(reading, previous, intervalSeconds),
      threads: reading.threads,
      processesStarted: started,
      hostPressureUs: host.pressure,
      hostLoad1: host.load1,
    });
    if (!result) return null;
    execution.previous = reading.current;
    if (this.exits.method === "acct")
      creditTickCpu(execution, result.reportedCpuSeconds - execution.reportedCpuSeconds);
    execution.reportedCpuSeconds = result.reportedCpuSeconds;
    return { executionId: execution.id, ...result.sample };
  }

  /**
   * What this tick reads of an execution beyond the walk: its threads' states and waits, its own cgroup's
   * counters, its network namespace's bytes.
   */
  private readExecution(execution: ExecutionState, now: number, intervalSeconds: number): ExecutionReading {
    const totals = treeTotals(execution.processes.values(), execution.carry);
    let threads = 0;
    const threadSeconds = emptyThreadSeconds();
    const wall = emptyWallProducts();
    for (const record of execution.processes.values()) {
      if (!record.alive) continue;
      if (intervalSeconds > 0)
        threads += this.waits.threadTimes(execution, record, intervalSeconds, threadSeconds, wall);
      else this.waits.threadTimes(execution, record, 0, emptyThreadSeconds());
    }
    const counters =
      execution.ownCgroup && execution.cgroup ? readCgroupCounters(this.reader, execution.cgroup) : null;
    const net =
      execution.ownNetns === null
        ? null
        : parseNetDev(this.reader.read(`${this.procRoot}/${execution.rootPid}/net/dev`) ?? "");
    return {
      totals,
      threads,
      threadSeconds,
      wall,
      current: {
        atMs: now,
        cpuSeconds: readingCpuSeconds(totals, counters),
        readBytes: totals.readBytes,
        writeBytes: totals.writeBytes,
        net,
        counters,
      },
    };
  }
}
