import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import { UsageError } from "../../common/errors.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { pastRunsLines } from "../../reports/backtest-table.js";
import {
  changedTasks,
  describePlan,
  describeProblems,
  planRepositoryChanges,
  readRecommendationsFile,
  type RepositoryPlan,
  renderUnifiedDiff,
} from "../../sources/index.js";
import { type Runtime, runtimeOf, withDatabase } from "../runtime.js";

/** `--recommendations FILE`, or the latest analysis in the database. */
export async function loadRecommendations(
  runtime: Runtime,
  file: string | undefined,
): Promise<AnalysisDocument> {
  if (file) return readRecommendationsFile(file);
  const document = await withDatabase(runtime, (handle) => loadAnalysisDocument(handle.db));
  if (!document) {
    throw new UsageError(
      "no analysis in the database yet: run `rightsize analyze` or pass --recommendations FILE",
    );
  }
  return document;
}

/** The repository folder from `--repo`, resolved; a missing folder is a usage error. */
export function repoFolder(path: string): string {
  if (!existsSync(path)) throw new UsageError(`--repo ${path}: no such folder`);
  return realpathSync(resolve(path));
}

/** Scan, read the recommendations (file or database), plan the edits; scan warnings go to stderr. */
export function planForRepository(
  runtime: Runtime,
  repo: string,
  recommendationsFile: string | undefined,
): Promise<RepositoryPlan> {
  return planRepositoryChanges(
    repo,
    runtime.config.prefect,
    () => loadRecommendations(runtime, recommendationsFile),
    (scan) => {
      for (const line of describeProblems(scan)) process.stderr.write(`warning: ${line}\n`);
    },
    runtime.config.sources,
  );
}

interface PatchOptions {
  repo: string;
  recommendations?: string;
  out?: string;
}

export function register(program: Command): void {
  program
    .command("patch")
    .description(
      "writes unified diffs that set the declared requests in DAG files and prefect.yaml to the recommendations; your files are never modified",
    )
    .requiredOption("--repo <dir>", "the DAG/flow repository")
    .option("--recommendations <file>", "an analysis document (`analyze --json`) instead of the database")
    .option("--out <dir>", "where rightsize.patch is written (default: <reports.outDir>/patches)")
    .addHelpText(
      "after",
      `
Only literal values change; formatting, quotes and comments stay. A value shared by several tasks changes
once when they agree; otherwise the tasks that differ get their own declaration (a per-task override,
explained in the patch header). Requests become the recommendation rounded to a friendly step in the
file's own style; limits are left alone unless the new request exceeds them (then they keep their ratio).
Dynamic values and tasks without data are left alone. Nothing is written when any step fails.

Examples:
  rightsize patch --repo ~/src/airflow-dags
  rightsize patch --repo . --recommendations analysis.json --out /tmp/patches && git apply /tmp/patches/rightsize.patch

See docs/requests.md.`,
    )
    .action(async (options: PatchOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const repo = repoFolder(options.repo);
      const { plan, document } = await planForRepository(runtime, repo, options.recommendations);
      const pastRuns = pastRunsLines(changedTasks(plan, document));
      const lines = [...describePlan(plan), ...pastRuns];
      if (plan.files.length === 0) {
        process.stdout.write(`${[...lines, "nothing to change"].join("\n")}\n`);
        return;
      }
      const out = resolve(options.out ?? join(runtime.config.reports.outDir, "patches"));
      mkdirSync(out, { recursive: true });
      const file = join(out, "rightsize.patch");
      writeFileSync(file, renderUnifiedDiff({ ...plan, notes: [...plan.notes, ...pastRuns] }));
      lines.push(`${plan.changes.length} change(s) in ${plan.files.length} file(s): ${file}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
