/**
 * Memory cuts held back by the backtest (docs/analyzer.md "Backtest"): a cut the task's own runs would
 * not have survived is never proposed, and `patch` and `pr` say so with the backtest's numbers, in the
 * words `check` uses for its "kept" verdict ({@link backtestEvidence}). Pure.
 */
import { backtestShowsOomRisk, type TaskAnalysis } from "../common/analysis-document.js";
import { escapeTextLine } from "../reports/escape.js";
import type { Finding } from "./findings.js";
import { describeValue, targetValue } from "./quantities.js";

/** What the backtest says against a memory cut, in numbers: `check`'s "kept" verdict and the patch notes. */
export function backtestEvidence(analysis: TaskAnalysis): string {
  const { inSample, outOfSample } = analysis.backtest!;
  const parts = [
    ...(inSample.overMemory > 0
      ? [
          `${inSample.overMemory} of ${inSample.runs} past runs would have exceeded ${describeValue("k8s-memory", inSample.memoryBytes)}`,
        ]
      : []),
    ...(outOfSample && outOfSample.overMemory > 0
      ? [
          `${outOfSample.overMemory} of the ${outOfSample.runs} newest runs would have exceeded the ${describeValue("k8s-memory", outOfSample.memoryBytes)} the older runs suggest`,
        ]
      : []),
  ];
  return `the backtest shows OOM risk for a cut (${parts.join("; ")})`;
}

/**
 * The bytes the task's sizing rule would cut a declared memory request of `declared` (in `unit`) to,
 * when its backtest shows OOM risk; null when there is no such cut. Either the recommendation is below
 * the declaration, or the night already held it back (the recommendation keeps the request, and the
 * backtest's in-sample memory is the cut the rule wanted, analyzer/backtest.ts holdUnsafeCut).
 */
export function heldBackCut(analysis: TaskAnalysis, declared: number, unit: Finding["unit"]): number | null {
  if (!analysis.backtest || !backtestShowsOomRisk(analysis)) return null;
  const wanted = Math.min(analysis.recommendation.memoryBytes, analysis.backtest.inSample.memoryBytes);
  return targetValue(unit, analysis.recommendation.cpuCores, wanted) < declared ? wanted : null;
}

/**
 * One note per declared memory request a task's backtest keeps from being cut: where it is, what the
 * rule would have cut it to, and the backtest's numbers. `analysisOf` finds a task's analysis.
 */
export function heldBackNotes(
  findings: readonly Finding[],
  analysisOf: (finding: Finding, task: string) => TaskAnalysis | undefined,
): string[] {
  const notes = new Set<string>();
  for (const finding of findings) {
    if (finding.resource !== "memory" || finding.kind !== "request") continue;
    if (finding.dynamic || finding.literal === null || finding.value === null) continue;
    for (const task of finding.tasks) {
      const analysis = analysisOf(finding, task);
      const cut = analysis ? heldBackCut(analysis, finding.value, finding.unit) : null;
      if (cut === null) continue;
      const label = finding.orchestrator === "prefect" ? finding.pipeline : `${finding.pipeline}/${task}`;
      notes.add(
        `${escapeTextLine(label)}: memory request ${describeValue(finding.unit, finding.value)} at ${escapeTextLine(finding.file)}:${finding.line} kept, not cut to ${describeValue("k8s-memory", cut)}: ${backtestEvidence(analysis!)}`,
      );
    }
  }
  return [...notes];
}
