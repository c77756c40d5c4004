/**
 * Where tasks should run: tasks grouped by what they need (from their bottleneck class and their
 * recommended request), an instance family per group by its GiB per vCPU and its I/O, the placement in
 * each orchestrator's own terms, and the workers the observed load needs: the recommended requests of the
 * runs that ran at once, packed first-fit decreasing onto worker shapes, against the hosts that ran them.
 * Pure functions of plain data (docs/fleet.md "Where tasks should run").
 *
 * What this is and is not: the load is the concurrency observed in the runs' start and end times, not a
 * scheduler simulation; a queue that moved tasks to other workers would have changed when they ran.
 */
import type { BottleneckClass } from "../common/analysis-document.js";
import { needGroupNames } from "../common/fleet-document.js";
import { type TaskKey, taskKeyString } from "../common/task-key.js";
import { GiB } from "../common/units.js";
import type { HostSize } from "../db/queries/fleet.js";
import { roundMicroUsd } from "./recommend.js";

export const needGroups = needGroupNames;
export type NeedGroup = (typeof needGroups)[number];

/**
 * Above 4 GiB per recommended core a task strands CPU on a general-purpose worker (4 GiB per vCPU: AWS M
 * family, GCP n2-standard; https://aws.amazon.com/ec2/instance-types/,
 * https://cloud.google.com/compute/docs/general-purpose-machines), so it is memory-heavy whatever its class.
 */
export const MEMORY_HEAVY_GIB_PER_CORE = 4;

/** What a task is placed by: its class and its recommendation. */
export interface PlacementTask extends TaskKey {
  bottleneck: BottleneckClass;
  cpuCores: number;
  memoryBytes: number;
}

/** The group of what a task needs: memory-heavy by GiB per recommended core first, then by its class. */
export function needOf(task: Pick<PlacementTask, "bottleneck" | "cpuCores" | "memoryBytes">): NeedGroup {
  const gibPerCore = task.memoryBytes / GiB / Math.max(task.cpuCores, 1e-9);
  if (task.bottleneck === "memory" || gibPerCore > MEMORY_HEAVY_GIB_PER_CORE) return "memory-heavy";
  switch (task.bottleneck) {
    case "cpu":
    case "cpu-contention":
    case "cpu-throttled":
      return "cpu-bound";
    case "disk-io":
      return "disk-bound";
    case "network-wait":
    case "idle":
      return "network-or-idle";
    default:
      return "general";
  }
}

/**
 * Instance families by GiB per vCPU, as the providers define them (https://aws.amazon.com/ec2/instance-types/:
 * compute optimized C 2 GiB, general purpose M 4 GiB, memory optimized R 8 GiB, storage optimized I with
 * local NVMe 8 GiB per vCPU on i4i; https://cloud.google.com/compute/docs/machine-resource: n2-highcpu 1,
 * n2-standard 4, n2-highmem 8 GiB per vCPU, z3 with local SSD; Azure F, D, E and L series).
 *
 * Each family is priced by its own on-demand price: the AWS family's `.large` size (2 vCPUs) per hour, on
 * Linux in us-east-1, as AWS listed it in 2024 ({@link FAMILY_PRICES_SOURCE}), halved to a vCPU-hour. AWS
 * sells each of these families at one price per vCPU across its sizes (a 4xlarge costs 8 larges), so a
 * worker of n vCPUs costs n × `vcpuHourUsd`.
 */
export const instanceFamilies = {
  "compute-optimized": {
    gibPerVcpu: 2,
    aws: "c7i",
    gcp: "n2-highcpu / c3",
    azure: "Fsv2",
    priced: "c7i.large",
    vcpuHourUsd: 0.08925 / 2,
  },
  "general-purpose": {
    gibPerVcpu: 4,
    aws: "m7i",
    gcp: "n2-standard",
    azure: "Dsv5",
    priced: "m7i.large",
    vcpuHourUsd: 0.1008 / 2,
  },
  "memory-optimized": {
    gibPerVcpu: 8,
    aws: "r7i",
    gcp: "n2-highmem",
    azure: "Esv5",
    priced: "r7i.large",
    vcpuHourUsd: 0.1323 / 2,
  },
  "storage-optimized": {
    gibPerVcpu: 8,
    aws: "i4i",
    gcp: "z3",
    azure: "Lsv3",
    priced: "i4i.large",
    vcpuHourUsd: 0.172 / 2,
  },
} as const;

/** Where the families' prices come from (docs/fleet.md "Where tasks should run"). */
export const FAMILY_PRICES_SOURCE =
  "AWS EC2 On-Demand pricing, Linux, us-east-1, as listed in 2024 (https://aws.amazon.com/ec2/pricing/on-demand/)";
export type InstanceFamily = keyof typeof instanceFamilies;

/** A worker of `shape` per hour, at its family's price. */
export function workerHourUsd(shape: Pick<WorkerShape, "family" | "cpuCores">): number {
  return shape.cpuCores * instanceFamilies[shape.family].vcpuHourUsd;
}

/**
 * A host that ran the runs, per hour: priced as the leanest family holding its GiB per core, with the
 * vCPUs that hold its memory (a 4-core, 64 GiB host is priced as 8 memory-optimized vCPUs). Its own
 * family is not recorded; this prices it on the same list as the workers it is compared with, so the
 * saving is the packing's and the families', not a difference of price lists.
 */
export function hostHourUsd(host: { cores: number; memoryBytes: number }): number {
  const gib = host.memoryBytes / GiB;
  const family = instanceFamilies[familyFor("general", gib / Math.max(host.cores, 1e-9))];
  return Math.max(host.cores, gib / family.gibPerVcpu) * family.vcpuHourUsd;
}

/** A disk-bound group wants local NVMe whatever its ratio; the others the leanest family holding their GiB per core. */
export function familyFor(group: NeedGroup, gibPerCore: number): InstanceFamily {
  if (group === "disk-bound") return "storage-optimized";
  if (gibPerCore <= instanceFamilies["compute-optimized"].gibPerVcpu) return "compute-optimized";
  if (gibPerCore <= instanceFamilies["general-purpose"].gibPerVcpu) return "general-purpose";
  return "memory-optimized";
}

/** A worker's size: vCPUs, memory and how many tasks it may run at once. */
export interface WorkerShape {
  family: InstanceFamily;
  cpuCores: number;
  memoryBytes: number;
  slots: number;
}

/** Something to place: one run's recommended request. */
export interface PackItem {
  id: string;
  cpuCores: number;
  memoryBytes: number;
}

export interface PackedWorker {
  items: string[];
  cpuCores: number;
  memoryBytes: number;
}

export interface Packing {
  workers: PackedWorker[];
  /** Items larger than the shape: they fit no worker of it. */
  unplaceable: PackItem[];
}

/**
 * First-fit decreasing: items sorted by CPU, then memory, largest first, as Karpenter orders pods before
 * packing them onto nodes (kubernetes-sigs/karpenter pkg/controllers/provisioning/scheduling/queue.go
 * `byCPUAndMemoryDescending`, https://github.com/kubernetes-sigs/karpenter/blob/v1.1.0/pkg/controllers/provisioning/scheduling/queue.go),
 * each into the first worker with room for its CPU, its memory and a slot, else onto a new worker. No
 * worker is ever over-committed (the property test holds it).
 */
export function packFirstFitDecreasing(items: ReadonlyArray<PackItem>, shape: WorkerShape): Packing {
  const sorted = [...items].sort(
    (a, b) => b.cpuCores - a.cpuCores || b.memoryBytes - a.memoryBytes || a.id.localeCompare(b.id),
  );
  const workers: PackedWorker[] = [];
  const unplaceable: PackItem[] = [];
  for (const item of sorted) {
    if (item.cpuCores > shape.cpuCores || item.memoryBytes > shape.memoryBytes || shape.slots < 1) {
      unplaceable.push(item);
      continue;
    }
    let worker = workers.find(
      (candidate) =>
        candidate.cpuCores + item.cpuCores <= shape.cpuCores &&
        candidate.memoryBytes + item.memoryBytes <= shape.memoryBytes &&
        candidate.items.length < shape.slots,
    );
    if (!worker) {
      worker = { items: [], cpuCores: 0, memoryBytes: 0 };
      workers.push(worker);
    }
    worker.items.push(item.id);
    worker.cpuCores += item.cpuCores;
    worker.memoryBytes += item.memoryBytes;
  }
  return { workers, unplaceable };
}

/** Worker sizes tried, in vCPUs (the sizes the families above are sold in). */
export const WORKER_VCPUS = [2, 4, 8, 16, 32, 64] as const;
/**
 * Tasks a worker runs at once, at most: Kubernetes' 110 pods per node
 * (https://kubernetes.io/docs/setup/best-practices/cluster-large/). A Celery worker's `--concurrency` is
 * set to what the packing put on its fullest worker (Celery's default is the CPU count,
 * https://docs.celeryq.dev/en/stable/userguide/workers.html#concurrency, too few for tasks that wait).
 */
export const MAX_TASKS_PER_WORKER = 110;

/**
 * The shape of `family` whose packing of `items` costs least (fewest vCPUs in all; fewer, larger workers on a tie),
 * among the shapes that hold each of `mustHold` (the group's tasks, whether or not the peak ran them).
 */
export function shapeFor(
  family: InstanceFamily,
  items: ReadonlyArray<PackItem>,
  mustHold: ReadonlyArray<PackItem> = [],
): { shape: WorkerShape; packing: Packing } {
  let best: { shape: WorkerShape; packing: Packing } | null = null;
  for (const vcpus of WORKER_VCPUS) {
    const shape: WorkerShape = {
      family,
      cpuCores: vcpus,
      memoryBytes: vcpus * instanceFamilies[family].gibPerVcpu * GiB,
      slots: MAX_TASKS_PER_WORKER,
    };
    const holds = mustHold.every(
      (item) => item.cpuCores <= shape.cpuCores && item.memoryBytes <= shape.memoryBytes,
    );
    if (!holds && vcpus !== WORKER_VCPUS.at(-1)) continue;
    const packing = packFirstFitDecreasing(items, shape);
    const score = (candidate: { shape: WorkerShape; packing: Packing }) =>
      candidate.packing.unplaceable.length * 1e9 +
      candidate.packing.workers.length * candidate.shape.cpuCores;
    if (best === null || score({ shape, packing }) <= score(best)) best = { shape, packing };
  }
  return best!;
}

/** Families a group may run on: local NVMe for a disk-bound one, else any of the three by memory. */
const familiesFor = (group: NeedGroup): InstanceFamily[] =>
  group === "disk-bound"
    ? ["storage-optimized"]
    : ["compute-optimized", "general-purpose", "memory-optimized"];

/**
 * The family, and its shape, whose workers hold the peak's `items` for the least an hour at the families'
 * prices ({@link instanceFamilies}); on a tie (and when nothing ran, so every family costs nothing) the
 * leanest family holding the group's GiB per core ({@link familyFor}). A family whose workers cannot
 * hold every item is not a candidate.
 */
export function cheapestFamily(
  group: NeedGroup,
  gibPerCore: number,
  items: ReadonlyArray<PackItem>,
  mustHold: ReadonlyArray<PackItem>,
): { family: InstanceFamily; shape: WorkerShape; packing: Packing } {
  const byRatio = familyFor(group, gibPerCore);
  const ratioFit = shapeFor(byRatio, items, mustHold);
  let best = {
    family: byRatio,
    ...ratioFit,
    cost: ratioFit.packing.workers.length * workerHourUsd(ratioFit.shape),
  };
  for (const family of familiesFor(group)) {
    if (family === byRatio) continue;
    const fit = shapeFor(family, items, mustHold);
    if (fit.packing.unplaceable.length > 0) continue;
    const cost = fit.packing.workers.length * workerHourUsd(fit.shape);
    // Cheaper by more than rounding: a tie keeps the family the ratio names.
    if (cost < best.cost - 1e-9) best = { family, ...fit, cost };
  }
  return { family: best.family, shape: best.shape, packing: best.packing };
}

/** One run as the concurrency sweep needs it. */
export interface ConcurrentRun extends TaskKey {
  id: string;
  hostId: string;
  startedAt: Date;
  endedAt: Date;
}

/** The instant most runs ran at once (the earliest such), and those runs. */
export function peakConcurrency<T extends ConcurrentRun>(
  runs: ReadonlyArray<T>,
): { at: Date | null; running: T[] } {
  // Ends sort before starts at the same instant: a run that ends as another starts never overlaps it.
  const events = runs.flatMap((run, index) => [
    { time: run.startedAt.getTime(), delta: 1, index },
    { time: Math.max(run.endedAt.getTime(), run.startedAt.getTime()), delta: -1, index },
  ]);
  events.sort((a, b) => a.time - b.time || a.delta - b.delta);
  let current = 0;
  let best = 0;
  let bestTime: number | null = null;
  for (const event of events) {
    current += event.delta;
    if (event.delta > 0 && current > best) {
      best = current;
      bestTime = event.time;
    }
  }
  if (bestTime === null) return { at: null, running: [] };
  const at = bestTime;
  return {
    at: new Date(at),
    running: runs.filter(
      (run) => run.startedAt.getTime() <= at && Math.max(run.endedAt.getTime(), run.startedAt.getTime()) > at,
    ),
  };
}

/** How each orchestrator routes a group's tasks to its workers. */
export interface OrchestratorPlacement {
  airflowCelery: string;
  airflowKubernetes: string;
  prefect: string;
}

/**
 * The group's placement in each orchestrator's terms: Airflow's `queue=` operator argument and a Celery
 * worker on that queue (https://airflow.apache.org/docs/apache-airflow-providers-celery/stable/celery_executor.html#queues),
 * `executor_config` with a pod override selecting the group's nodes (https://airflow.apache.org/docs/apache-airflow-providers-cncf-kubernetes/stable/kubernetes_executor.html#pod-override),
 * a Prefect work pool per group whose base job template carries the node selector, and its workers'
 * concurrent-run limit (https://docs.prefect.io/v3/deploy/infrastructure-concepts/work-pools).
 */
export function orchestratorPlacement(group: NeedGroup, concurrency: number): OrchestratorPlacement {
  return {
    airflowCelery: `queue="${group}" on the operator; workers: airflow celery worker --queues ${group} --concurrency ${concurrency}`,
    airflowKubernetes: `executor_config={"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(node_selector={"rightsize/pool": "${group}"}))}`,
    prefect: `work_pool: {name: ${group}} in prefect.yaml, the pool's job template setting node_selector rightsize/pool=${group}; workers: prefect worker start --pool ${group} --limit ${concurrency}`,
  };
}

export interface PlacementGroup {
  group: NeedGroup;
  tasks: Array<TaskKey & { cpuCores: number; memoryBytes: number; bottleneck: BottleneckClass }>;
  /** Σ recommended GiB ÷ Σ recommended cores of its tasks. */
  gibPerCore: number;
  family: InstanceFamily;
  shape: WorkerShape;
  /** Runs of the group at its busiest instant, and when. */
  peakRuns: number;
  peakAt: Date | null;
  /** Hosts that ran them, and the most that ran on one host. */
  hostsAtPeak: number;
  maxRunsPerHost: number;
  /** Workers of `shape` the peak's recommended requests pack onto, and the most tasks on one. */
  workersNeeded: number;
  tasksPerWorker: number;
  placement: OrchestratorPlacement;
  /**
   * At the group's peak: the hosts' cost per hour, each host's share by the runs it held then (its runs
   * of the group ÷ all its runs), against the group's workers; null when a host's size is unknown or the
   * group ran nothing in the window.
   */
  ranCostPerHourUsd: number | null;
  neededCostPerHourUsd: number;
  /** (ran − needed) per hour × 24 × 30. */
  monthlySavingsUsd: number | null;
  sentence: string;
}

export interface Placement {
  groups: PlacementGroup[];
  /** The fleet's busiest instant: runs at once, the hosts that ran them and the workers they pack onto. */
  peakAt: Date | null;
  peakRuns: number;
  hostsAtPeak: number;
  workersNeededAtPeak: number;
  /** Hosts at the peak, priced per hour, against the workers needed; null when a host's size is unknown. */
  ranCostPerHourUsd: number | null;
  neededCostPerHourUsd: number;
  /** (ran − needed) per hour × 24 × 30: a fleet sized for its observed peak, running all month. */
  monthlySavingsUsd: number | null;
  /** Runs of tasks without a recommendation: not placed. */
  unplacedRuns: number;
}

export interface PlacementInput {
  tasks: ReadonlyArray<PlacementTask>;
  runs: ReadonlyArray<ConcurrentRun>;
  hosts: ReadonlyMap<string, HostSize>;
}

const HOURS_PER_MONTH = 24 * 30;

const countsPerHost = (runs: ReadonlyArray<ConcurrentRun>) => {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.hostId, (counts.get(run.hostId) ?? 0) + 1);
  return counts;
};

/** A host's size priced per hour, or null when it was not recorded. */
function knownHostHourUsd(hosts: ReadonlyMap<string, HostSize>, hostId: string): number | null {
  const size = hosts.get(hostId);
  if (!size || size.cores === null || size.memoryBytes === null) return null;
  return hostHourUsd({ cores: size.cores, memoryBytes: size.memoryBytes });
}

/**
 * What the hosts running `group` at `at` cost per hour, each host's share by the runs it held then:
 * `group` of them ÷ all of them, whatever their task. Null when a host's size is unknown.
 */
function sharedHostCost(
  running: ReadonlyArray<ConcurrentRun>,
  allRuns: ReadonlyArray<ConcurrentRun>,
  at: Date,
  hosts: ReadonlyMap<string, HostSize>,
): number | null {
  const mine = countsPerHost(running);
  const instant = at.getTime();
  const all = countsPerHost(
    allRuns.filter(
      (run) =>
        mine.has(run.hostId) &&
        run.startedAt.getTime() <= instant &&
        Math.max(run.endedAt.getTime(), run.startedAt.getTime()) > instant,
    ),
  );
  let total = 0;
  for (const [hostId, count] of mine) {
    const price = knownHostHourUsd(hosts, hostId);
    if (price === null) return null;
    total += (price * count) / Math.max(count, all.get(hostId) ?? 0);
  }
  return total;
}

const monthly = (ran: number | null, needed: number) =>
  ran === null ? null : roundMicroUsd((ran - needed) * HOURS_PER_MONTH);

/** Groups, shapes, packing at each group's peak and at the fleet's, and the saving. */
export function planPlacement(input: PlacementInput): Placement {
  const taskById = new Map(input.tasks.map((task) => [taskKeyString(task), task]));
  // Each run's task, looked up once: the groups and the fleet's peak filter the runs again and again.
  const taskOfRun = new Map<ConcurrentRun, PlacementTask>();
  for (const run of input.runs) {
    const task = taskById.get(taskKeyString(run));
    if (task) taskOfRun.set(run, task);
  }
  const placedRuns = [...taskOfRun.keys()];
  const itemOf = (run: ConcurrentRun): PackItem => {
    const task = taskOfRun.get(run)!;
    return { id: run.id, cpuCores: task.cpuCores, memoryBytes: task.memoryBytes };
  };
  const groupOfTask = new Map(input.tasks.map((task) => [task, needOf(task)]));
  const groupOfRun = (run: ConcurrentRun) => groupOfTask.get(taskOfRun.get(run)!);
  const groups: PlacementGroup[] = [];
  const shapes = new Map<NeedGroup, WorkerShape>();
  for (const group of needGroups) {
    const tasks = input.tasks.filter((task) => groupOfTask.get(task) === group);
    if (tasks.length === 0) continue;
    const cores = tasks.reduce((total, task) => total + task.cpuCores, 0);
    const gib = tasks.reduce((total, task) => total + task.memoryBytes / GiB, 0);
    const gibPerCore = cores > 0 ? gib / cores : 0;
    const runs = placedRuns.filter((run) => groupOfRun(run) === group);
    const peak = peakConcurrency(runs);
    // The shape must hold each of the group's tasks, even one the peak did not run.
    const items = peak.running.map(itemOf);
    const each = tasks.map((task) => ({
      id: taskKeyString(task),
      cpuCores: task.cpuCores,
      memoryBytes: task.memoryBytes,
    }));
    const { family, shape, packing } = cheapestFamily(group, gibPerCore, items, each);
    shapes.set(group, shape);
    const perHost = [...countsPerHost(peak.running).values()];
    const tasksPerWorker = Math.max(1, ...packing.workers.map((worker) => worker.items.length));
    // A group none of whose runs fell in the window has no observed load: no saving to claim.
    const ran = peak.at === null ? null : sharedHostCost(peak.running, input.runs, peak.at, input.hosts);
    const needed = packing.workers.length * workerHourUsd(shape);
    const entry: PlacementGroup = {
      group,
      tasks: tasks.map((task) => ({ ...task })),
      gibPerCore: Math.round(gibPerCore * 100) / 100,
      family,
      shape,
      peakRuns: peak.running.length,
      peakAt: peak.at,
      hostsAtPeak: perHost.length,
      maxRunsPerHost: Math.max(0, ...perHost),
      workersNeeded: packing.workers.length,
      tasksPerWorker,
      placement: orchestratorPlacement(group, tasksPerWorker),
      ranCostPerHourUsd: ran === null ? null : roundMicroUsd(ran),
      neededCostPerHourUsd: roundMicroUsd(needed),
      monthlySavingsUsd: monthly(ran, needed),
      sentence: "",
    };
    entry.sentence = groupSentence(entry);
    groups.push(entry);
  }
  const fleetPeak = peakConcurrency(placedRuns);
  let workersNeededAtPeak = 0;
  let neededCostPerHourUsd = 0;
  for (const [group, shape] of shapes) {
    const items = fleetPeak.running.filter((run) => groupOfRun(run) === group).map(itemOf);
    const workers = packFirstFitDecreasing(items, shape).workers.length;
    workersNeededAtPeak += workers;
    neededCostPerHourUsd += workers * workerHourUsd(shape);
  }
  const hostsAtPeak = [...countsPerHost(fleetPeak.running).keys()];
  let ranCostPerHourUsd: number | null = 0;
  for (const hostId of hostsAtPeak) {
    const price = knownHostHourUsd(input.hosts, hostId);
    if (price === null) {
      ranCostPerHourUsd = null;
      break;
    }
    ranCostPerHourUsd += price;
  }
  return {
    groups,
    peakAt: fleetPeak.at,
    peakRuns: fleetPeak.running.length,
    hostsAtPeak: hostsAtPeak.length,
    workersNeededAtPeak,
    ranCostPerHourUsd: ranCostPerHourUsd === null ? null : roundMicroUsd(ranCostPerHourUsd),
    neededCostPerHourUsd: roundMicroUsd(neededCostPerHourUsd),
    monthlySavingsUsd: monthly(ranCostPerHourUsd, neededCostPerHourUsd),
    unplacedRuns: input.runs.length - placedRuns.length,
  };
}

const groupWords: Record<NeedGroup, string> = {
  "cpu-bound": "CPU-bound",
  "memory-heavy": "memory-heavy",
  "disk-bound": "disk-bound",
  "network-or-idle": "waiting on the network or idle",
  general: "balanced",
};

function groupSentence(group: PlacementGroup): string {
  const family = instanceFamilies[group.family];
  const tasks = `${group.tasks.length} ${group.tasks.length === 1 ? "task" : "tasks"}`;
  const shape = `${group.shape.cpuCores} vCPU / ${Math.round(group.shape.memoryBytes / GiB)} GiB`;
  return (
    `${tasks} ${groupWords[group.group]} (${group.gibPerCore} GiB per recommended core): ` +
    `${group.family} workers (AWS ${family.aws}, GCP ${family.gcp}, Azure ${family.azure}); ` +
    `at its busiest ${group.peakRuns} ${group.peakRuns === 1 ? "run" : "runs"} at once on ${group.hostsAtPeak} ` +
    `${group.hostsAtPeak === 1 ? "host" : "hosts"} fit on ${group.workersNeeded} ` +
    `${group.workersNeeded === 1 ? "worker" : "workers"} of ${shape}` +
    groupSavingText(group)
  );
}

/** "; its share of the hosts cost $0.40 an hour against $0.09, $223.20 a month saved" (or "more"). */
function groupSavingText(group: PlacementGroup): string {
  if (group.monthlySavingsUsd === null || group.ranCostPerHourUsd === null) return "";
  const saved = group.monthlySavingsUsd;
  const month = saved < 0 ? `$${(-saved).toFixed(2)} a month more` : `$${saved.toFixed(2)} a month saved`;
  return `; its share of the hosts cost $${group.ranCostPerHourUsd.toFixed(2)} an hour against $${group.neededCostPerHourUsd.toFixed(2)}, ${month}`;
}
