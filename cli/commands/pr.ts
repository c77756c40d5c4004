import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { UsageError } from "../../common/errors.js";
import { pastRunsLines } from "../../reports/backtest-table.js";
import { renderMarkdownReport } from "../../reports/render.js";
import { changedTasks, describePlan, makePullRequest } from "../../sources/index.js";
import { runtimeOf } from "../runtime.js";
import { planForRepository, repoFolder } from "./patch.js";

interface PrOptions {
  repo: string;
  recommendations?: string;
  branch: string;
  base?: string;
  push?: boolean;
  remote: string;
  github?: string;
}

function parseGithubRepo(value: string): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(value)) throw new InvalidArgumentError("expected OWNER/REPO");
  return value;
}

export function register(program: Command): void {
  program
    .command("pr")
    .description(
      "commits the request changes of `patch` on a branch of the repository's git work tree, optionally pushes it and opens (or updates) a GitHub pull request",
    )
    .requiredOption("--repo <dir>", "the DAG/flow repository: a git work tree")
    .option("--recommendations <file>", "an analysis document (`analyze --json`) instead of the database")
    .option(
      "--branch <name>",
      "branch to commit on; rightsize's own branch of this name is reset and updated, any other branch is refused",
      "rightsize/rightsizing",
    )
    .option("--base <branch>", "base branch of the pull request (default: github.baseBranch, main)")
    .option("--push", "push the branch (with --force-with-lease, and only over a branch rightsize created)")
    .option("--remote <name>", "remote to push to", "origin")
    .option(
      "--github <owner/repo>",
      "open the pull request there (needs GITHUB_TOKEN; implies --push; default: github.repo when set)",
      parseGithubRepo,
    )
    .addHelpText(
      "after",
      `
The commit message lists every change and its monthly saving; the pull request body has the changes as
a table and the Markdown report of the changed tasks. An open pull request for the same branch is
updated, not duplicated. Your checked-out branch and files are left as they were.

rightsize only rewrites branches it created (their last commit carries a "Rightsize-Branch: NAME"
trailer): --branch naming the base branch, or a local or remote branch someone else made or committed
on, exits 2 and changes nothing. Its own branch is pushed with --force-with-lease on the tip it checked,
so a concurrent push to it fails instead of being overwritten.
GitHub Enterprise: set github.apiUrl (GITHUB_API_URL), e.g. https://ghe.example.com/api/v3.

Examples:
  rightsize pr --repo ~/src/airflow-dags --push
  GITHUB_TOKEN=… rightsize pr --repo . --github acme/airflow-dags --recommendations analysis.json

See docs/requests.md.`,
    )
    .action(async (options: PrOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const repo = repoFolder(options.repo);
      const githubRepo = options.github ?? runtime.config.github.repo ?? undefined;
      if (githubRepo && !runtime.config.github.token) {
        throw new UsageError(`--github ${githubRepo}: needs a token in GITHUB_TOKEN (or github.token)`);
      }
      const { plan, document } = await planForRepository(runtime, repo, options.recommendations);
      const tasks = changedTasks(plan, document);
      const lines = [...describePlan(plan), ...pastRunsLines(tasks)];
      if (plan.files.length === 0) {
        process.stdout.write(`${[...lines, "nothing to change: no branch made"].join("\n")}\n`);
        return;
      }
      const [owner, name] = githubRepo ? githubRepo.split("/") : [];
      const result = await makePullRequest({
        repo,
        plan,
        document,
        branch: options.branch,
        base: options.base ?? runtime.config.github.baseBranch,
        push: options.push ?? false,
        remote: options.remote,
        tasksReport: tasks.length > 0 ? renderMarkdownReport({ ...document, tasks }) : "",
        github:
          owner && name
            ? { owner, repo: name, token: runtime.config.github.token!, apiUrl: runtime.config.github.apiUrl }
            : null,
      });
      lines.push(
        `committed ${result.commit} on ${result.branch}${result.pushed ? `, pushed to ${options.remote}` : ""}`,
      );
      if (result.pullRequest) {
        lines.push(
          `${result.pullRequest.updated ? "updated" : "opened"} pull request #${result.pullRequest.number}: ${result.pullRequest.url}`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
