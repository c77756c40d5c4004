import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";
import { type GithubStandIn, startGithubStandIn } from "../test-support/github-stand-in.js";
import { fixtureAnalysis, fixtureFiles, writeFixtureRepository } from "../test-support/source-fixtures.js";

const identity = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@localhost",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@localhost",
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...identity } });

describe("rightsize pr", () => {
  let work: string;
  let repo: string;
  let remote: string;
  let analysisFile: string;
  let github: GithubStandIn;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rightsize-pr-"));
    remote = join(work, "remote.git");
    git(work, "init", "-q", "--bare", "-b", "main", remote);
    repo = writeFixtureRepository(join(work, "repo"));
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "DAGs");
    git(repo, "remote", "add", "origin", remote);
    git(repo, "push", "-q", "origin", "main");
    analysisFile = join(work, "analysis.json");
    writeFileSync(analysisFile, JSON.stringify(fixtureAnalysis()));
    github = await startGithubStandIn();
  });

  afterAll(async () => {
    await github.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("commits the changes on a branch, pushes it and opens a pull request", async () => {
    const result = await runCli(
      ["pr", "--repo", repo, "--recommendations", analysisFile, "--github", "acme/dags"],
      {
        env: { GITHUB_TOKEN: "test-token", GITHUB_API_URL: github.url },
      },
    );
    expect(result.stderr).not.toContain("rightsize:");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("opened pull request #7: http://127.0.0.1/acme/dags/pull/7");

    // The push landed in the remote: one commit on top of main, listing every change and its saving.
    expect(git(remote, "rev-list", "--count", "main..rightsize/rightsizing").trim()).toBe("1");
    const message = git(remote, "log", "-1", "--format=%B", "rightsize/rightsizing");
    expect(message).toContain("rightsize: resize 17 tasks");
    expect(message).toContain("- resources_dag/crunch (saves about $41.50/month)");
    expect(message).toContain("  - dags/resources_dag.py:8 cpu request 4 -> 0.3 (4 cores -> 0.3 cores)");
    expect(message).toContain("- kpo_dag/train (saving unknown)");
    expect(message).toContain('  - dags/kpo.py:11 memory limit "2048Mi" -> "6144Mi" (2 GiB -> 6 GiB)');
    expect(message).toContain(
      '  - dags/decorated_defaults.py:4 cpu request "500m" -> "800m" (0.5 cores -> 0.8 cores), per-task override',
    );
    expect(message).toContain(
      "  - dags/pod_shared.py:11 cpu request 2 -> 0.7 (2 cores -> 0.7 cores), shared with pod_shared/transform",
    );
    expect(git(remote, "show", "rightsize/rightsizing:dags/kpo.py")).toContain(
      'limits={"cpu": 6.0, "memory": "6144Mi"}',
    );

    // The user's work tree is back on main with its files untouched.
    expect(git(repo, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main");
    for (const [file, text] of Object.entries(fixtureFiles))
      expect(readFileSync(join(repo, file), "utf8")).toBe(text);

    const create = github.requests.find((request) => request.method === "POST")!;
    expect(create.url).toBe("/repos/acme/dags/pulls");
    expect(create.authorization).toBe("token test-token");
    expect(create.body).toMatchObject({ head: "rightsize/rightsizing", base: "main" });
    expect(create.body!.title).toMatch(/^rightsize: resize 17 tasks \(about \$\d+\.\d{2}\/month\)$/);
    expect(create.body!.body).toContain(
      "| task | file | resource | from | to | monthly saving of the task |",
    );
    expect(create.body!.body).toContain(
      "| resources\\_dag/crunch | dags/resources\\_dag.py:8 | cpu request | 4 cores | 0.3 cores | $41.50 |",
    );
    // The Markdown report of the changed tasks, rendered by the command and passed in: 17 of the
    // analysis' 21 tasks changed.
    expect(create.body!.body).toMatch(/\n## rightsize: \$[\d.,]+\/month to save\n\n17 tasks in /);
  });

  it("updates the same branch and pull request on a second run instead of duplicating them", async () => {
    const document = fixtureAnalysis();
    const crunch = document.tasks.find((task) => task.task === "crunch")!;
    crunch.recommendation.cpuCores = 0.6;
    writeFileSync(analysisFile, JSON.stringify(document));
    const before = github.requests.length;
    const result = await runCli(
      ["pr", "--repo", repo, "--recommendations", analysisFile, "--github", "acme/dags", "--base", "main"],
      { env: { GITHUB_TOKEN: "test-token", GITHUB_API_URL: github.url } },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("updated pull request #7");
    expect(git(remote, "rev-list", "--count", "main..rightsize/rightsizing").trim()).toBe("1");
    expect(git(remote, "branch", "--list").split("\n").filter(Boolean)).toHaveLength(2);
    expect(git(remote, "log", "-1", "--format=%B", "rightsize/rightsizing")).toContain(
      "cpu request 4 -> 0.6",
    );
    const calls = github.requests.slice(before).map((request) => request.method);
    expect(calls).toEqual(["GET", "PATCH"]);
    expect(github.requests.at(-1)!.body!.body).toContain("0.6 cores");
  });

  it("pushes without GitHub and refuses a folder that is not a git work tree", async () => {
    const pushed = await runCli(
      ["pr", "--repo", repo, "--recommendations", analysisFile, "--branch", "rightsize/plain", "--push"],
      {},
    );
    expect(pushed.code).toBe(0);
    expect(git(remote, "rev-list", "--count", "main..rightsize/plain").trim()).toBe("1");
    // On the branch itself (whose files hold crunch at 0.6 cores), a different recommendation is refused.
    const original = join(work, "original.json");
    writeFileSync(original, JSON.stringify(fixtureAnalysis()));
    git(repo, "checkout", "-q", "rightsize/plain");
    const onBranch = await runCli([
      "pr",
      "--repo",
      repo,
      "--recommendations",
      original,
      "--branch",
      "rightsize/plain",
    ]);
    git(repo, "checkout", "-q", "main");
    expect(onBranch.code).toBe(2);
    expect(onBranch.stderr).toContain("rightsize/plain is checked out");
    const plain = writeFixtureRepository(join(work, "plain"));
    const refused = await runCli(["pr", "--repo", plain, "--recommendations", analysisFile]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("not a git work tree");
  });

  it("never rewrites the base branch or a branch it did not create (exit 2, remote unchanged)", async () => {
    const mainBefore = git(remote, "rev-parse", "main").trim();
    git(repo, "checkout", "-q", "-b", "start-here");
    const onMain = await runCli([
      "pr",
      "--repo",
      repo,
      "--recommendations",
      analysisFile,
      "--branch",
      "main",
      "--push",
    ]);
    git(repo, "checkout", "-q", "main");
    expect(onMain.code).toBe(2);
    expect(onMain.stderr).toContain("that is the base branch");
    expect(git(remote, "rev-parse", "main").trim()).toBe(mainBefore);

    // Someone's branch on the remote (not checked out locally).
    git(repo, "checkout", "-q", "-b", "feature/tuning");
    writeFileSync(join(repo, "NOTES.md"), "mine\n");
    git(repo, "add", "NOTES.md");
    git(repo, "commit", "-q", "-m", "my work");
    git(repo, "push", "-q", "origin", "feature/tuning");
    git(repo, "checkout", "-q", "main");
    const featureBefore = git(remote, "rev-parse", "feature/tuning").trim();
    git(repo, "branch", "-q", "-D", "feature/tuning");
    const onFeature = await runCli([
      "pr",
      "--repo",
      repo,
      "--recommendations",
      analysisFile,
      "--branch",
      "feature/tuning",
      "--push",
    ]);
    expect(onFeature.code).toBe(2);
    expect(onFeature.stderr).toContain("rightsize did not create it");
    expect(git(remote, "rev-parse", "feature/tuning").trim()).toBe(featureBefore);

    // A person's commit on top of rightsize's own branch makes it theirs: refused too.
    git(repo, "checkout", "-q", "rightsize/plain");
    writeFileSync(join(repo, "NOTES.md"), "reviewed\n");
    git(repo, "add", "NOTES.md");
    git(repo, "commit", "-q", "-m", "review fix");
    git(repo, "push", "-q", "origin", "rightsize/plain");
    git(repo, "checkout", "-q", "main");
    git(repo, "branch", "-q", "-D", "rightsize/plain");
    const plainBefore = git(remote, "rev-parse", "rightsize/plain").trim();
    const onReviewed = await runCli([
      "pr",
      "--repo",
      repo,
      "--recommendations",
      analysisFile,
      "--branch",
      "rightsize/plain",
      "--push",
    ]);
    expect(onReviewed.code).toBe(2);
    expect(git(remote, "rev-parse", "rightsize/plain").trim()).toBe(plainBefore);

    // A local branch of someone else's is never reset either.
    git(repo, "branch", "-q", "local-work", "main");
    const onLocal = await runCli([
      "pr",
      "--repo",
      repo,
      "--recommendations",
      analysisFile,
      "--branch",
      "local-work",
    ]);
    expect(onLocal.code).toBe(2);
    expect(onLocal.stderr).toContain("local branch rightsize did not create");
  });
});
