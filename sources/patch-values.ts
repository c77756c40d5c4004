/**
 * The value a declaration should carry for a recommendation, written in its literal's own style (pure).
 *
 * Limits: a request becomes the value its target holds for the recommendation (common/sizing-policy.ts:
 * the value the analysis and the report show, for Kubernetes-like targets exactly), in the literal's own
 * style.
 * A limit is left alone while the new request fits under it; when the new request would exceed it, the
 * limit moves with the request and keeps the limit/request ratio the file had (1 when the file declared
 * no request). Limits are never lowered: a limit is a safety net the owner chose.
 */
import { backtestShowsOomRisk, type TaskAnalysis } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import type { Finding, ScanResult } from "./findings.js";
import { formatLike, parseDeclared, targetValue, targetValueOf } from "./quantities.js";

/** The text (between quotes for strings) a finding should carry for one task. */
export function wantedFor(
  finding: Finding,
  task: string,
  scan: ScanResult,
  recommendations: Map<string, TaskAnalysis>,
): { text: string; value: number } {
  const analysis = recommendations.get(
    taskKeyString({ orchestrator: finding.orchestrator, pipeline: finding.pipeline, task }),
  );
  const request =
    finding.kind !== "limit"
      ? undefined
      : scan.findings.find(
          (other) =>
            other.kind === "request" &&
            other.resource === finding.resource &&
            other.pattern === finding.pattern &&
            other.pipeline === finding.pipeline &&
            other.tasks.includes(task) &&
            other.literal !== null &&
            other.value !== null,
        );
  const wanted = wantedForTarget(finding, analysis?.recommendation ?? null, request);
  // A memory cut the task's own runs would not have survived is never proposed (docs/analyzer.md "Backtest").
  if (
    analysis &&
    finding.resource === "memory" &&
    wanted.value < finding.value! &&
    backtestShowsOomRisk(analysis)
  ) {
    return { text: finding.literal!.text, value: finding.value! };
  }
  return wanted;
}

/**
 * The text a finding should carry for a recommendation of `cpuCores` and `memoryBytes` (a task's, or a
 * worker's); `request` is the same declaration's request of the resource, which a limit must stay above.
 */
export function wantedForTarget(
  finding: Finding,
  recommendation: { cpuCores: number; memoryBytes: number } | null,
  request: Finding | undefined,
): { text: string; value: number } {
  const current = { text: finding.literal!.text, value: finding.value! };
  if (!recommendation) return current;
  const { cpuCores, memoryBytes } = recommendation;
  const recommended = finding.resource === "cpu" ? cpuCores : memoryBytes;
  if (!Number.isFinite(recommended) || recommended <= 0) return current;
  // The value this declaration's target holds (common/sizing-policy.ts); never rounded again here.
  const newRequest = targetValue(finding.unit, cpuCores, memoryBytes);
  let target = newRequest;
  if (finding.kind === "limit") {
    // Compare with the request as it will be written: an exponent style may round it up a little, and
    // Kubernetes rejects a request above its limit.
    const written = request
      ? parseDeclared(request.unit, {
          kind: request.literal!.kind,
          text: formatLike(request.unit, request.literal!, targetValue(request.unit, cpuCores, memoryBytes)),
        })
      : newRequest;
    const requestValue = Math.max(newRequest, written);
    if (requestValue <= current.value) return current;
    const ratio = request?.value ? Math.max(1, current.value / request.value) : 1;
    target = targetValueOf(finding.unit, requestValue * ratio);
  }
  const text = formatLike(finding.unit, finding.literal!, target);
  const value = parseDeclared(finding.unit, { kind: finding.literal!.kind, text });
  // A value equal to the current one in another spelling ("1" vs "1.0") is not a change.
  if (Math.abs(value - current.value) < 1e-9 * Math.max(1, current.value)) return current;
  return { text, value };
}

/** Re-quotes a string literal's new text the way the original was quoted. */
export function literalSource(finding: Finding, text: string): string {
  if (finding.literal?.kind !== "string") return text;
  const open = finding.raw.slice(0, finding.raw.indexOf(finding.literal.text));
  const close = finding.raw.slice(
    finding.raw.lastIndexOf(finding.literal.text) + finding.literal.text.length,
  );
  return `${open}${text}${close}`;
}
