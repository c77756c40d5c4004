/**
 * The planning of a repository's changes, the use case behind `patch` and `pr`: scan the repository,
 * read the files the findings point into, plan the edits against the recommendations, and check every
 * patched file still parses.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { PrefectNames } from "./declaration-patterns.js";
import { notAppliedDeclarations, withoutNotApplied } from "./effective.js";
import type { ScanResult } from "./findings.js";
import type { PatchPlan } from "./patch-plan.js";
import { planPatches, usableRecommendations } from "./patcher.js";
import { readSources, scanRepository, syntaxChecker } from "./scan-repository.js";

export interface RepositoryPlan {
  scan: ScanResult;
  document: AnalysisDocument;
  plan: PatchPlan;
}

/**
 * Scans `repo`, then (scan warnings first, so a missing analysis doesn't hide them) loads the
 * recommendations through `recommendations` and plans the edits.
 */
export async function planRepositoryChanges(
  repo: string,
  names: PrefectNames,
  recommendations: () => Promise<AnalysisDocument>,
  warn: (scan: ScanResult) => void = () => undefined,
  options: Parameters<typeof scanRepository>[2] = {},
): Promise<RepositoryPlan> {
  const scan = await scanRepository(repo, names, options);
  warn(scan);
  const document = await recommendations();
  // A value the runs show never reached its task is left alone, with a note on where the effective one is.
  const applying = withoutNotApplied(scan, notAppliedDeclarations(scan, document));
  // The files the values are in, and the files of the tasks they reach, where a per-task override goes (a
  // dag-factory task whose value comes from a defaults.yml above it).
  const reached = new Set(
    applying.scan.findings.flatMap((finding) =>
      finding.tasks.map((task) => `${finding.orchestrator}\u0000${finding.pipeline}\u0000${task}`),
    ),
  );
  const sources = readSources(
    repo,
    new Set([
      ...applying.scan.findings.map((finding) => finding.file),
      ...applying.scan.tasks
        .filter((site) => reached.has(`${site.orchestrator}\u0000${site.pipeline}\u0000${site.task}`))
        .map((site) => site.file),
    ]),
  );
  const plan = planPatches(
    applying.scan,
    sources,
    usableRecommendations(document.tasks),
    await syntaxChecker(),
  );
  plan.notes.push(...applying.notes);
  return { scan, document, plan };
}

/** One line per change and per note, for the command output. */
export function describePlan(plan: PatchPlan): string[] {
  return [
    ...plan.changes.map(
      (change) =>
        `${change.file}:${change.line}  ${change.tasks.join(", ")}  ${change.resource} ${change.kind} ${change.from} -> ${change.to} (${change.fromText} -> ${change.toText})${change.how === "override" ? "  per-task override" : ""}`,
    ),
    ...plan.notes.map((note) => `note: ${note}`),
  ];
}
