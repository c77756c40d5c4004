/**
 * Pull requests: a branch with the patched files committed on a git work tree (simple-git), optionally
 * pushed, and optionally opened (or updated) as a GitHub pull request through Octokit.
 *
 * rightsize only ever rewrites a branch it created: every commit it makes carries the trailer
 * `Rightsize-Branch: <name>`, and a branch (local or on the remote) whose tip lacks it — the base branch,
 * someone's feature branch, a rightsize branch a person has committed on — is refused (exit 2). Its own
 * branch is reset to the scanned commit and pushed with `--force-with-lease` naming the tip it inspected,
 * so a push that raced with someone else's fails instead of overwriting it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { simpleGit } from "simple-git";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { UsageError } from "../common/errors.js";
import { parseTaskKey, type TaskKey, taskKeyString } from "../common/task-key.js";
import { escapeMarkdown } from "../reports/escape.js";
import type { Change, PatchPlan } from "./patch-plan.js";

/** Git or GitHub refused; the message says which step. */
export class PullRequestError extends Error {
  override name = "PullRequestError";
}

export interface GithubTarget {
  owner: string;
  repo: string;
  token: string;
  apiUrl: string;
}

export interface PullRequestOptions {
  repo: string;
  plan: PatchPlan;
  document: AnalysisDocument;
  branch: string;
  base: string;
  push: boolean;
  remote: string;
  github: GithubTarget | null;
  /**
   * The Markdown report of the changed tasks ({@link changedTasks}) for the pull request body, rendered
   * by the caller (sources/ takes only escaping from reports/); empty for none.
   */
  tasksReport: string;
}

export interface PullRequestResult {
  branch: string;
  commit: string | null;
  pushed: boolean;
  pullRequest: { number: number; url: string; updated: boolean } | null;
}

interface ChangeGroup {
  /** `dag/task` or the deployment name. */
  task: string;
  changes: Change[];
  savingsUsd: number | null;
}

/**
 * Changes grouped by task, each task with its monthly saving from the analysis. A change to a value
 * several tasks share is listed under each of them, so every saving is counted once.
 */
export function groupChanges(plan: PatchPlan, document: AnalysisDocument): ChangeGroup[] {
  const analyses = new Map<string, TaskAnalysis>();
  for (const task of document.tasks) {
    const label = task.orchestrator === "prefect" ? task.pipeline : `${task.pipeline}/${task.task}`;
    analyses.set(`${task.orchestrator}:${label}`, task);
  }
  const groups = new Map<string, ChangeGroup>();
  for (const change of plan.changes) {
    for (const task of change.tasks) {
      const key = `${change.orchestrator}:${task}`;
      const group = groups.get(key) ?? {
        task,
        changes: [],
        savingsUsd: analyses.get(key)?.recommendation.monthlySavingsUsd ?? null,
      };
      group.changes.push(change);
      groups.set(key, group);
    }
  }
  return [...groups.values()];
}

function sharedWith(change: Change, task: string): string {
  const others = change.tasks.filter((other) => other !== task);
  return others.length > 0 ? `, shared with ${others.join(", ")}` : "";
}

function usd(amount: number | null): string {
  return amount === null ? "saving unknown" : `saves about $${amount.toFixed(2)}/month`;
}

function totalSavings(groups: ChangeGroup[]): number {
  return groups.reduce((sum, group) => sum + (group.savingsUsd ?? 0), 0);
}

export function pullRequestTitle(plan: PatchPlan, document: AnalysisDocument): string {
  const groups = groupChanges(plan, document);
  const tasks = groups.length;
  const total = totalSavings(groups);
  return `rightsize: resize ${tasks} task${tasks === 1 ? "" : "s"}${total > 0 ? ` (about $${total.toFixed(2)}/month)` : ""}`;
}

/** The commit message: a title, then every change under its tasks with their saving. */
export function commitMessage(plan: PatchPlan, document: AnalysisDocument): string {
  const lines = [pullRequestTitle(plan, document), ""];
  for (const group of groupChanges(plan, document)) {
    lines.push(`- ${group.task} (${usd(group.savingsUsd)})`);
    for (const change of group.changes) {
      lines.push(
        `  - ${change.file}:${change.line} ${change.resource} ${change.kind} ${change.from} -> ${change.to} (${change.fromText} -> ${change.toText})${change.how === "override" ? ", per-task override" : ""}${sharedWith(change, group.task)}`,
      );
    }
  }
  if (plan.notes.length > 0) lines.push("", ...plan.notes.map((note) => `Note: ${note}`));
  return `${lines.join("\n")}\n`;
}

/** The trailer that marks a commit (and so a branch tip) as rightsize's own. */
export const branchTrailer = "Rightsize-Branch";

function ownedMessage(message: string, branch: string): string {
  return `${message.trimEnd()}\n\n${branchTrailer}: ${branch}\n`;
}

function isOwnedMessage(message: string, branch: string): boolean {
  return message.split("\n").some((line) => line.trim() === `${branchTrailer}: ${branch}`);
}

/** The analyses of the tasks a plan changes, in the document's order: what the PR body's report covers. */
export function changedTasks(plan: PatchPlan, document: AnalysisDocument): TaskAnalysis[] {
  // A change's labels are `dag/task`, or a Prefect deployment's pipeline (its one task is the flow run);
  // a worker's label (`workers (…)`) holds no slash and names no task.
  const changed = new Set(
    plan.changes.flatMap((change) =>
      change.tasks
        .map((label): TaskKey | null =>
          change.orchestrator === "prefect"
            ? { orchestrator: "prefect", pipeline: label, task: "__flow__" }
            : parseTaskKey(`${change.orchestrator}/${label}`),
        )
        .filter((key) => key !== null)
        .map(taskKeyString),
    ),
  );
  return document.tasks.filter((task) => changed.has(taskKeyString(task)));
}

/**
 * The pull request body: the changes as a table, the notes, and `tasksReport` (the Markdown report of
 * the changed tasks, see {@link PullRequestOptions.tasksReport}).
 */
export function pullRequestBody(plan: PatchPlan, document: AnalysisDocument, tasksReport: string): string {
  const groups = groupChanges(plan, document);
  const lines = [
    "Resource requests resized from observed usage by rightsize.",
    "",
    "| task | file | resource | from | to | monthly saving of the task |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const group of groups) {
    group.changes.forEach((change, index) => {
      const saving = index > 0 ? "" : group.savingsUsd === null ? "–" : `$${group.savingsUsd.toFixed(2)}`;
      lines.push(
        `| ${escapeMarkdown(group.task)} | ${escapeMarkdown(`${change.file}:${change.line}`)} | ${escapeMarkdown(`${change.resource} ${change.kind}`)}${change.how === "override" ? " (override)" : ""} | ${escapeMarkdown(change.fromText)} | ${escapeMarkdown(change.toText)} | ${saving} |`,
      );
    });
  }
  if (plan.notes.length > 0) lines.push("", ...plan.notes.map((note) => `- ${escapeMarkdown(note)}`));
  if (tasksReport.trim()) lines.push("", tasksReport.trim());
  return `${lines.join("\n")}\n`;
}

/** Branch, commit, push and pull request, in that order; the work tree is left on its original branch. */
export async function makePullRequest(options: PullRequestOptions): Promise<PullRequestResult> {
  const git = simpleGit(options.repo);
  if (!(await git.checkIsRepo())) throw new UsageError(`--repo ${options.repo}: not a git work tree`);
  const result: PullRequestResult = {
    branch: options.branch,
    commit: null,
    pushed: false,
    pullRequest: null,
  };
  if (options.plan.files.length === 0) return result;
  const original = (await git.revparse(["--abbrev-ref", "HEAD"])).trim();
  if (original === options.branch) {
    throw new UsageError(
      `--repo ${options.repo}: ${options.branch} is checked out; run from the branch the changes should start from (e.g. ${options.base})`,
    );
  }
  // `git status` paths are relative to the top of the work tree, which may be above --repo.
  const prefix = (await git.revparse(["--show-prefix"])).trim();
  const status = await git.status();
  const dirty = options.plan.files.filter((file) =>
    status.files.some((entry) => entry.path === `${prefix}${file.file}`),
  );
  if (dirty.length > 0) {
    throw new UsageError(
      `--repo ${options.repo}: uncommitted changes in ${dirty.map((file) => file.file).join(", ")}; commit or stash them first`,
    );
  }
  const pushing = options.push || options.github !== null;
  if (options.branch === options.base) {
    throw new UsageError(
      `--branch ${options.branch}: that is the base branch; rightsize commits on a branch of its own (e.g. rightsize/rightsizing)`,
    );
  }
  // A local branch of this name is reset below: only when rightsize made it.
  const localTip = await git
    .revparse(["--verify", "--quiet", `refs/heads/${options.branch}`])
    .catch(() => "");
  if (localTip.trim()) {
    const message = await git.raw(["log", "-1", "--format=%B", localTip.trim()]);
    if (!isOwnedMessage(message, options.branch)) {
      throw new UsageError(
        `--branch ${options.branch}: a local branch rightsize did not create (its last commit has no ${branchTrailer} trailer); choose another --branch`,
      );
    }
  }
  // The remote branch is rewritten on push: only when its tip is rightsize's, and only if it is still
  // that tip when the push lands (--force-with-lease with the inspected value; empty: must not exist).
  let remoteTip = "";
  if (pushing) {
    remoteTip = await remoteBranchTip(git, options.remote, options.branch);
    if (remoteTip) {
      await git.raw(["fetch", "--quiet", options.remote, `refs/heads/${options.branch}`]).catch((error) => {
        throw new PullRequestError(
          `git fetch ${options.remote} ${options.branch}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      });
      const message = await git.raw(["log", "-1", "--format=%B", remoteTip]);
      if (!isOwnedMessage(message, options.branch)) {
        throw new UsageError(
          `--branch ${options.branch}: ${options.remote}/${options.branch} exists and rightsize did not create it (its last commit has no ${branchTrailer} trailer); refusing to overwrite it, choose another --branch`,
        );
      }
    }
  }
  const originalCommit = (await git.revparse(["HEAD"])).trim();
  const identity = await committerEnvironment(git);
  try {
    // -B: rightsize's own branch of this name is reset to the scanned commit, not duplicated.
    await git.checkout(["-B", options.branch]);
    for (const file of options.plan.files) writeFileSync(join(options.repo, file.file), file.after);
    await git.add(options.plan.files.map((file) => file.file));
    await simpleGit({ baseDir: options.repo, config: identity }).commit(
      ownedMessage(commitMessage(options.plan, options.document), options.branch),
    );
    result.commit = (await git.revparse(["HEAD"])).trim();
  } catch (error) {
    throw new PullRequestError(`git: could not commit on ${options.branch}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    // Back where the user was; the patched files return to their committed content.
    await git.checkout(original === "HEAD" ? originalCommit : original).catch(() => undefined);
  }
  if (pushing) {
    try {
      await git.push(options.remote, `refs/heads/${options.branch}:refs/heads/${options.branch}`, [
        `--force-with-lease=refs/heads/${options.branch}:${remoteTip}`,
      ]);
      result.pushed = true;
    } catch (error) {
      throw new PullRequestError(
        `git push ${options.remote} ${options.branch}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  if (options.github) result.pullRequest = await openPullRequest(options, options.github);
  return result;
}

/** The commit a remote branch points at, or "" when it has none. */
async function remoteBranchTip(
  git: ReturnType<typeof simpleGit>,
  remote: string,
  branch: string,
): Promise<string> {
  try {
    const listing = await git.raw(["ls-remote", "--heads", remote, `refs/heads/${branch}`]);
    return listing.split(/\s+/)[0] ?? "";
  } catch (error) {
    throw new PullRequestError(`git ls-remote ${remote}: ${(error as Error).message}`, { cause: error });
  }
}

/** Commits need an identity; where the repository has none configured, commit as rightsize. */
async function committerEnvironment(git: ReturnType<typeof simpleGit>): Promise<string[]> {
  const email = await git.getConfig("user.email");
  if (email.value) return [];
  return ["user.name=rightsize", "user.email=rightsize@localhost"];
}

async function openPullRequest(
  options: PullRequestOptions,
  target: GithubTarget,
): Promise<{ number: number; url: string; updated: boolean }> {
  const octokit = new Octokit({ auth: target.token, baseUrl: target.apiUrl, log: undefined });
  const title = pullRequestTitle(options.plan, options.document);
  const body = pullRequestBody(options.plan, options.document, options.tasksReport);
  try {
    const existing = await octokit.pulls.list({
      owner: target.owner,
      repo: target.repo,
      head: `${target.owner}:${options.branch}`,
      state: "open",
    });
    const open = existing.data[0];
    if (open) {
      const updated = await octokit.pulls.update({
        owner: target.owner,
        repo: target.repo,
        pull_number: open.number,
        title,
        body,
      });
      return { number: updated.data.number, url: updated.data.html_url, updated: true };
    }
    const created = await octokit.pulls.create({
      owner: target.owner,
      repo: target.repo,
      title,
      head: options.branch,
      base: options.base,
      body,
    });
    return { number: created.data.number, url: created.data.html_url, updated: false };
  } catch (error) {
    throw new PullRequestError(`GitHub ${target.owner}/${target.repo}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
