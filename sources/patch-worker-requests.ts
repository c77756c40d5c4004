/**
 * The edits of the workers' own requests (pure): the Helm chart's worker resources, sized for the tasks
 * that run on them.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import type { Finding, ScanResult } from "./findings.js";
import { workersLabel, workerTarget } from "./helm-values.js";
import type { PlanPart } from "./patch-plan.js";
import { literalSource, wantedForTarget } from "./patch-values.js";
import { describeValue } from "./quantities.js";

/**
 * Worker-level requests (the Helm chart's workers' resources) size the workers the tasks run on. A block
 * that several worker sets share (the default workers' resources, taken by every set without its own) is
 * one literal: it gets the largest value any of them wants (enough for each), and a note names them.
 */
export function planWorkerRequests(scan: ScanResult, recommendations: Map<string, TaskAnalysis>): PlanPart {
  const part: PlanPart = { edits: [], changes: [], notes: [] };
  const workerNotes = new Set<string>();
  const byLiteral = new Map<string, Array<{ finding: Finding; wanted: { text: string; value: number } }>>();
  for (const finding of scan.findings) {
    if (finding.via !== "worker" || finding.dynamic || finding.literal === null || finding.value === null)
      continue;
    const target = workerTarget(finding, scan, recommendations.values());
    const place = finding.workers?.resourcesAt ?? "workers.resources";
    if (!target) {
      workerNotes.add(
        `${place} at ${finding.file}${finding.workers?.set ? ` (worker set ${finding.workers.set})` : ""}: no task that runs on those workers has a recommendation; left alone`,
      );
      continue;
    }
    workerNotes.add(target.reason);
    const request = scan.findings.find(
      (other) =>
        other.via === "worker" &&
        other.file === finding.file &&
        other.workers?.resourcesAt === finding.workers?.resourcesAt &&
        other.workers?.set === finding.workers?.set &&
        other.kind === "request" &&
        other.resource === finding.resource &&
        other.literal !== null &&
        other.value !== null,
    );
    const key = `${finding.file}:${finding.start}`;
    byLiteral.set(key, [
      ...(byLiteral.get(key) ?? []),
      { finding, wanted: wantedForTarget(finding, target, request) },
    ]);
  }
  for (const wanting of byLiteral.values()) {
    const { finding, wanted } = wanting.reduce((largest, next) =>
      next.wanted.value > largest.wanted.value ? next : largest,
    );
    if (new Set(wanting.map((one) => one.wanted.text)).size > 1) {
      workerNotes.add(
        `${finding.file}:${finding.line} ${finding.workers?.resourcesAt ?? "workers.resources"} sizes worker sets ${wanting.map((one) => one.finding.workers?.set ?? "default").join(", ")}: it gets the largest value they want, ${describeValue(finding.unit, wanted.value)}; give a set its own resources to size it apart`,
      );
    }
    if (wanted.text === finding.literal!.text) continue;
    part.edits.push({ file: finding.file, start: finding.start, end: finding.end, text: wanted.text });
    part.changes.push({
      file: finding.file,
      line: finding.line,
      orchestrator: finding.orchestrator,
      pipeline: finding.pipeline,
      tasks: wanting.map((one) => workersLabel(one.finding.workers!)),
      resource: finding.resource,
      kind: finding.kind,
      from: finding.raw,
      to: literalSource(finding, wanted.text),
      fromValue: finding.value!,
      toValue: wanted.value,
      fromText: describeValue(finding.unit, finding.value!),
      toText: describeValue(finding.unit, wanted.value),
      how: "shared",
    });
  }
  part.notes.push(...workerNotes);
  return part;
}
