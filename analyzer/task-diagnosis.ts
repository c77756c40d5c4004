/**
 * The analysis document's `diagnosis` of a task (common/analysis-document.ts): its latest and its slowest
 * run against its comparable runs (analyzer/diagnosis.ts), and what its duration follows across runs
 * (analyzer/inconsistency.ts). Pure, from the run summaries the night already reads: no sample and no
 * neighbour is read at night, so the night's cost does not grow with samples (docs/architecture.md
 * "Performance and scale"); `rightsize explain` adds the neighbours for one run.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import type { RunSummary } from "../db/queries/task-histories.js";
import { diagnoseRun, mainCauseText, pickRun, type RunDiagnosis } from "./diagnosis.js";
import { explainInconsistency } from "./inconsistency.js";

type TaskDiagnosis = NonNullable<TaskAnalysis["diagnosis"]>;

function documentOf(diagnosis: RunDiagnosis): TaskDiagnosis["latest"] {
  return {
    executionId: diagnosis.executionId,
    runId: diagnosis.runId,
    tryNumber: diagnosis.tryNumber,
    startedAt: diagnosis.startedAt,
    durationSeconds: diagnosis.durationSeconds,
    verdict: diagnosis.verdict,
    comparableRuns: diagnosis.comparableRuns,
    baselineSeconds: diagnosis.baseline?.durationSeconds ?? null,
    deltaSeconds: diagnosis.deltaSeconds,
    mainCause: diagnosis.mainCause,
    mainEndpoint: diagnosis.mainEndpoint,
    mainCauseText: mainCauseText(diagnosis),
    components: diagnosis.components.map((component) => ({ ...component })),
    sentences: diagnosis.sentences,
  };
}

/** The task's diagnosis, or undefined without a run. `runs` in any order. */
export function taskDiagnosisOf(runs: ReadonlyArray<RunSummary>): TaskDiagnosis | undefined {
  if (runs.length === 0) return undefined;
  const latest = pickRun(runs, { latest: true })!;
  const worst = pickRun(runs, { slowest: true })!;
  const variation = explainInconsistency(runs);
  return {
    latest: documentOf(diagnoseRun(latest, runs)),
    ...(worst === latest ? {} : { worst: documentOf(diagnoseRun(worst, runs)) }),
    variation: {
      inconsistent: variation.inconsistent,
      p95OverP50: variation.p95OverP50,
      cv: variation.cv,
      factor: variation.explainedBy?.label ?? null,
      r: variation.explainedBy?.r ?? null,
      runs: variation.runs,
      sentence: variation.sentence,
    },
  };
}
