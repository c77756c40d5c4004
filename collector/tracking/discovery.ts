/**
 * Finds new task roots host-wide (collect mode), and refines a tree's attribution from its descendants.
 * Lists /proc, or probes only the pids handed out since the last look, and reads each new pid a few
 * times (a process may exec or open its task log after it starts), then never again.
 */
import type { Logger } from "../../common/logger.js";
import { mayHoldAirflowLog } from "../attribution/airflow-attribution.js";
import type { LogTemplate } from "../attribution/airflow-log-template.js";
import { type Attribution, refineAttribution, resolveAttribution } from "../attribution/attribution.js";
import type { PodSource } from "../attribution/kubernetes-client.js";
import type { PodPlace } from "../attribution/kubernetes-pods.js";
import { ProcessAttributor } from "../attribution/process-attributor.js";
import { isTrusted, parseStatusUid, type TrustPolicy } from "../attribution/trust.js";
import { listDir, type ProcReader } from "../procfs/proc-reader.js";
import { type ProcStat, parseEnviron, parseLoadavg, parseProcCgroup } from "../procfs/procfs-parse.js";
import type { ExecutionState } from "./execution-state.js";
import type { ProcessTree } from "./process-tree.js";

/** Discovery lists all of /proc every this many ticks (else it probes only the pids handed out since). */
const FULL_LISTING_EVERY = 10;
/** More new pids than this since the last tick: listing /proc is cheaper than probing each. */
const MAX_PROBED_PIDS = 2000;

/** A process that resolved to a task and has no tracked or candidate ancestor: a new execution's root. */
export interface DiscoveredRoot {
  pid: number;
  stat: ProcStat;
  attribution: Attribution;
  /** The pod it runs in, when its cgroup names one. */
  pod: PodPlace | null;
}

export interface DiscoveryOptions {
  reader: ProcReader;
  procRoot: string;
  logger: Logger;
  tree: ProcessTree;
  /** Open fd targets of a process (thread-waits.ts caches them per tick). */
  fdTargets: (pid: number) => string[];
  /** `collector.airflowLogTemplate`, compiled. */
  logTemplates?: readonly LogTemplate[];
  /** Pod metadata (collector/attribution/kubernetes-client.ts); null or absent outside Kubernetes. */
  pods?: PodSource | null;
  /** Whose processes may become executions (collector/attribution/trust.ts); absent: everyone's. */
  trust?: TrustPolicy;
}

export class Discovery {
  /** Host pids known from /proc listings: pid → the listing that last saw it. */
  private readonly known = new Map<number, number>();
  /** New pids still to be examined for attribution: pid → times examined. */
  private readonly pending = new Map<number, number>();
  private generation = 0;
  /** Discovery has looked at every pid up to this one (null: not yet). */
  private probedUpTo: number | null = null;
  private probing = true;
  private readonly probeFound = new Set<number>();
  /** Pids the collector knows went elsewhere since the last tick (not to tracked trees). */
  private otherAllocations = 0;
  /** New processes whose parent is tracked, seen since the last call: the tree adopts them. */
  private childrenOfTracked: number[] = [];
  /** Task-shaped processes the trust model refused (collector/attribution/trust.ts). */
  untrustedRoots = 0;

  /** Reads what a new process shows and decides whether it starts an execution. */
  private readonly attributor: ProcessAttributor;

  constructor(private readonly options: DiscoveryOptions) {
    this.attributor = new ProcessAttributor(options);
  }

  /**
   * Fills requests and limits from the execution's pod spec (source `pod-spec`) once it is listed.
   * Returns true when the execution changed.
   */
  applyPodSpec(execution: ExecutionState): boolean {
    if (!execution.pod || !execution.podSpecPending) return false;
    const spec = this.attributor.podResources(execution.pod);
    if (spec === "pending") return false;
    execution.podSpecPending = false;
    if (spec === null) return false;
    const resources = execution.resources;
    // The pod spec is what was asked for; the cgroup only mirrors it (and holds no request on cgroup v1
    // with CFS quota alone), so the spec wins where it speaks.
    if (spec.requestCpuCores !== null || spec.limitCpuCores !== null) {
      resources.requestCpuCores = spec.requestCpuCores;
      resources.limitCpuCores = spec.limitCpuCores;
      resources.cpuSource = "pod-spec";
    }
    if (spec.requestMemoryBytes !== null || spec.limitMemoryBytes !== null) {
      resources.requestMemoryBytes = spec.requestMemoryBytes;
      resources.limitMemoryBytes = spec.limitMemoryBytes;
      resources.memorySource = "pod-spec";
    }
    return true;
  }

  /** Pids known to have gone to untracked processes since the last call; resets the count. */
  takeOtherAllocations(): number {
    const others = this.otherAllocations;
    this.otherAllocations = 0;
    return others;
  }

  /**
   * New processes found with a tracked parent since the last call (their tree adopts them: the walk
   * reads children lists once a tick, and this catches what it cannot, such as a child of a thread that
   * started after the last tick); resets the list.
   */
  takeChildrenOfTracked(): number[] {
    const pids = this.childrenOfTracked;
    this.childrenOfTracked = [];
    return pids;
  }

  /** New task roots since the last look. */
  findRoots(): DiscoveredRoot[] {
    const { reader, procRoot, tree } = this.options;
    const lastPid = parseLoadavg(reader.readKept(`${procRoot}/loadavg`) ?? "")?.lastPid ?? null;
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
    const candidates = new Map<number, { stat: ProcStat; attribution: Attribution; pod: PodPlace | null }>();
    this.attributor.beginPass();
    for (const [pid, examined] of this.pending) {
      if (examined >= 2 || tree.owner.has(pid) || pid === process.pid) this.pending.delete(pid);
      else this.pending.set(pid, examined + 1);
      if (tree.owner.has(pid) || pid === process.pid) continue;
      const stat = tree.readStat(pid);
      // Kernel threads (children of kthreadd, pid 2) have no environment or argv worth reading, and a
      // tracked process's child is its tree's.
      if (!stat || pid === 2 || stat.ppid === 2 || tree.owner.has(stat.ppid)) {
        if (stat && tree.owner.has(stat.ppid)) this.childrenOfTracked.push(pid);
        this.pending.delete(pid);
        continue;
      }
      const found = this.attributor.resolve(pid, stat);
      if (found === "wrapped") this.pending.delete(pid);
      // Only pod metadata not listed yet could tell: look again next tick.
      else if (found === "wait") this.pending.set(pid, Math.min(examined, 1));
      else if (found && !this.trusted(pid, found.attribution)) this.pending.delete(pid);
      else if (found) candidates.set(pid, { stat, ...found });
    }
    const roots: DiscoveredRoot[] = [];
    for (const [pid, candidate] of candidates) {
      if (this.hasTrackedOrCandidateAncestor(candidate.stat.ppid, candidates)) continue;
      this.pending.delete(pid);
      roots.push({ pid, ...candidate });
    }
    return roots;
  }

  /** A freshly allocated pid: a new process when it is a thread-group leader (threads share the pid space). */
  private probePid(pid: number, generation: number): void {
    const status = this.options.reader.read(`${this.options.procRoot}/${pid}/status`);
    if (status === undefined) return;
    const tgid = Number(/\nTgid:\s*(\d+)/.exec(status)?.[1]);
    if (tgid !== pid) return;
    this.probeFound.add(pid);
    this.known.set(pid, generation);
    // A child of a tracked process is its tree's, never a root of its own: nothing more to read. On a
    // worker whose tasks fork often, that is most new pids.
    const ppid = Number(/\nPPid:\s*(\d+)/.exec(status)?.[1]);
    if (this.options.tree.owner.has(pid)) return;
    if (this.options.tree.owner.has(ppid)) {
      this.childrenOfTracked.push(pid);
      return;
    }
    // Allocated since the last look, so a new process even if an older one once had this pid.
    this.pending.set(pid, 0);
    this.otherAllocations++;
  }

  private listAll(generation: number, checkProbes: boolean): void {
    const entries = listDir(this.options.procRoot) ?? [];
    let missedByProbes = 0;
    for (const entry of entries) {
      const code = entry.charCodeAt(0);
      if (code < 48 || code > 57) continue;
      const pid = Number(entry);
      if (!this.known.has(pid)) {
        this.pending.set(pid, 0);
        if (!this.options.tree.owner.has(pid)) this.otherAllocations++;
        if (checkProbes && !this.probeFound.has(pid)) missedByProbes++;
      }
      this.known.set(pid, generation);
    }
    for (const [pid, seen] of this.known) {
      if (seen !== generation) {
        this.known.delete(pid);
        this.pending.delete(pid);
        this.attributor.forget(pid);
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

  /** The trust check: who runs the process (real uid) and where (cgroup), never what it says it is. */
  private trusted(pid: number, attribution: Attribution): boolean {
    const { trust, reader, procRoot, logger } = this.options;
    if (!trust) return true;
    const uid = parseStatusUid(reader.read(`${procRoot}/${pid}/status`));
    const cgroupPaths = parseProcCgroup(reader.read(`${procRoot}/${pid}/cgroup`) ?? "").map(
      (entry) => entry.path,
    );
    if (isTrusted({ uid, cgroupPaths }, trust)) return true;
    this.untrustedRoots++;
    logger.warn(
      { pid, uid, cgroup: cgroupPaths[0], pipeline: attribution.pipeline, task: attribution.task },
      "task-shaped process of an untrusted user or cgroup ignored (collector.trust)",
    );
    return false;
  }

  private hasTrackedOrCandidateAncestor(ppid: number, candidates: Map<number, unknown>): boolean {
    let pid = ppid;
    // Task roots sit a few levels below a worker; 32 levels bounds a walk through a cyclic or odd tree.
    for (let depth = 0; depth < 32 && pid > 1; depth++) {
      if (this.options.tree.owner.has(pid) || candidates.has(pid)) return true;
      const stat = this.options.tree.readStat(pid);
      if (!stat) return false;
      pid = stat.ppid;
    }
    return false;
  }
}

/**
 * Airflow trees: a descendant's AIRFLOW_CTX_TRY_NUMBER or open log tells the try the root did not.
 * Updates the execution's attribution (and run id) and returns true when it changed.
 */
export function refineFromDescendants(
  execution: ExecutionState,
  options: Pick<DiscoveryOptions, "reader" | "procRoot" | "fdTargets">,
): boolean {
  const attribution = execution.attribution;
  if (attribution.orchestrator !== "airflow" || attribution.tryNumber !== null) return false;
  for (const record of execution.processes.values()) {
    if (!record.alive || record.examined >= 3) continue;
    record.examined++;
    const env = parseEnviron(options.reader.read(`${options.procRoot}/${record.pid}/environ`) ?? "");
    const argv = record.argv ?? [];
    const found = resolveAttribution({
      argv,
      env,
      fdTargets: mayHoldAirflowLog(argv) ? options.fdTargets(record.pid) : [],
    });
    const refined = found ? refineAttribution(execution.attribution, found) : null;
    if (refined) {
      execution.attribution = refined;
      if (refined.runId !== null && execution.runId !== refined.runId && attribution.runId === null)
        execution.runId = refined.runId;
      return true;
    }
  }
  return false;
}
