/**
 * The CI gate (pure): declared requests against recommendations, one verdict per task and resource, and
 * its renderings (a text table, GitHub workflow commands with a job summary, JSON).
 */
import Table from "cli-table3";
import { THROTTLED_SHARE } from "../analyzer/classify.js";
import {
  type AnalysisDocument,
  backtestShowsOomRisk,
  type TaskAnalysis,
} from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import type { Finding, Resource, ScanResult } from "./findings.js";
import {
  escapeMarkdown,
  escapeTextLine,
  escapeWorkflowData,
  escapeWorkflowProperty,
} from "../reports/escape.js";
import { describeValue, targetValue } from "./quantities.js";
import { type NotAppliedDeclaration, notAppliedDeclarations } from "./effective.js";
import { backtestEvidence } from "./held-back-cuts.js";
import { workersLabel, workerTarget } from "./helm-values.js";

export type Verdict =
  | "over-provisioned"
  | "under-provisioned"
  | "no-request"
  | "dynamic"
  | "no-data"
  | "ok"
  // a declared value the runs show never reached the task (sources/effective.ts)
  | "does-not-apply";
export type CheckSeverity = "info" | "warning" | "critical";

export interface CheckOptions {
  /** Over-provisioned when request > overRatio × recommendation … */
  overRatio: number;
  /** … and at least this many cores more (CPU) … */
  minCpuCores: number;
  /** … or this many bytes more (memory). */
  minMemoryBytes: number;
}

export interface CheckItem {
  orchestrator: string;
  pipeline: string;
  task: string;
  file: string;
  line: number;
  /** Null for verdicts about the task as a whole (no data, no request at all). */
  resource: Resource | null;
  verdict: Verdict;
  severity: CheckSeverity;
  declared: string | null;
  recommended: string | null;
  /** does-not-apply only: what the runs really had, when they had it. */
  effective?: string | null;
  message: string;
}

/**
 * Why a check could judge nothing (it fails closed): no task found in the repository, or recommendations
 * that match none of the tasks found (a wrong --repo, a wrong analysis, or keys that disagree).
 */
export type NothingToJudge = "no-tasks" | "no-matching-recommendations";

export interface CheckReport {
  items: CheckItem[];
  /** Set when nothing could be judged; the check then fails with its own exit code. */
  nothingToJudge: { reason: NothingToJudge; message: string } | null;
  /** Files the scan skipped (syntax errors, malformed YAML). */
  problems: ScanResult["problems"];
  violations: CheckItem[];
  failOn: "warning" | "critical";
  failed: boolean;
}

const severityRank: Record<CheckSeverity, number> = { info: 0, warning: 1, critical: 2 };

function requestFinding(
  scan: ScanResult,
  orchestrator: string,
  pipeline: string,
  task: string,
  resource: Resource,
) {
  return scan.findings.find(
    (finding) =>
      finding.kind === "request" &&
      finding.resource === resource &&
      finding.orchestrator === orchestrator &&
      finding.pipeline === pipeline &&
      finding.tasks.includes(task),
  );
}

/** Compares every task found in the repository with its recommendation. */
export function checkRequests(
  scan: ScanResult,
  document: AnalysisDocument,
  options: CheckOptions,
  failOn: "warning" | "critical",
): CheckReport {
  const analyses = new Map<string, TaskAnalysis>();
  for (const task of document.tasks) analyses.set(taskKeyString(task), task);
  const items: CheckItem[] = [];
  const notApplied = new Map<string, NotAppliedDeclaration[]>();
  for (const declaration of notAppliedDeclarations(scan, document)) {
    const key = taskKeyString(declaration);
    notApplied.set(key, [...(notApplied.get(key) ?? []), declaration]);
  }
  const seen = new Set<string>();
  for (const site of scan.tasks) {
    const key = taskKeyString(site);
    if (seen.has(key)) continue;
    seen.add(key);
    const base = { orchestrator: site.orchestrator, pipeline: site.pipeline, task: site.task };
    const analysis = analyses.get(key);
    items.push(...(notApplied.get(key) ?? []).map((declaration) => notAppliedItem(base, declaration)));
    if (!analysis || analysis.runs === 0 || analysis.recommendation.confidence === "none") {
      items.push({
        ...base,
        file: site.file,
        line: site.line,
        resource: null,
        verdict: "no-data",
        severity: "info",
        declared: null,
        recommended: null,
        message: analysis ? "not enough runs observed to judge" : "no runs observed in the analysis window",
      });
      continue;
    }
    const cpu = requestFinding(scan, site.orchestrator, site.pipeline, site.task, "cpu");
    const memory = requestFinding(scan, site.orchestrator, site.pipeline, site.task, "memory");
    if (!cpu && !memory) {
      items.push({
        ...base,
        file: site.file,
        line: site.line,
        resource: null,
        verdict: "no-request",
        severity: "warning",
        declared: null,
        recommended: `${describeValue("cores", analysis.recommendation.cpuCores)}, ${describeValue("k8s-memory", analysis.recommendation.memoryBytes)}`,
        message: `declares no CPU or memory request; recommended ${describeValue("cores", analysis.recommendation.cpuCores)} and ${describeValue("k8s-memory", analysis.recommendation.memoryBytes)}`,
      });
      continue;
    }
    for (const [resource, finding] of [
      ["cpu", cpu],
      ["memory", memory],
    ] as const) {
      // A request that never reached the task is judged by its does-not-apply item alone: sizing it
      // against the recommendation would ask for a change that changes nothing.
      if (finding && notApplied.get(key)?.some((declaration) => declaration.finding === finding)) continue;
      items.push(judge(base, resource, finding, analysis, options, site));
    }
  }
  items.push(...judgeWorkers(scan, document, options));
  const violations = items.filter((item) => item.severity !== "info" && item.verdict !== "ok");
  const failed = violations.some((item) => severityRank[item.severity] >= severityRank[failOn]);
  return {
    items,
    nothingToJudge: nothingToJudge(scan, analyses, document),
    problems: scan.problems,
    violations,
    failOn,
    failed,
  };
}

/**
 * Worker-level requests (the Helm chart's `workers.resources`) against the tasks that run on those workers
 * (sources/helm-values.ts `workerTarget`): the target is the sum of the heaviest slots' recommendations,
 * the observed use the sum of the same slots' memory peaks. A memory request or limit below that use is
 * critical (the heaviest tasks meeting on one worker have used more than it holds); a request over
 * `overRatio` × the target, and at least the minimum more, is over-provisioned. One item per value.
 */
function judgeWorkers(scan: ScanResult, document: AnalysisDocument, options: CheckOptions): CheckItem[] {
  const usable = document.tasks.filter(
    (analysis) => analysis.runs > 0 && analysis.recommendation.confidence !== "none",
  );
  const items: CheckItem[] = [];
  for (const finding of scan.findings) {
    if (finding.via !== "worker" || !finding.workers) continue;
    const unit = finding.resource === "cpu" ? "cores" : "k8s-memory";
    const target = workerTarget(finding, scan, usable);
    const item = (
      verdict: Verdict,
      severity: CheckSeverity,
      recommended: string | null,
      message: string,
    ) => ({
      orchestrator: finding.orchestrator,
      pipeline: finding.pipeline,
      task: workersLabel(finding.workers!),
      file: finding.file,
      line: finding.line,
      resource: finding.resource,
      verdict,
      severity,
      declared: finding.dynamic ? finding.raw : describeValue(unit, finding.value),
      recommended,
      message,
    });
    const what = `${finding.workers.set ? `worker set ${finding.workers.set}'s` : "workers'"} ${finding.resource} ${finding.kind}`;
    if (!target) {
      items.push(
        item("no-data", "info", null, "no task that runs on these workers has enough runs to judge"),
      );
      continue;
    }
    if (finding.dynamic || finding.value === null) {
      items.push(
        item("dynamic", "info", null, `${what} ${finding.raw} is computed at deploy time; not compared`),
      );
      continue;
    }
    const recommendedValue = targetValue(finding.unit, target.cpuCores, target.memoryBytes);
    const recommended = describeValue(unit, recommendedValue);
    const declared = describeValue(unit, finding.value);
    const slots = `${Math.min(finding.workers.slots, target.tasks.length)} heaviest of the ${target.tasks.length} task(s) that run there (${finding.workers.slotsFrom})`;
    if (finding.resource === "memory" && finding.value < target.peakMemoryBytes) {
      items.push(
        item(
          "under-provisioned",
          "critical",
          recommended,
          `${what} ${declared} is below the ${describeValue(unit, target.peakMemoryBytes)} the ${slots} used at their peaks; recommended ${recommended}`,
        ),
      );
      continue;
    }
    const minimum = finding.resource === "cpu" ? options.minCpuCores : options.minMemoryBytes;
    if (
      finding.kind === "request" &&
      finding.value > options.overRatio * recommendedValue &&
      finding.value - recommendedValue >= minimum
    ) {
      items.push(
        item(
          "over-provisioned",
          "warning",
          recommended,
          `${what} ${declared} is ${(finding.value / recommendedValue).toFixed(1)}× the ${recommended} the ${slots} need at once`,
        ),
      );
      continue;
    }
    items.push(
      item(
        "ok",
        "info",
        recommended,
        `${what} ${declared} fits the ${recommended} the ${slots} need at once`,
      ),
    );
  }
  return items;
}

function notAppliedItem(
  base: { orchestrator: string; pipeline: string; task: string },
  declaration: NotAppliedDeclaration,
): CheckItem {
  const { finding, mismatch } = declaration;
  const unit = finding.resource === "cpu" ? "cores" : "k8s-memory";
  return {
    ...base,
    file: finding.file,
    line: finding.line,
    resource: finding.resource,
    verdict: "does-not-apply",
    severity: "warning",
    declared: describeValue(unit, finding.value),
    recommended: null,
    effective:
      mismatch?.effective == null
        ? null
        : `${describeValue(unit, mismatch.effective)} ${mismatch.effectiveKind}`,
    message: declaration.message,
  };
}

function nothingToJudge(
  scan: ScanResult,
  analyses: Map<string, TaskAnalysis>,
  document: AnalysisDocument,
): CheckReport["nothingToJudge"] {
  if (scan.tasks.length === 0) {
    return {
      reason: "no-tasks",
      message: `no Airflow task or Prefect deployment found in ${scan.files.length} file(s): nothing to check (wrong --repo?)`,
    };
  }
  if (!scan.tasks.some((site) => analyses.has(taskKeyString(site)))) {
    const example = scan.tasks[0]!;
    return {
      reason: "no-matching-recommendations",
      message: `none of the ${document.tasks.length} recommendation(s) matches any of the ${new Set(scan.tasks.map((site) => taskKeyString(site))).size} task(s) found (e.g. ${taskKeyString(example)}): wrong --recommendations or --repo?`,
    };
  }
  return null;
}

function judge(
  base: { orchestrator: string; pipeline: string; task: string },
  resource: Resource,
  finding: Finding | undefined,
  analysis: TaskAnalysis,
  options: CheckOptions,
  site: { file: string; line: number },
): CheckItem {
  const unit = resource === "cpu" ? "cores" : "k8s-memory";
  // The value the declaration's target would hold (common/sizing-policy.ts): what `patch` writes.
  const { cpuCores, memoryBytes } = analysis.recommendation;
  const recommendedValue = finding
    ? targetValue(finding.unit, cpuCores, memoryBytes)
    : resource === "cpu"
      ? cpuCores
      : memoryBytes;
  const recommended = describeValue(unit, recommendedValue);
  const item = (verdict: Verdict, severity: CheckSeverity, message: string): CheckItem => ({
    ...base,
    file: finding?.file ?? site.file,
    line: finding?.line ?? site.line,
    resource,
    verdict,
    severity,
    declared: finding ? (finding.dynamic ? finding.raw : describeValue(unit, finding.value)) : null,
    recommended,
    message,
  });
  if (!finding)
    return item("no-request", "warning", `declares no ${resource} request; recommended ${recommended}`);
  if (finding.dynamic || finding.value === null) {
    return item(
      "dynamic",
      "info",
      `${resource} request ${finding.raw} is computed at run time; not compared`,
    );
  }
  const declared = finding.value;
  const declaredText = describeValue(unit, declared);
  if (resource === "memory" && declared < analysis.memory.peakBytes.max) {
    return item(
      "under-provisioned",
      "critical",
      `memory request ${declaredText} is below the observed peak ${describeValue(unit, analysis.memory.peakBytes.max)}; recommended ${recommended}`,
    );
  }
  const throttled = analysis.cpu.throttledShare ?? 0;
  if (resource === "cpu" && (throttled > THROTTLED_SHARE || analysis.bottleneck === "cpu-throttled")) {
    return item(
      "under-provisioned",
      "warning",
      `CPU throttled in ${Math.round(throttled * 100)} % of periods with a request of ${declaredText}; recommended ${recommended}`,
    );
  }
  // A cut the task's own runs would not have survived is never proposed (docs/analyzer.md "Backtest").
  if (resource === "memory" && declared > recommendedValue && backtestShowsOomRisk(analysis)) {
    return item("ok", "info", `memory request ${declaredText} kept: ${backtestEvidence(analysis)}`);
  }
  const minimum = resource === "cpu" ? options.minCpuCores : options.minMemoryBytes;
  if (declared > options.overRatio * recommendedValue && declared - recommendedValue >= minimum) {
    const saving = analysis.recommendation.monthlySavingsUsd;
    return item(
      "over-provisioned",
      "warning",
      `${resource} request ${declaredText} is ${(declared / recommendedValue).toFixed(1)}× the recommended ${recommended}${saving ? ` (saves about $${saving.toFixed(2)}/month)` : ""}`,
    );
  }
  return item("ok", "info", `${resource} request ${declaredText} fits the recommended ${recommended}`);
}

/** A table for people. */
export function renderCheckText(report: CheckReport): string {
  const table = new Table({
    head: ["task", "resource", "declared", "recommended", "verdict", "where"],
    style: { head: [], border: [], compact: true },
  });
  for (const item of report.items) {
    table.push([
      escapeTextLine(`${item.pipeline}/${item.task}`),
      item.resource ?? "–",
      escapeTextLine(item.declared ?? "–"),
      escapeTextLine(item.recommended ?? "–"),
      item.verdict,
      escapeTextLine(`${item.file}:${item.line}`),
    ]);
  }
  const lines = [table.toString()];
  for (const item of report.violations)
    lines.push(
      escapeTextLine(
        `${item.severity}: ${item.file}:${item.line} ${item.pipeline}/${item.task}: ${item.message}`,
      ),
    );
  lines.push(summaryLine(report));
  return `${lines.join("\n")}\n`;
}

function summaryLine(report: CheckReport): string {
  if (report.nothingToJudge) return `NOTHING CHECKED: ${report.nothingToJudge.message}`;
  const critical = report.violations.filter((item) => item.severity === "critical").length;
  const warnings = report.violations.filter((item) => item.severity === "warning").length;
  return `${report.failed ? "FAILED" : "passed"}: ${critical} critical, ${warnings} warning(s) (fail on ${report.failOn})`;
}

/**
 * `::warning file=…,line=…,title=…::message` / `::error …` per violation. GitHub resolves `file` from the
 * workspace root: `pathPrefix` is where the scanned repository sits inside it (`airflow/` for
 * `--repo airflow`).
 */
export function renderGithubAnnotations(report: CheckReport, pathPrefix = ""): string {
  const skipped = report.problems.map(
    (problem) =>
      `::warning file=${escapeWorkflowProperty(pathPrefix + problem.file)},line=${problem.line},title=rightsize%3A file skipped::${escapeWorkflowData(problem.message)}\n`,
  );
  const nothing = report.nothingToJudge
    ? [`::error title=rightsize%3A nothing checked::${escapeWorkflowData(report.nothingToJudge.message)}\n`]
    : [];
  return (
    nothing.join("") +
    skipped.join("") +
    report.violations
      .map((item) => {
        const command = item.severity === "critical" ? "error" : "warning";
        const title = `rightsize: ${item.pipeline}/${item.task} ${item.verdict}`;
        return `::${command} file=${escapeWorkflowProperty(pathPrefix + item.file)},line=${item.line},title=${escapeWorkflowProperty(title)}::${escapeWorkflowData(item.message)}\n`;
      })
      .join("")
  );
}

/** The Markdown job summary ($GITHUB_STEP_SUMMARY). */
export function renderJobSummary(report: CheckReport): string {
  const lines = [`## rightsize check: ${report.failed ? "failed" : "passed"}`, "", summaryLine(report), ""];
  if (report.violations.length > 0) {
    lines.push(
      "| severity | task | resource | declared | recommended | verdict | where |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const item of report.violations) {
      lines.push(
        `| ${item.severity} | ${escapeMarkdown(`${item.pipeline}/${item.task}`)} | ${item.resource ?? "–"} | ${escapeMarkdown(item.declared ?? "–")} | ${escapeMarkdown(item.recommended ?? "–")} | ${item.verdict} | ${escapeMarkdown(`${item.file}:${item.line}`)} |`,
      );
    }
    lines.push("");
  }
  const noData = report.items.filter((item) => item.verdict === "no-data").length;
  if (noData > 0) lines.push(`${noData} task(s) without enough data were not judged.`, "");
  return `${lines.join("\n")}\n`;
}

export function renderCheckJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
