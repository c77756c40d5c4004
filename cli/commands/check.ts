import { appendFileSync, realpathSync } from "node:fs";
import { isAbsolute, relative, sep } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { CommandExitError } from "../../common/errors.js";
import {
  checkRequests,
  describeProblems,
  renderCheckJson,
  renderCheckText,
  renderGithubAnnotations,
  renderJobSummary,
  scanRepository,
} from "../../sources/index.js";
import { runtimeOf } from "../runtime.js";
import { loadRecommendations, repoFolder } from "./patch.js";

/**
 * Where --repo sits below the workspace (GITHUB_WORKSPACE, else the current folder), with a trailing
 * slash; empty when it is the workspace itself or outside it.
 */
function workspacePrefix(repo: string): string {
  const path = relative(realpathSync(process.env.GITHUB_WORKSPACE || process.cwd()), repo)
    .split(sep)
    .join("/");
  return path === "" || path.startsWith("..") || isAbsolute(path) ? "" : `${path}/`;
}

/**
 * Exit code of a check that could judge nothing (no task found, or no recommendation matching any task
 * found): not 0, so a misconfigured gate never passes silently, and not 1, so it is told apart from a
 * violation (docs/architecture.md "CLI": exit 1 on a violation).
 */
export const NOTHING_TO_JUDGE_EXIT_CODE = 3;

/** The check found violations at or above --fail-on: exit 1. */
export class CheckFailedError extends Error {
  override name = "CheckFailedError";
}

const formats = ["text", "github", "json"] as const;
type Format = (typeof formats)[number];

function parseFormats(value: string): Format[] {
  const list = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = list.filter((item) => !formats.includes(item as Format));
  if (list.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`expected one or more of ${formats.join(", ")}, comma-separated`);
  }
  return list as Format[];
}

interface CheckCommandOptions {
  repo: string;
  recommendations?: string;
  format: Format[];
  failOn: "warning" | "critical";
}

export function register(program: Command): void {
  program
    .command("check")
    .description(
      "the CI gate: compares the requests declared in the repository with the recommendations and exits 1 on over-provisioned, under-provisioned or undeclared tasks",
    )
    .requiredOption("--repo <dir>", "the DAG/flow repository")
    .option("--recommendations <file>", "an analysis document (`analyze --json`) instead of the database")
    .addOption(
      new Option(
        "--format <list>",
        "text (a table), github (annotations + job summary), json; comma-separated",
      )
        .argParser(parseFormats)
        .default(["text"], "text"),
    )
    .addOption(
      new Option("--fail-on <severity>", "exit 1 on violations of this severity or worse")
        .choices(["warning", "critical"])
        .default("warning"),
    )
    .addHelpText(
      "after",
      `
Verdicts: over-provisioned (request > check.overRatio × recommendation and at least check.minCpuCores /
check.minMemory more: warning), under-provisioned (memory request below the observed peak: critical;
CPU throttled in more than 5 % of periods: warning), no request declared (warning), does-not-apply (a
declared value the analysed runs show never reached the task — their cgroup or pod spec had another
value — with the reason when the repository tells it and where the effective value is set: warning).
Tasks without data
(no runs, or confidence none) are listed but never fail the check.

Exit codes: 0 passed; 1 a violation at or above --fail-on; 2 bad flags or input; 3 nothing to judge —
no task found in --repo, or none of the recommendations matches a task found (the check fails closed).
Files over 4 MiB are skipped with a warning; symbolic links that leave --repo are never
followed.

With --format github, each violation becomes a ::warning / ::error annotation on its file and line, and a
Markdown summary is appended to $GITHUB_STEP_SUMMARY when that is set.

Examples:
  rightsize check --repo . --recommendations analysis.json
  rightsize check --repo . --format github --fail-on critical

See docs/requests.md for a ready GitHub Actions workflow.`,
    )
    .action(async (options: CheckCommandOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const repo = repoFolder(options.repo);
      const scan = await scanRepository(repo, runtime.config.prefect, runtime.config.sources);
      for (const line of describeProblems(scan)) process.stderr.write(`warning: ${line}\n`);
      const document = await loadRecommendations(runtime, options.recommendations);
      const report = checkRequests(scan, document, runtime.config.check, options.failOn);
      for (const format of options.format) {
        if (format === "text") process.stdout.write(renderCheckText(report));
        if (format === "json") process.stdout.write(renderCheckJson(report));
        if (format === "github") {
          process.stdout.write(renderGithubAnnotations(report, workspacePrefix(repo)));
          const summaryFile = process.env.GITHUB_STEP_SUMMARY;
          if (summaryFile) appendFileSync(summaryFile, renderJobSummary(report));
        }
      }
      if (report.nothingToJudge) {
        throw new CommandExitError(`check: ${report.nothingToJudge.message}`, NOTHING_TO_JUDGE_EXIT_CODE);
      }
      if (report.failed) {
        throw new CheckFailedError(
          `check failed: ${report.violations.length} violation(s), fail on ${options.failOn} or worse`,
        );
      }
    });
}
