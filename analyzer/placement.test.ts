import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GiB } from "../common/units.js";
import {
  type ConcurrentRun,
  cheapestFamily,
  familyFor,
  hostHourUsd,
  instanceFamilies,
  MAX_TASKS_PER_WORKER,
  needOf,
  packFirstFitDecreasing,
  peakConcurrency,
  planPlacement,
  shapeFor,
  workerHourUsd,
  type WorkerShape,
} from "./placement.js";

describe("what a task needs", () => {
  it("groups by class, memory-heavy first by GiB per recommended core", () => {
    expect(needOf({ bottleneck: "cpu", cpuCores: 2, memoryBytes: 2 * GiB })).toBe("cpu-bound");
    expect(needOf({ bottleneck: "cpu-throttled", cpuCores: 1, memoryBytes: GiB })).toBe("cpu-bound");
    expect(needOf({ bottleneck: "cpu", cpuCores: 1, memoryBytes: 6 * GiB })).toBe("memory-heavy");
    expect(needOf({ bottleneck: "memory", cpuCores: 4, memoryBytes: GiB })).toBe("memory-heavy");
    expect(needOf({ bottleneck: "disk-io", cpuCores: 1, memoryBytes: GiB })).toBe("disk-bound");
    expect(needOf({ bottleneck: "network-wait", cpuCores: 0.1, memoryBytes: 0.25 * GiB })).toBe(
      "network-or-idle",
    );
    expect(needOf({ bottleneck: "idle", cpuCores: 0.1, memoryBytes: 0.25 * GiB })).toBe("network-or-idle");
    expect(needOf({ bottleneck: "balanced", cpuCores: 1, memoryBytes: 3 * GiB })).toBe("general");
  });

  it("picks the leanest family holding the GiB per core, local NVMe for disk", () => {
    expect(familyFor("cpu-bound", 1.5)).toBe("compute-optimized");
    expect(familyFor("general", 3)).toBe("general-purpose");
    expect(familyFor("memory-heavy", 6)).toBe("memory-optimized");
    expect(familyFor("disk-bound", 1)).toBe("storage-optimized");
  });
});

describe("first-fit decreasing", () => {
  const shape: WorkerShape = { family: "general-purpose", cpuCores: 4, memoryBytes: 16 * GiB, slots: 3 };

  it("places the largest first, into the first worker with room", () => {
    const packing = packFirstFitDecreasing(
      [
        { id: "a", cpuCores: 1, memoryBytes: GiB },
        { id: "b", cpuCores: 3, memoryBytes: GiB },
        { id: "c", cpuCores: 2, memoryBytes: GiB },
        { id: "d", cpuCores: 2, memoryBytes: GiB },
        { id: "huge", cpuCores: 8, memoryBytes: GiB },
      ],
      shape,
    );
    expect(packing.workers.map((worker) => worker.items)).toEqual([
      ["b", "a"],
      ["c", "d"],
    ]);
    expect(packing.unplaceable.map((item) => item.id)).toEqual(["huge"]);
  });

  it("respects the slots as well as CPU and memory", () => {
    const small = Array.from({ length: 7 }, (_, index) => ({
      id: `t${index}`,
      cpuCores: 0.1,
      memoryBytes: 1,
    }));
    expect(packFirstFitDecreasing(small, shape).workers.map((worker) => worker.items.length)).toEqual([
      3, 3, 1,
    ]);
  });

  it("never over-commits a worker, and places every item that fits exactly once", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            cpuCores: fc.double({ min: 0.05, max: 20, noNaN: true }),
            memoryBytes: fc.double({ min: 1, max: 80 * GiB, noNaN: true }),
          }),
          { maxLength: 60 },
        ),
        fc.record({
          cpuCores: fc.integer({ min: 1, max: 16 }),
          memoryBytes: fc.integer({ min: 1, max: 64 }).map((gib) => gib * GiB),
          slots: fc.integer({ min: 1, max: 20 }),
        }),
        (raw, size) => {
          const items = raw.map((item, index) => ({ ...item, id: `i${index}` }));
          const workerShape: WorkerShape = { family: "general-purpose", ...size };
          const packing = packFirstFitDecreasing(items, workerShape);
          const byId = new Map(items.map((item) => [item.id, item]));
          const placed = packing.workers.flatMap((worker) => worker.items);
          for (const worker of packing.workers) {
            const cpu = worker.items.reduce((total, id) => total + byId.get(id)!.cpuCores, 0);
            const memory = worker.items.reduce((total, id) => total + byId.get(id)!.memoryBytes, 0);
            expect(cpu).toBeLessThanOrEqual(workerShape.cpuCores + 1e-9);
            expect(memory).toBeLessThanOrEqual(workerShape.memoryBytes);
            expect(worker.items.length).toBeLessThanOrEqual(workerShape.slots);
            expect(worker.items.length).toBeGreaterThan(0);
          }
          expect(new Set(placed).size).toBe(placed.length);
          expect(placed.length + packing.unplaceable.length).toBe(items.length);
          for (const item of packing.unplaceable)
            expect(item.cpuCores > workerShape.cpuCores || item.memoryBytes > workerShape.memoryBytes).toBe(
              true,
            );
        },
      ),
    );
  });

  it("chooses the family whose workers hold the peak for least, the ratio's family on a tie", () => {
    const task = (id: string, gib: number) => ({ id, cpuCores: 1, memoryBytes: gib * GiB });
    // One run of 1 core and 2.2 GiB: a 2-vCPU compute-optimized worker (4 GiB) holds it for less than the
    // general-purpose one its ratio names.
    expect(familyFor("cpu-bound", 2.2)).toBe("general-purpose");
    const one = cheapestFamily("cpu-bound", 2.2, [task("a", 2.2)], [task("a", 2.2)]);
    expect(one.family).toBe("compute-optimized");
    expect(one.shape).toMatchObject({ cpuCores: 2, memoryBytes: 4 * GiB });
    // Four of them: compute optimized needs 8 vCPUs for their 8.8 GiB, general purpose 4 (it stays).
    const four = ["a", "b", "c", "d"].map((id) => task(id, 2.2));
    expect(cheapestFamily("cpu-bound", 2.2, four, four).family).toBe("general-purpose");
    // Nothing ran: every family costs nothing, the ratio decides.
    expect(cheapestFamily("memory-heavy", 6, [], [task("a", 6)]).family).toBe("memory-optimized");
    // Disk-bound groups keep local NVMe whatever it costs.
    expect(cheapestFamily("disk-bound", 1, [task("a", 1)], [task("a", 1)]).family).toBe("storage-optimized");
  });

  it("chooses the cheapest shape that holds every task of the group", () => {
    const items = Array.from({ length: 6 }, (_, index) => ({
      id: `r${index}`,
      cpuCores: 1.5,
      memoryBytes: GiB,
    }));
    const { shape, packing } = shapeFor("compute-optimized", items, [
      { id: "big", cpuCores: 6, memoryBytes: GiB },
    ]);
    // 2 × 8 vCPU and 1 × 16 vCPU cost the same: the fewer workers win.
    expect(shape.cpuCores).toBe(16);
    expect(packing.workers).toHaveLength(1);
    expect(shape.slots).toBe(MAX_TASKS_PER_WORKER);
  });
});

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute));
function concurrent(id: string, task: string, hostId: string, from: number, to: number): ConcurrentRun {
  return { id, orchestrator: "airflow", pipeline: "etl", task, hostId, startedAt: at(from), endedAt: at(to) };
}

describe("observed concurrency and the plan", () => {
  it("finds the busiest instant; a run ending as another starts does not overlap it", () => {
    const runs = [
      concurrent("1", "a", "h1", 0, 10),
      concurrent("2", "a", "h2", 10, 20),
      concurrent("3", "b", "h1", 12, 30),
      concurrent("4", "b", "h3", 15, 16),
    ];
    const peak = peakConcurrency(runs);
    expect(peak.at).toEqual(at(15));
    expect(peak.running.map((run) => run.id).sort()).toEqual(["2", "3", "4"]);
    expect(peakConcurrency([])).toEqual({ at: null, running: [] });
  });

  it("packs four CPU-bound runs on big hosts onto one compute-optimized worker, with the saving", () => {
    const tasks = ["a", "b", "c", "d"].map((task) => ({
      orchestrator: "airflow",
      pipeline: "etl",
      task,
      bottleneck: "cpu" as const,
      cpuCores: 1,
      memoryBytes: GiB,
    }));
    const runs = tasks.map((task, index) => concurrent(`${index}`, task.task, `h${index}`, 0, 60));
    runs.push(concurrent("x", "unknown_task", "h0", 0, 60));
    const hosts = new Map(
      ["h0", "h1", "h2", "h3"].map((id) => [id, { cores: 8, memoryBytes: 32 * GiB }] as const),
    );
    const plan = planPlacement({ tasks, runs, hosts });
    expect(plan.groups).toHaveLength(1);
    const [group] = plan.groups;
    expect(group).toMatchObject({
      group: "cpu-bound",
      family: "compute-optimized",
      peakRuns: 4,
      hostsAtPeak: 4,
      maxRunsPerHost: 1,
      workersNeeded: 1,
      tasksPerWorker: 4,
    });
    expect(group!.shape).toMatchObject({ cpuCores: 4, memoryBytes: 8 * GiB });
    expect(group!.placement.airflowCelery).toBe(
      'queue="cpu-bound" on the operator; workers: airflow celery worker --queues cpu-bound --concurrency 4',
    );
    expect(group!.sentence).toContain(
      "at its busiest 4 runs at once on 4 hosts fit on 1 worker of 4 vCPU / 8 GiB",
    );
    expect(plan).toMatchObject({ peakRuns: 4, hostsAtPeak: 4, workersNeededAtPeak: 1, unplacedRuns: 1 });
    // Each host, 4 GiB per core, is priced as 8 general-purpose vCPUs; the worker as 4 compute-optimized.
    const host = 8 * instanceFamilies["general-purpose"].vcpuHourUsd;
    const needed = 4 * instanceFamilies["compute-optimized"].vcpuHourUsd;
    expect(plan.monthlySavingsUsd).toBeCloseTo((4 * host - needed) * 720, 4);
    // The group's own saving: h0 also ran a task of no group then, so the group holds half of h0.
    expect(group!.ranCostPerHourUsd).toBeCloseTo(3.5 * host, 6);
    expect(group!.neededCostPerHourUsd).toBeCloseTo(needed, 6);
    expect(group!.monthlySavingsUsd).toBeCloseTo((3.5 * host - needed) * 720, 4);
    expect(group!.sentence).toMatch(
      /its share of the hosts cost \$1\.41 an hour against \$0\.18, \$887\.\d\d a month saved$/,
    );
  });

  it("leaves the saving unknown when a host's size is", () => {
    const tasks = [
      {
        orchestrator: "airflow",
        pipeline: "etl",
        task: "a",
        bottleneck: "idle" as const,
        cpuCores: 0.1,
        memoryBytes: GiB / 4,
      },
    ];
    const plan = planPlacement({
      tasks,
      runs: [concurrent("1", "a", "h9", 0, 5)],
      hosts: new Map(),
    });
    expect(plan.monthlySavingsUsd).toBeNull();
    expect(plan.groups[0]).toMatchObject({ ranCostPerHourUsd: null, monthlySavingsUsd: null });
    // 2.5 GiB per core names general purpose, but one run fits the cheaper 2-vCPU compute-optimized worker.
    expect(plan.groups[0]).toMatchObject({ group: "network-or-idle", family: "compute-optimized" });
  });

  it("gives each group its own saving, each host shared by the runs it held at the group's peak", () => {
    const tasks = [
      { task: "crunch", bottleneck: "cpu" as const, cpuCores: 2, memoryBytes: 2 * GiB },
      { task: "copy", bottleneck: "disk-io" as const, cpuCores: 1, memoryBytes: 4 * GiB },
    ].map((task) => ({ orchestrator: "airflow", pipeline: "etl", ...task }));
    // One 16-core, 64 GiB host runs both at once; then the CPU-bound one alone, twice, on a second host.
    const runs = [
      concurrent("1", "crunch", "big", 0, 60),
      concurrent("2", "copy", "big", 0, 60),
      concurrent("3", "crunch", "small", 100, 160),
      concurrent("4", "crunch", "small", 100, 160),
    ];
    const hosts = new Map([
      ["big", { cores: 16, memoryBytes: 64 * GiB }],
      ["small", { cores: 4, memoryBytes: 8 * GiB }],
    ]);
    const plan = planPlacement({ tasks, runs, hosts });
    const groups = new Map(plan.groups.map((group) => [group.group, group]));
    const cpu = groups.get("cpu-bound")!;
    const disk = groups.get("disk-bound")!;
    // The CPU-bound group peaks at 100 s on the small host alone; the disk-bound one at 0 s, half of big.
    expect(cpu).toMatchObject({ peakRuns: 2, hostsAtPeak: 1, workersNeeded: 1 });
    expect(cpu.ranCostPerHourUsd).toBeCloseTo(hostHourUsd({ cores: 4, memoryBytes: 8 * GiB }), 6);
    expect(cpu.neededCostPerHourUsd).toBeCloseTo(workerHourUsd(cpu.shape), 6);
    expect(disk.ranCostPerHourUsd).toBeCloseTo(hostHourUsd({ cores: 16, memoryBytes: 64 * GiB }) / 2, 6);
    expect(disk.family).toBe("storage-optimized");
    expect(disk.neededCostPerHourUsd).toBeCloseTo(
      disk.shape.cpuCores * instanceFamilies["storage-optimized"].vcpuHourUsd,
      6,
    );
    for (const group of [cpu, disk])
      expect(group.monthlySavingsUsd).toBeCloseTo(
        (group.ranCostPerHourUsd! - group.neededCostPerHourUsd) * 720,
        3,
      );
  });

  it("prices a host as the leanest family holding its memory per core", () => {
    const perVcpu = (family: keyof typeof instanceFamilies) => instanceFamilies[family].vcpuHourUsd;
    expect(hostHourUsd({ cores: 8, memoryBytes: 16 * GiB })).toBeCloseTo(8 * perVcpu("compute-optimized"), 9);
    expect(hostHourUsd({ cores: 8, memoryBytes: 32 * GiB })).toBeCloseTo(8 * perVcpu("general-purpose"), 9);
    // 16 GiB per core holds more than memory optimized's 8: priced as the 8 vCPUs that hold 64 GiB.
    expect(hostHourUsd({ cores: 4, memoryBytes: 64 * GiB })).toBeCloseTo(8 * perVcpu("memory-optimized"), 9);
    // Dearer per vCPU as the families hold more memory, local NVMe dearest.
    const order = ["compute-optimized", "general-purpose", "memory-optimized", "storage-optimized"] as const;
    for (let index = 1; index < order.length; index++)
      expect(perVcpu(order[index]!)).toBeGreaterThan(perVcpu(order[index - 1]!));
  });
});
