/**
 * Discovery's attribution of one new process (collect mode): reads what the resolvers look at from /proc
 * (argv, attribution keys at first sight, open files, a `--json-path` file inside the process's root, the
 * pod from its cgroup) and decides whether it starts an execution. The pure decisions are in
 * collector/attribution/attribution.ts, collector/attribution/airflow-attribution.ts and collector/kubernetes-pods.ts.
 */
import type { Logger } from "../../common/logger.js";
import { readFileInRoot } from "../procfs/file-in-root.js";
import { type ProcReader, readLink } from "../procfs/proc-reader.js";
import {
  environLooksClobbered,
  type ProcStat,
  parseCmdline,
  parseEnviron,
  parseStat,
} from "../procfs/procfs-parse.js";
import { mayHoldAirflowLog, MAX_WORKLOAD_FILE_BYTES } from "./airflow-attribution.js";
import type { LogTemplate } from "./airflow-log-template.js";
import {
  type Attribution,
  childOfServing,
  type ProcessFacts,
  type Resolution,
  resolveProcess,
} from "./attribution.js";
import type { PodSource } from "./kubernetes-client.js";
import {
  isTaskContainer,
  type PodPlace,
  type PodResources,
  parsePodCgroup,
  podAttribution,
  podResources,
  withPod,
} from "./kubernetes-pods.js";

export interface AttributorOptions {
  reader: ProcReader;
  procRoot: string;
  logger: Logger;
  /** Open fd targets of a process (cached per tick by the caller). */
  fdTargets: (pid: number) => readonly string[];
  /** `collector.airflowLogTemplate`, compiled. */
  logTemplates?: readonly LogTemplate[];
  /** Pod metadata; null where no Kubernetes API is configured or reachable. */
  pods?: PodSource | null;
}

/** A new execution's root as discovery found it. */
export interface FoundRoot {
  attribution: Attribution;
  /** The pod it runs in, when its cgroup names one. */
  pod: PodPlace | null;
}

/** Pod metadata not listed yet: look again next tick rather than give up (bounded, chosen value). */
const MAX_POD_WAITS = 30;

export class ProcessAttributor {
  /** Attribution keys of processes as first seen: pid → (start, keys). Only processes that had any. */
  private readonly firstSight = new Map<number, { startTicks: number; env: Record<string, string> }>();
  /** Parents resolved during this discovery pass (many children of one worker cost one read). */
  private parents = new Map<number, Resolution | null>();
  private readonly podWaits = new Map<number, number>();

  constructor(private readonly options: AttributorOptions) {}

  /** Starts a discovery pass: parents may have moved on to another task since the last one. */
  beginPass(): void {
    this.parents = new Map();
  }

  /** A pid left the host: drops what was kept about it. */
  forget(pid: number): void {
    this.firstSight.delete(pid);
    this.podWaits.delete(pid);
  }

  /**
   * The attribution keys of a process: as first seen; what it shows now when it exec'd something with keys
   * since; its parent's when its own environment was clobbered by setproctitle before it was first seen.
   */
  envOf(pid: number, startTicks: number, ppid: number | null): Record<string, string> {
    const text = this.options.reader.read(`${this.options.procRoot}/${pid}/environ`) ?? "";
    const kept = this.firstSight.get(pid);
    const fresh = kept === undefined || kept.startTicks !== startTicks;
    if (!environLooksClobbered(text)) {
      const env = parseEnviron(text);
      if (Object.keys(env).length > 0) {
        this.firstSight.set(pid, { startTicks, env });
        return env;
      }
      if (fresh) this.firstSight.delete(pid);
      return fresh ? env : kept.env;
    }
    if (!fresh) return kept.env;
    if (ppid === null) return {};
    const parent = this.firstSight.get(ppid);
    const inherited = parent ? parent.env : {};
    if (Object.keys(inherited).length > 0) this.firstSight.set(pid, { startTicks, env: inherited });
    return inherited;
  }

  private facts(pid: number, env: Record<string, string>): ProcessFacts {
    const { reader, procRoot } = this.options;
    const argv = parseCmdline(reader.read(`${procRoot}/${pid}/cmdline`) ?? "");
    return {
      argv,
      env,
      fdTargets: () => (mayHoldAirflowLog(argv) ? this.options.fdTargets(pid) : []),
      readFile: (path) => {
        // As the process sees it: its root, its working directory; never a link out of that root.
        const cwd = readLink(`${procRoot}/${pid}/cwd`) ?? "/";
        const read = readFileInRoot(`${procRoot}/${pid}/root`, path, MAX_WORKLOAD_FILE_BYTES, cwd);
        if ("refused" in read) {
          this.options.logger.debug({ pid, path, reason: read.refused }, "workload file not read");
          return null;
        }
        return read.text;
      },
      logTemplates: this.options.logTemplates,
    };
  }

  private resolveParent(ppid: number): Resolution | null {
    if (this.parents.has(ppid)) return this.parents.get(ppid)!;
    const text = this.options.reader.read(`${this.options.procRoot}/${ppid}/stat`);
    const stat = text === undefined ? null : parseStat(text);
    const resolution =
      stat === null ? null : resolveProcess(this.facts(ppid, this.envOf(ppid, stat.startTicks, null)));
    this.parents.set(ppid, resolution);
    return resolution;
  }

  private podOf(pid: number): PodPlace | null {
    if (!this.options.pods?.enabled) return null;
    const text = this.options.reader.read(`${this.options.procRoot}/${pid}/cgroup`);
    return text === undefined ? null : parsePodCgroup(text);
  }

  /**
   * Whether a new process starts an execution: its attribution and pod, `wait` when only pod metadata
   * not listed yet could tell, `wrapped` for a `rightsize run` child, or null. Serving processes
   * (workers, supervisors) never start one.
   */
  resolve(pid: number, stat: Pick<ProcStat, "startTicks" | "ppid">): FoundRoot | "wait" | "wrapped" | null {
    const ppid = stat.ppid;
    const env = this.envOf(pid, stat.startTicks, ppid);
    // `rightsize run` samples this one itself.
    if (env.RIGHTSIZE_WRAPPED) return "wrapped";
    const own = resolveProcess(this.facts(pid, env));
    let attribution: Attribution | null = null;
    if (own?.role === "task") attribution = own.attribution;
    else attribution = childOfServing(this.resolveParent(ppid), own);
    const pod = this.podOf(pid);
    if (!pod) return attribution ? { attribution, pod: null } : null;
    // A serving process in a pod (an execute_workload supervisor) is no task, whatever the pod says.
    if (own?.role === "serving" && attribution === null) return null;
    const lookup = this.options.pods!.lookup(pod.podUid);
    if (lookup.state === "pending") {
      if (attribution) return { attribution, pod };
      const waits = (this.podWaits.get(pid) ?? 0) + 1;
      this.podWaits.set(pid, waits);
      return waits > MAX_POD_WAITS ? null : "wait";
    }
    this.podWaits.delete(pid);
    if (lookup.state === "absent") return attribution ? { attribution, pod } : null;
    const fromPod = isTaskContainer(lookup.pod, pod.containerId) ? podAttribution(lookup.pod) : null;
    if (attribution) return { attribution: withPod(attribution, fromPod) ?? attribution, pod };
    // Only the pod tells: the container's first process is the root (its parent is outside the pod).
    if (!fromPod || this.podOf(ppid)?.podUid === pod.podUid) return null;
    return { attribution: fromPod, pod };
  }

  /** Requests and limits from the pod spec, once the pod is listed (null: not yet, or none declared). */
  podResources(pod: PodPlace): PodResources | null | "pending" {
    const lookup = this.options.pods?.lookup(pod.podUid);
    if (!lookup || lookup.state === "absent") return null;
    if (lookup.state === "pending") return "pending";
    return podResources(lookup.pod, pod.containerId);
  }
}
