/**
 * Turns recommendations into edits of the literal values the scanner found (pure): which value each
 * declaration should carry, one edit per shared declaration when its tasks agree, per-task overrides when
 * they don't, and unified diffs that `git apply` accepts.
 *
 * Limits: a request becomes the value its target holds for the recommendation (common/sizing-policy.ts:
 * the value the analysis and the report show, for Kubernetes-like targets exactly), in the literal's own
 * style.
 * A limit is left alone while the new request fits under it; when the new request would exceed it, the
 * limit moves with the request and keeps the limit/request ratio the file had (1 when the file declared
 * no request). Limits are never lowered: a limit is a safety net the owner chose.
 */
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { backtestShowsOomRisk, type TaskAnalysis } from "../common/analysis-document.js";
import { taskKeyString } from "../common/task-key.js";
import { taskKeywordOfPattern, yamlTaskKeywordOfPattern } from "./declaration-patterns.js";
import type { Finding, Pattern, RequestKind, Resource, ScanResult, TaskSite } from "./findings.js";
import { heldBackNotes } from "./held-back-cuts.js";
import { workersLabel, workerTarget } from "./helm-values.js";
import { describeValue, formatLike, parseDeclared, targetValue, targetValueOf } from "./quantities.js";

/** A patch could not be made safely; nothing is written. */
export class PatchError extends Error {
  override name = "PatchError";
}

/** One value changed, for the command output, the commit message and the PR body. */
export interface Change {
  file: string;
  line: number;
  orchestrator: string;
  pipeline: string;
  /** `dag/task` (Airflow) or the deployment name (Prefect) of every task the change applies to. */
  tasks: string[];
  resource: Resource;
  kind: RequestKind;
  /** As written before and after (with quotes for strings). */
  from: string;
  to: string;
  fromValue: number;
  toValue: number;
  /** Human form of the values: `4 cores`, `8 GiB`. */
  fromText: string;
  toText: string;
  /** How the change was made. */
  how: "shared" | "override";
}

export interface PatchedFile {
  file: string;
  before: string;
  after: string;
}

export interface PatchPlan {
  files: PatchedFile[];
  changes: Change[];
  /** Why something was done a particular way, or left alone. */
  notes: string[];
}

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

interface Member {
  finding: Finding;
  task: string;
  /** The literal text the task wants, without quotes for strings. */
  wanted: string;
  wantedValue: number;
}

/** The text (between quotes for strings) a finding should carry for one task. */
function wantedFor(
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
function wantedForTarget(
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

/** `dag/task` for Airflow; the deployment name for Prefect, whose only task is the flow. */
function label(member: Member): string {
  return member.finding.orchestrator === "prefect"
    ? member.finding.pipeline
    : `${member.finding.pipeline}/${member.task}`;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** An edit of one file. */
interface FileEdit extends Edit {
  file: string;
}

/** What one step of the plan adds: edits, changes and notes, each in the order it made them. */
interface PlanPart {
  edits: FileEdit[];
  changes: Change[];
  notes: string[];
}

/** A task that gets its own declaration of `pattern`, and why. */
interface Override {
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

/** Re-quotes a string literal's new text the way the original was quoted. */
function literalSource(finding: Finding, text: string): string {
  if (finding.literal?.kind !== "string") return text;
  const open = finding.raw.slice(0, finding.raw.indexOf(finding.literal.text));
  const close = finding.raw.slice(
    finding.raw.lastIndexOf(finding.literal.text) + finding.literal.text.length,
  );
  return `${open}${text}${close}`;
}

/**
 * Plans the edits for every non-dynamic finding. `sources` holds the text of every file a finding points
 * into. Throws {@link PatchError} when an edited file would no longer parse (checked by `verify`).
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

/**
 * The task declarations' values by place: one group per place in a file, each task it reaches with the
 * value it wants. A module variable or default_args shared by several tasks (and, in prefect.yaml, by
 * several deployments through an anchor) is one group. Workers' own requests are left to
 * {@link planWorkerRequests}.
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
function planSharedValues(
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

/** Each override's edit (a declaration of the task's own, or a merge key over a prefect.yaml anchor). */
function planOverrides(
  overrides: Override[],
  scan: ScanResult,
  sources: Map<string, string>,
  recommendations: Map<string, TaskAnalysis>,
): PlanPart {
  const part: PlanPart = { edits: [], changes: [], notes: [] };
  for (const { site, pattern, reasons, findings } of overrides) {
    const reason = reasons.join("; ");
    part.notes.push(
      `override for ${site.orchestrator === "prefect" ? site.pipeline : `${site.pipeline}/${site.task}`} in ${site.file}: ${reason}`,
    );
    part.edits.push(
      pattern === "prefect_yaml" && site.jobVariablesAlias
        ? mergeKeyOverride(site, site.jobVariablesAlias, scan, recommendations)
        : pattern === "work_pool_template" && site.jobVariablesPlace
          ? poolDefaultOverride(
              site,
              site.jobVariablesPlace,
              reason,
              findings,
              scan,
              sources,
              recommendations,
            )
          : declarationOverride(site, pattern, reason, scan, sources, recommendations),
    );
  }
  return part;
}

/**
 * A prefect.yaml deployment's override: a YAML merge key keeps everything the anchor holds and overrides
 * this deployment's values (Prefect reads prefect.yaml with PyYAML's safe loader, which honors `<<`).
 */
function mergeKeyOverride(
  site: TaskSite,
  alias: NonNullable<TaskSite["jobVariablesAlias"]>,
  scan: ScanResult,
  recommendations: Map<string, TaskAnalysis>,
): FileEdit {
  const values = scan.findings
    .filter(
      (finding) =>
        finding.pattern === "prefect_yaml" && finding.pipeline === site.pipeline && finding.variable,
    )
    .map((finding) => {
      const text =
        finding.dynamic || !finding.literal
          ? finding.raw
          : literalSource(finding, wantedFor(finding, site.task, scan, recommendations).text);
      return `${finding.variable}: ${text}`;
    });
  return {
    file: site.file,
    start: alias.start,
    end: alias.end,
    text: `{<<: *${alias.anchor}, ${values.join(", ")}}`,
  };
}

/**
 * A deployment's own job variables in place of its work pool's defaults: each pool default the
 * deployment wants another value of (`findings`; the defaults it is content with stay inherited), added to
 * its `work_pool.job_variables` in prefect.yaml (a
 * deployment's job variables fill the template's placeholders over the pool's defaults: PrefectHQ/prefect
 * src/prefect/workers/base.py `BaseJobConfiguration.from_template_and_values`). Strings are written as
 * JSON strings (valid YAML) so they keep the type the pool's variable schema has.
 */
function poolDefaultOverride(
  site: TaskSite,
  place: NonNullable<TaskSite["jobVariablesPlace"]>,
  reason: string,
  findings: Finding[],
  scan: ScanResult,
  sources: Map<string, string>,
  recommendations: Map<string, TaskAnalysis>,
): FileEdit {
  const values = findings
    .filter((finding) => finding.variable !== undefined && finding.literal !== null)
    .map((finding) => {
      const text = wantedFor(finding, site.task, scan, recommendations).text;
      return `${finding.variable}: ${finding.literal!.kind === "string" ? JSON.stringify(text) : text}`;
    });
  const eol = (sources.get(site.file) ?? "")[place.at] === "\r" ? "\r\n" : "\n";
  // Names in the reason come from the repository: no line break may end the comment early.
  const comment = `# rightsize: per-deployment override, ${reason}`.replace(
    /[\r\n\u0085\u2028\u2029]+/g,
    " ",
  );
  const text =
    place.form === "flow"
      ? `${place.empty ? "" : ", "}${values.join(", ")}`
      : place.form === "key"
        ? `${eol}${place.indent}${comment}${eol}${place.indent}job_variables: {${values.join(", ")}}`
        : `${eol}${place.indent}${comment}${values.map((value) => `${eol}${place.indent}${value}`).join("")}`;
  return { file: site.file, start: place.at, end: place.at, text };
}

/**
 * A task's own declaration of `pattern`: replacing the keyword argument (or YAML key) it passes, or
 * added after its last argument (its mapping's last key in YAML) with a comment saying why.
 */
function declarationOverride(
  site: TaskSite,
  pattern: Pattern,
  reason: string,
  scan: ScanResult,
  sources: Map<string, string>,
  recommendations: Map<string, TaskAnalysis>,
): FileEdit {
  const declaration = renderDeclaration(scan, site, pattern, recommendations);
  const yamlKeyword = yamlTaskKeywordOfPattern[pattern];
  const keyword = yamlKeyword ?? taskKeywordOfPattern[pattern]!;
  const existing = site.keywords[keyword];
  const insert = (text: string): FileEdit => ({
    file: site.file,
    start: site.insertAt,
    end: site.insertAt,
    text,
  });
  // Names in the reason come from the repository: no line break may end the comment early.
  const comment = `# rightsize: per-task override, ${reason}`.replace(/[\r\n\u0085\u2028\u2029]+/g, " ");
  if (yamlKeyword && site.yamlIndent !== undefined && !existing) {
    // A key of the task's mapping on lines of its own, after the line insertAt ends, in its line ends.
    const eol = (sources.get(site.file) ?? "")[site.insertAt] === "\r" ? "\r\n" : "\n";
    const indent = site.yamlIndent;
    return insert(`${eol}${indent}${comment}${eol}${indent}${keyword}: ${declaration}`);
  }
  if (existing) return { file: site.file, start: existing.start, end: existing.end, text: declaration };
  if (site.bare) return insert(`(${keyword}=${declaration})`);
  const source = sources.get(site.file) ?? "";
  const afterOpenParen = source[site.insertAt - 1] === "(";
  return insert(
    site.indent !== null
      ? `,\n${site.indent}${comment}\n${site.indent}${keyword}=${declaration}`
      : `${afterOpenParen ? "" : ", "}${keyword}=${declaration}`,
  );
}

/**
 * Worker-level requests (the Helm chart's workers' resources) size the workers the tasks run on. A block
 * that several worker sets share (the default workers' resources, taken by every set without its own) is
 * one literal: it gets the largest value any of them wants (enough for each), and a note names them.
 */
function planWorkerRequests(scan: ScanResult, recommendations: Map<string, TaskAnalysis>): PlanPart {
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

/**
 * The patched files, in path order: each file's edits applied from its end backwards (equal ranges in the
 * order they were planned). Throws {@link PatchError} on a missing source, overlapping edits, or a result
 * `verify` refuses.
 */
function applyEdits(
  edits: FileEdit[],
  sources: Map<string, string>,
  verify: (file: string, text: string) => string | null,
): PatchedFile[] {
  const byFile = new Map<string, Edit[]>();
  for (const { file, ...edit } of edits) {
    const list = byFile.get(file) ?? [];
    list.push(edit);
    byFile.set(file, list);
  }
  const files: PatchedFile[] = [];
  for (const [file, list] of [...byFile.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const before = sources.get(file);
    if (before === undefined) throw new PatchError(`${file}: source not available for patching`);
    const sorted = list.sort((a, b) => b.start - a.start || b.end - a.end);
    let after = before;
    let floor = Number.POSITIVE_INFINITY;
    for (const edit of sorted) {
      if (edit.end > floor) {
        throw new PatchError(`${file}: overlapping edits at offset ${edit.start}; change it by hand`);
      }
      after = after.slice(0, edit.start) + edit.text + after.slice(edit.end);
      floor = edit.start;
    }
    const problem = verify(file, after);
    if (problem)
      throw new PatchError(`${file}: the patched file would not parse (${problem}); nothing written`);
    files.push({ file, before, after });
  }
  return files;
}

/** A flow mapping, or null for an empty one (left out of its parent). */
function nonEmpty(text: string): string | null {
  return text === "{}" ? null : text;
}

/** The whole declaration of `pattern` for one task, with its wanted values (dynamic ones copied as written). */
function renderDeclaration(
  scan: ScanResult,
  site: TaskSite,
  pattern: Pattern,
  recommendations: Map<string, TaskAnalysis>,
): string {
  const value = (resource: Resource, kind: RequestKind): string | null => {
    const finding = scan.findings.find(
      (candidate) =>
        candidate.pattern === pattern &&
        candidate.pipeline === site.pipeline &&
        candidate.tasks.includes(site.task) &&
        candidate.resource === resource &&
        candidate.kind === kind,
    );
    if (!finding) return null;
    if (finding.dynamic || !finding.literal) return finding.raw;
    return literalSource(finding, wantedFor(finding, site.task, scan, recommendations).text);
  };
  // YAML flow mappings (dag-factory) write plain keys, Python dicts quoted ones.
  const yaml = yamlTaskKeywordOfPattern[pattern] !== undefined;
  const dict = (entries: Array<[string, string | null]>) =>
    `{${entries
      .filter((entry): entry is [string, string] => entry[1] !== null)
      .map(([key, text]) => `${yaml ? key : `"${key}"`}: ${text}`)
      .join(", ")}}`;
  const yamlRequirements = () =>
    dict([
      ["__type__", "kubernetes.client.models.V1ResourceRequirements"],
      [
        "requests",
        nonEmpty(
          dict([
            ["cpu", value("cpu", "request")],
            ["memory", value("memory", "request")],
          ]),
        ),
      ],
      [
        "limits",
        nonEmpty(
          dict([
            ["cpu", value("cpu", "limit")],
            ["memory", value("memory", "limit")],
          ]),
        ),
      ],
    ]);
  const requirements = () => {
    const parts: string[] = [];
    const requests = dict([
      ["cpu", value("cpu", "request")],
      ["memory", value("memory", "request")],
    ]);
    const limits = dict([
      ["cpu", value("cpu", "limit")],
      ["memory", value("memory", "limit")],
    ]);
    if (requests !== "{}") parts.push(`requests=${requests}`);
    if (limits !== "{}") parts.push(`limits=${limits}`);
    return `${site.k8sModule}.V1ResourceRequirements(${parts.join(", ")})`;
  };
  switch (pattern) {
    case "dag_factory_resources":
    case "resources":
      return dict([
        ["cpus", value("cpu", "request")],
        ["ram", value("memory", "request")],
      ]);
    case "dag_factory_kubernetes_executor":
    case "kubernetes_executor":
      return `{${yaml ? "KubernetesExecutor" : '"KubernetesExecutor"'}: ${dict([
        ["request_cpu", value("cpu", "request")],
        ["limit_cpu", value("cpu", "limit")],
        ["request_memory", value("memory", "request")],
        ["limit_memory", value("memory", "limit")],
      ])}}`;
    case "pod_override": {
      const k8s = site.k8sModule;
      return `{"pod_override": ${k8s}.V1Pod(spec=${k8s}.V1PodSpec(containers=[${k8s}.V1Container(name="base", resources=${requirements()})]))}`;
    }
    case "container_resources":
      return requirements();
    // dag-factory builds objects from `__type__` mappings (dagfactory/utils.py `cast_with_type`).
    case "dag_factory_container_resources":
      return yamlRequirements();
    case "dag_factory_pod_override":
      return `{pod_override: {__type__: kubernetes.client.models.V1Pod, spec: {__type__: kubernetes.client.models.V1PodSpec, containers: [{__type__: kubernetes.client.models.V1Container, name: base, resources: ${yamlRequirements()}}]}}}`;
    default:
      throw new PatchError(`${site.file}: no per-task override for ${pattern}`);
  }
}

/**
 * Unified diffs of the planned files with `a/` and `b/` paths, preceded by `#` lines explaining the
 * changes (git apply ignores text before the first diff header).
 */
export function renderUnifiedDiff(plan: PatchPlan): string {
  const header = [
    ...plan.changes.map(
      (change) =>
        `# ${change.file}:${change.line} ${change.tasks.join(", ")}: ${change.resource} ${change.kind} ${change.from} -> ${change.to}${change.how === "override" ? " (per-task override)" : ""}`,
    ),
    ...plan.notes.map((note) => `# ${note}`),
  ];
  const diffs = plan.files.map((file) => {
    const patch = createTwoFilesPatch(
      `a/${file.file}`,
      `b/${file.file}`,
      file.before,
      file.after,
      undefined,
      undefined,
      {
        context: 3, // git's default number of context lines
        headerOptions: FILE_HEADERS_ONLY,
      },
    );
    return `diff --git a/${file.file} b/${file.file}\n${patch}`;
  });
  return `${header.length > 0 ? `${header.join("\n")}\n` : ""}${diffs.join("")}`;
}
