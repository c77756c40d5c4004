/**
 * Turns recommendations into edits of the literal values the scanner found (pure): which value each
 * declaration should carry (sources/patch-values.ts), one edit per shared declaration when its tasks
 * agree, per-task overrides when they don't (sources/patch-shared-values.ts, sources/patch-overrides.ts),
 * the workers' own requests (sources/patch-worker-requests.ts), and the patched files
 * (sources/patch-render.ts).
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import type { ScanResult } from "./findings.js";
import { heldBackNotes } from "./held-back-cuts.js";
import { planOverrides } from "./patch-overrides.js";
import type { PatchPlan } from "./patch-plan.js";
import { applyEdits } from "./patch-render.js";
import { planSharedValues } from "./patch-shared-values.js";
import { planWorkerRequests } from "./patch-worker-requests.js";

/** The recommendations by task key: only tasks with data (runs and a confidence above none). */
export function usableRecommendations(tasks: TaskAnalysis[]): Map<string, TaskAnalysis> {
  const map = new Map<string, TaskAnalysis>();
  for (const task of tasks) {
    if (task.runs > 0 && task.recommendation.confidence !== "none") {
      map.set(taskKeyString(task), task);
    }
  }
  return map;
}

/**
 * Plans the edits for every non-dynamic finding. `sources` holds the text of every file a finding points
 * into. Throws {@link PatchError} (sources/patch-plan.ts) when an edited file would no longer parse
 * (checked by `verify`).
 */
export function planPatches(
  scan: ScanResult,
  sources: Map<string, string>,
  recommendations: Map<string, TaskAnalysis>,
  verify: (file: string, text: string) => string | null = () => null,
): PatchPlan {
  const shared = planSharedValues(scan, recommendations);
  const overrides = planOverrides(shared.overrides, scan, sources, recommendations);
  const workers = planWorkerRequests(scan, recommendations);
  const parts = [shared, overrides, workers];
  const files = applyEdits(
    parts.flatMap((part) => part.edits),
    sources,
    verify,
  );
  const changes = parts.flatMap((part) => part.changes);
  changes.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  // A memory cut a task's backtest holds back is said so, with the backtest's numbers.
  const heldBack = heldBackNotes(scan.findings, (finding, task) =>
    recommendations.get(
      taskKeyString({ orchestrator: finding.orchestrator, pipeline: finding.pipeline, task }),
    ),
  );
  return { files, changes, notes: [...parts.flatMap((part) => part.notes), ...heldBack] };
}
