/**
 * What a report says about an analysis, as plain data: the headline counts and how each task stands
 * against its request. Pure functions of the analysis document; every renderer reads the same verdicts.
 */
import { MEMORY_PRESSURE_SHARE } from "../analyzer/classify.js";
import type { AnalysisDocument, Severity, TaskAnalysis } from "../common/analysis-document.js";

/**
 * A request this much above the recommendation counts as over-provisioned. 10 %: smaller gaps are within
 * the night-to-night movement of the recommendation itself and not worth a change.
 */
export const overProvisionedMargin = 0.1;

export type Provisioning = "over" | "under" | "fit" | "unknown";

export interface TaskVerdict {
  /** Over when a request exceeds the recommendation by more than {@link overProvisionedMargin}. */
  provisioning: Provisioning;
  /**
   * OOM kills, or peak memory at or above the analyzer's memory-pressure share (90 %) of the limit, or of
   * the request when there is no limit.
   */
  oomRisk: boolean;
  regressed: boolean;
}

export interface Headline {
  tasks: number;
  pipelines: number;
  /** Sum of the known savings (negative savings — tasks that need more — are not subtracted). */
  monthlySavingsUsd: number;
  overProvisioned: number;
  underProvisioned: number;
  oomRisk: number;
  regressions: number;
  /** Tasks whose severity is critical. */
  critical: number;
}

export function verdictOf(task: TaskAnalysis): TaskVerdict {
  const { cpu, memory, recommendation } = task;
  const comparisons: Array<[number | null, number]> = [
    [cpu.requestCores, recommendation.cpuCores],
    [memory.requestBytes, recommendation.memoryBytes],
  ];
  const known = comparisons.filter((pair): pair is [number, number] => pair[0] !== null && pair[0] > 0);
  let provisioning: Provisioning = "unknown";
  if (known.length > 0) {
    if (known.some(([request, recommended]) => recommended > request)) provisioning = "under";
    else if (known.some(([request, recommended]) => request > recommended * (1 + overProvisionedMargin)))
      provisioning = "over";
    else provisioning = "fit";
  }
  const ceiling = memory.limitBytes ?? memory.requestBytes;
  const oomRisk =
    memory.oomKills > 0 ||
    (ceiling !== null && ceiling > 0 && memory.peakBytes.max >= ceiling * MEMORY_PRESSURE_SHARE);
  return { provisioning, oomRisk, regressed: (task.regressions?.length ?? 0) > 0 };
}

export function headlineOf(document: AnalysisDocument): Headline {
  const headline: Headline = {
    tasks: document.tasks.length,
    pipelines: new Set(document.tasks.map((task) => `${task.orchestrator}/${task.pipeline}`)).size,
    monthlySavingsUsd: 0,
    overProvisioned: 0,
    underProvisioned: 0,
    oomRisk: 0,
    regressions: 0,
    critical: 0,
  };
  for (const task of document.tasks) {
    const verdict = verdictOf(task);
    const savings = task.recommendation.monthlySavingsUsd;
    if (savings !== null && savings > 0) headline.monthlySavingsUsd += savings;
    if (verdict.provisioning === "over") headline.overProvisioned++;
    if (verdict.provisioning === "under") headline.underProvisioned++;
    if (verdict.oomRisk) headline.oomRisk++;
    if (verdict.regressed) headline.regressions++;
    if (task.recommendation.severity === "critical") headline.critical++;
  }
  return headline;
}

/** Most severe first: the order of every report. */
export const severityRank: Record<Severity, number> = { critical: 0, warning: 1, ok: 2, good: 3 };

/**
 * Report order: most severe first, then the largest saving (or cost) either way, then by name, so the
 * same document always renders the same.
 */
export function compareTasks(a: TaskAnalysis, b: TaskAnalysis): number {
  return (
    severityRank[a.recommendation.severity] - severityRank[b.recommendation.severity] ||
    Math.abs(b.recommendation.monthlySavingsUsd ?? 0) - Math.abs(a.recommendation.monthlySavingsUsd ?? 0) ||
    a.pipeline.localeCompare(b.pipeline) ||
    a.task.localeCompare(b.task)
  );
}

export interface PipelineGroup {
  orchestrator: string;
  pipeline: string;
  tasks: TaskAnalysis[];
  monthlySavingsUsd: number;
  worstSeverity: Severity;
}

/** Tasks grouped by pipeline; groups ordered by their worst task, then by what they would save. */
export function groupByPipeline(tasks: readonly TaskAnalysis[]): PipelineGroup[] {
  const groups = new Map<string, PipelineGroup>();
  for (const task of [...tasks].sort(compareTasks)) {
    const key = `${task.orchestrator}\u0000${task.pipeline}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        orchestrator: task.orchestrator,
        pipeline: task.pipeline,
        tasks: [],
        monthlySavingsUsd: 0,
        worstSeverity: task.recommendation.severity,
      };
      groups.set(key, group);
    }
    group.tasks.push(task);
    group.monthlySavingsUsd += Math.max(0, task.recommendation.monthlySavingsUsd ?? 0);
  }
  return [...groups.values()].sort(
    (a, b) =>
      severityRank[a.worstSeverity] - severityRank[b.worstSeverity] ||
      b.monthlySavingsUsd - a.monthlySavingsUsd ||
      a.pipeline.localeCompare(b.pipeline),
  );
}
