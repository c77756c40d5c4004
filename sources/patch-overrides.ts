/**
 * The per-task overrides' edits (pure): a declaration of the task's own, a YAML merge key over a
 * prefect.yaml anchor, or a deployment's own job variables over its work pool's defaults.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import { taskKeywordOfPattern, yamlTaskKeywordOfPattern } from "./declaration-patterns.js";
import type { Finding, Pattern, ScanResult, TaskSite } from "./findings.js";
import { renderDeclaration } from "./patch-declaration.js";
import type { FileEdit, PlanPart } from "./patch-plan.js";
import type { Override } from "./patch-shared-values.js";
import { literalSource, wantedFor } from "./patch-values.js";

/** Each override's edit (a declaration of the task's own, or a merge key over a prefect.yaml anchor). */
export function planOverrides(
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
