/** A fleet document for the report's tests: four weeks of a hostile-named task that doubles its duration. */
import { buildFleetDocument } from "../analyzer/fleet.js";
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { FleetDocument } from "../common/fleet-document.js";
import { GiB } from "../common/units.js";
import type { FleetRun } from "../db/queries/fleet.js";
import { buildTask, hostileName, sampleAnalysis } from "./report-fixtures.js";

const end = new Date("2026-12-07T00:00:00Z");
const DAY = 86_400_000;

/**
 * Four weeks of a hostile-named task that runs twice as long in the last two: the default comparison of
 * four weeks (weeks 3–4 against 1–2) finds it 2× longer.
 */
export function sampleFleet(): FleetDocument {
  const runs: Array<FleetRun & { id: string }> = [];
  for (let day = 28; day >= 1; day--) {
    const startedAt = new Date(end.getTime() - day * DAY);
    const heldSeconds = day <= 14 ? 1200 : 600;
    runs.push({
      id: `r${day}`,
      orchestrator: "airflow",
      pipeline: `${hostileName}\n::error::x`,
      task: `load|${hostileName}`,
      hostId: "w1",
      startedAt,
      endedAt: new Date(startedAt.getTime() + heldSeconds * 1000),
      heldSeconds,
      requestCpuCores: 2,
      requestMemoryBytes: 4 * GiB,
      cpuSeconds: 300,
      peakRssBytes: GiB,
      diskReadBytes: (heldSeconds / 600) * 10 * GiB,
      diskWriteBytes: 0,
      netBytes: null,
      wall: {
        onCpuSeconds: 300,
        cpuWaitSeconds: 0,
        diskWaitSeconds: heldSeconds - 300,
        netWaitSeconds: 0,
        childWaitSeconds: 0,
        idleSeconds: 0,
      },
    });
  }
  const analysis = sampleAnalysis();
  analysis.tasks.push(
    buildTask({
      pipeline: `${hostileName}\n::error::x`,
      task: `load|${hostileName}`,
      usedCores: 1,
      peakBytes: GiB,
      recommendedCores: 1,
      recommendedBytes: 2 * GiB,
      bottleneck: "disk-io",
    }),
  );
  return buildFleetDocument({
    runs,
    hosts: new Map([["w1", { cores: 8, memoryBytes: 32 * GiB }]]),
    analysis,
    end,
    weeks: 4,
    pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237, history: [] },
    generatedAt: end,
  });
}

/**
 * A fleet document for an analysis's tasks: one run a day of each for `weeks` weeks on 16 hosts, every
 * tenth task twice as long in the last week (the reports benchmark's fleet sections).
 */
export function fleetOf(analysis: AnalysisDocument, weeks = 8): FleetDocument {
  const runs: Array<FleetRun & { id: string }> = [];
  analysis.tasks.forEach((task, index) => {
    for (let day = weeks * 7; day >= 1; day--) {
      const startedAt = new Date(end.getTime() - day * DAY + (index % 600) * 60_000 - 12 * 3_600_000);
      const heldSeconds = index % 10 === 0 && day <= 7 ? 1200 : 600;
      runs.push({
        id: `${index}:${day}`,
        orchestrator: task.orchestrator,
        pipeline: task.pipeline,
        task: task.task,
        hostId: `w${index % 16}`,
        startedAt,
        endedAt: new Date(startedAt.getTime() + heldSeconds * 1000),
        heldSeconds,
        requestCpuCores: task.cpu.requestCores,
        requestMemoryBytes: task.memory.requestBytes,
        cpuSeconds: 300,
        peakRssBytes: GiB,
        diskReadBytes: (heldSeconds / 600) * GiB,
        diskWriteBytes: 0,
        netBytes: 0,
        wall: {
          onCpuSeconds: 300,
          cpuWaitSeconds: 0,
          diskWaitSeconds: heldSeconds - 300,
          netWaitSeconds: 0,
          childWaitSeconds: 0,
          idleSeconds: 0,
        },
      });
    }
  });
  return buildFleetDocument({
    runs,
    hosts: new Map(
      Array.from({ length: 16 }, (_, host) => [`w${host}`, { cores: 16, memoryBytes: 64 * GiB }]),
    ),
    analysis,
    end,
    weeks,
    pricing: { cpuHourUsd: 0.031611, memoryGibHourUsd: 0.004237, history: [] },
    generatedAt: end,
  });
}
