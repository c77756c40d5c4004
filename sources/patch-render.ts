/**
 * A plan's edits applied to the files' text, and the patched files as unified diffs that `git apply`
 * accepts (pure).
 */
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { type Edit, type FileEdit, PatchError, type PatchedFile, type PatchPlan } from "./patch-plan.js";

/**
 * The patched files, in path order: each file's edits applied from its end backwards (equal ranges in the
 * order they were planned). Throws {@link PatchError} on a missing source, overlapping edits, or a result
 * `verify` refuses.
 */
export function applyEdits(
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
