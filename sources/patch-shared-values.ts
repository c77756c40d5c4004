/**
 * The shared declarations' new values (pure): one edit per declaration when the tasks it reaches agree;
 * when they don't, the value it keeps and the tasks that need an override of their own.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import { taskKeywordOfPattern, yamlTaskKeywordOfPattern } from "./declaration-patterns.js";
import type { Finding, Pattern, ScanResult, TaskSite } from "./findings.js";
import type { Change, PlanPart } from "./patch-plan.js";
import { literalSource, wantedFor } from "./patch-values.js";
import { describeValue } from "./quantities.js";

interface Member {
  finding: Finding;
  task: string;
  /** The literal text the task wants, without quotes for strings. */
  wanted: string;
  wantedValue: number;
}

/** `dag/task` for Airflow; the deployment name for Prefect, whose only task is the flow. */
function label(member: Member): string {
  return member.finding.orchestrator === "prefect"
    ? member.finding.pipeline
    : `${member.finding.pipeline}/${member.task}`;
}

/** A task that gets its own declaration of `pattern`, and why. */
export interface Override {
  site: TaskSite;
  pattern: Pattern;
  reasons: string[];
  /** The shared declarations the task wants another value of. */
  findings: Finding[];
}

/** One shared declaration's wish for an override of one of its tasks: `key` names the task and pattern. */
interface WantedOverride {
  key: string;
  site: TaskSite;
  pattern: Pattern;
  reason: string;
  finding: Finding;
}

/**
 * The task declarations' values by place: one group per place in a file, each task it reaches with the
 * value it wants. A module variable or default_args shared by several tasks (and, in prefect.yaml, by
 * several deployments through an anchor) is one group. Workers' own requests are left to
 * {@link planWorkerRequests} (sources/patch-worker-requests.ts).
 */
function groupByPlace(scan: ScanResult, recommendations: Map<string, TaskAnalysis>): Member[][] {
  const groups = new Map<string, Member[]>();
  for (const finding of scan.findings) {
    if (finding.dynamic || finding.literal === null || finding.value === null) continue;
    if (finding.via === "worker") continue;
    const key = `${finding.file}:${finding.start}:${finding.resource}:${finding.kind}`;
    const members = groups.get(key) ?? [];
    for (const task of finding.tasks) {
      const wanted = wantedFor(finding, task, scan, recommendations);
      members.push({ finding, task, wanted: wanted.text, wantedValue: wanted.value });
    }
    groups.set(key, members);
  }
  return [...groups.values()];
}

/**
 * Every shared value's new text, and the per-task overrides for tasks that want another value than the
 * one their shared declaration keeps (merged per task and pattern, with every reason).
 */
export function planSharedValues(
  scan: ScanResult,
  recommendations: Map<string, TaskAnalysis>,
): PlanPart & { overrides: Override[] } {
  const groups = groupByPlace(scan, recommendations).map((members) => planGroup(members, scan));
  const overrides = new Map<string, Override>();
  for (const { key, site, pattern, reason, finding } of groups.flatMap((group) => group.overrides)) {
    const override = overrides.get(key) ?? { site, pattern, reasons: [], findings: [] };
    if (!override.reasons.includes(reason)) override.reasons.push(reason);
    override.findings.push(finding);
    overrides.set(key, override);
  }
  return {
    edits: groups.flatMap((group) => group.edits),
    changes: groups.flatMap((group) => group.changes),
    notes: groups.flatMap((group) => group.notes),
    overrides: [...overrides.values()],
  };
}

/** The change of `first`'s value to what `subset` (its first member) wants, on behalf of `subset`. */
function changeOf(first: Finding, subset: Member[], how: Change["how"]): Change {
  return {
    file: first.file,
    line: first.line,
    orchestrator: first.orchestrator,
    pipeline: [...new Set(subset.map((member) => member.finding.pipeline))].join(", "),
    tasks: subset.map(label),
    resource: first.resource,
    kind: first.kind,
    from: first.raw,
    to: literalSource(first, subset[0]!.wanted),
    fromValue: first.value!,
    toValue: subset[0]!.wantedValue,
    fromText: describeValue(first.unit, first.value),
    toText: describeValue(first.unit, subset[0]!.wantedValue),
    how,
  };
}

/** The task site a member's value reaches. */
function siteOf(scan: ScanResult, first: Finding, member: Member): TaskSite | undefined {
  return scan.tasks.find(
    (candidate) =>
      candidate.orchestrator === first.orchestrator &&
      candidate.pipeline === member.finding.pipeline &&
      candidate.task === member.task,
  );
}

/**
 * Whether a task can get its own declaration of `first`'s pattern. Not: a prefect.yaml anchor reached
 * through a shared work pool, a work-pool default, a dag-factory task written as a flow mapping.
 */
function canOverride(first: Finding, site: TaskSite | undefined): site is TaskSite {
  return (
    site !== undefined &&
    (taskKeywordOfPattern[first.pattern] !== undefined ||
      (yamlTaskKeywordOfPattern[first.pattern] !== undefined && site.yamlIndent !== undefined) ||
      (first.pattern === "prefect_yaml" && site.jobVariablesAlias !== undefined) ||
      // A work pool's default of a variable: the deployment sets the variable itself in prefect.yaml.
      (first.pattern === "work_pool_template" &&
        first.variable !== undefined &&
        site.jobVariablesPlace !== undefined))
  );
}

/**
 * One shared declaration's plan: its new value's edit and change, and the overrides of the tasks that
 * want another value than the one it keeps.
 */
function planGroup(members: Member[], scan: ScanResult): PlanPart & { overrides: WantedOverride[] } {
  const part: PlanPart = { edits: [], changes: [], notes: [] };
  const first = members[0]!.finding;
  const wantedTexts = new Set(members.map((member) => member.wanted));
  if (wantedTexts.size === 1) {
    if (members[0]!.wanted !== first.literal!.text) {
      part.edits.push({ file: first.file, start: first.start, end: first.end, text: members[0]!.wanted });
      part.changes.push(changeOf(first, members, "shared"));
    }
    return { ...part, overrides: [] };
  }
  // The tasks sharing this value want different values: the shared literal keeps one of them
  // (keptText), every other task gets its own.
  const byWanted = new Map<string, Member[]>();
  for (const member of members) byWanted.set(member.wanted, [...(byWanted.get(member.wanted) ?? []), member]);
  // Tasks that cannot get a value of their own (a prefect.yaml anchor reached through a shared work
  // pool, a work-pool default, a dag-factory task written as a flow mapping) keep the shared value,
  // sized for the largest of them, which is enough for every task sharing it; every other task that
  // wants something else gets an override.
  const fixed = members.filter((member) => !canOverride(first, siteOf(scan, first, member)));
  const keeperText = keptText(first, fixed, byWanted);
  // The new shared value is what those fixed tasks get too: the change is theirs as well.
  const unserved = fixed.filter((member) => member.wanted !== keeperText);
  if (keeperText !== first.literal!.text) {
    part.edits.push({ file: first.file, start: first.start, end: first.end, text: keeperText });
    part.changes.push(changeOf(first, [...byWanted.get(keeperText)!, ...unserved], "shared"));
  }
  const summary = [...byWanted.entries()]
    .map(
      ([text, group]) =>
        `${group.map(label).join(", ")}: ${describeValue(first.unit, group[0]!.wantedValue)} (${text})`,
    )
    .join("; ");
  const reason = `${first.resource} ${first.kind} at ${first.file}:${first.line} is shared by tasks that need different values (${summary})`;
  if (unserved.length > 0) {
    part.notes.push(
      `${reason}: no per-task override is possible for ${unserved.map(label).join(", ")} in ${first.file} (${first.pattern}); the shared value is the largest one wanted`,
    );
  }
  const overrides: WantedOverride[] = [];
  for (const [text, group] of byWanted) {
    if (text === keeperText) continue;
    for (const member of group) {
      const site = siteOf(scan, first, member);
      if (!canOverride(first, site)) continue;
      const key = `${member.finding.pipeline}/${member.task}/${first.pattern}`;
      overrides.push({ key, site, pattern: first.pattern, reason, finding: member.finding });
      part.changes.push(changeOf(first, [member], "override"));
    }
  }
  return { ...part, overrides };
}

/**
 * The text a shared declaration keeps when its tasks disagree: the largest one wanted by the tasks that
 * cannot be overridden (`fixed`); else its current text when some task wants that (tasks without data
 * do); else the text the most tasks want (ties: the first in text order).
 */
function keptText(first: Finding, fixed: Member[], byWanted: Map<string, Member[]>): string {
  if (fixed.length > 0) return [...fixed].sort((a, b) => b.wantedValue - a.wantedValue)[0]!.wanted;
  if (byWanted.has(first.literal!.text)) return first.literal!.text;
  return [...byWanted.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]![0];
}
