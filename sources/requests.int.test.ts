import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listDeclaredRequests, replaceDeclaredRequests } from "../db/queries/declared-requests.js";
import { storeTaskAnalysis } from "../db/queries/profiles.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, engines, type TestDatabase } from "../test-support/databases.js";
import { declaredRows } from "./declared-rows.js";
import {
  defaultPrefectNames,
  fixtureAnalysis,
  fixtureFiles,
  writeFixtureRepository,
} from "../test-support/source-fixtures.js";
import { scanRepository } from "./scan-repository.js";
import { git } from "../test-support/repositories.js";

let work: string;
let repo: string;
let analysisFile: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rightsize-requests-"));
  repo = realpathSync(writeFixtureRepository(join(work, "repo")));
  analysisFile = join(work, "analysis.json");
  writeFileSync(analysisFile, JSON.stringify(fixtureAnalysis()));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe.each(engines)("declared requests stored on $name", ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("stores one row per task, resource and kind, and a new scan replaces the old one", async () => {
    const scan = await scanRepository(repo, defaultPrefectNames);
    await replaceDeclaredRequests(database.handle.db, repo, declaredRows(repo, scan));
    const rows = await listDeclaredRequests(database.handle.db, { repo });
    // 40 findings; the ones shared by two tasks (or two deployments) count once per task.
    expect(rows).toHaveLength(declaredRows(repo, scan).length);
    expect(rows).toHaveLength(48);
    const crunch = rows.find((row) => row.task === "crunch" && row.resource === "memory")!;
    expect(crunch).toMatchObject({
      file: "dags/resources_dag.py",
      line: 8,
      column: 38,
      orchestrator: "airflow",
      pipeline: "resources_dag",
      kind: "request",
      raw: "8192",
      unit: "MB",
      value: 8192 * 1024 ** 2,
      dynamic: false,
      pattern: "resources",
    });
    const templated = rows.find((row) => row.task === "templated" && row.resource === "cpu")!;
    expect(templated).toMatchObject({ dynamic: true, value: null, raw: '"{{ var.value.cpu }}"' });

    await replaceDeclaredRequests(
      database.handle.db,
      repo,
      declaredRows(repo, {
        ...scan,
        findings: scan.findings.filter((finding) => finding.pipeline === "kpo_dag"),
      }),
    );
    expect(await listDeclaredRequests(database.handle.db, { repo })).toHaveLength(4);
  });
});

describe("rightsize scan", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createPostgresTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("reports the broken file, writes the findings as JSON and stores them", async () => {
    const json = join(work, "findings.json");
    const result = await runCli(["--db", database.url, "scan", "--repo", repo, "--json", json]);
    expect(result.stderr).toContain("warning: dags/broken.py:4: syntax error");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "40 declared value(s) for 23 task(s) in 13 file(s), 1 file(s) skipped; stored",
    );
    const written = JSON.parse(readFileSync(json, "utf8")) as { findings: unknown[]; problems: unknown[] };
    expect(written.findings).toHaveLength(40);
    expect(written.problems).toEqual([
      { file: "dags/broken.py", line: 4, message: "syntax error; file skipped" },
    ]);
    expect(await listDeclaredRequests(database.handle.db, { repo })).toHaveLength(48);
  });

  it("checks against the latest analysis in the database when no file is given", async () => {
    const before = await runCli(["--db", database.url, "check", "--repo", repo]);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain("no analysis in the database yet");
    const windowEnd = new Date("2026-11-20T02:00:00Z");
    for (const task of fixtureAnalysis().tasks) {
      await storeTaskAnalysis(database.handle.db, task, { windowEnd, windowDays: 14 });
    }
    const result = await runCli(["--db", database.url, "check", "--repo", repo, "--format", "json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { violations: Array<{ pipeline: string; verdict: string }> };
    expect(report.violations).toContainEqual(
      expect.objectContaining({ pipeline: "kpo_dag", verdict: "under-provisioned" }),
    );
    expect(report.violations).toHaveLength(17);
  });

  it("exits 2 on a missing --repo", async () => {
    const result = await runCli(["scan", "--no-store"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--repo");
  });
});

describe("rightsize patch", () => {
  it("writes a patch that git apply accepts on a clean copy, leaving the user's files alone", async () => {
    const out = join(work, "patches");
    const result = await runCli(["patch", "--repo", repo, "--recommendations", analysisFile, "--out", out]);
    expect(result.stderr).toContain("dags/broken.py:4");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("30 change(s) in 11 file(s)");
    const patch = join(out, "rightsize.patch");
    for (const [file, text] of Object.entries(fixtureFiles))
      expect(readFileSync(join(repo, file), "utf8")).toBe(text);

    const clean = join(work, "clean");
    cpSync(repo, clean, { recursive: true });
    git(clean, "init", "-q", "-b", "main");
    git(clean, "add", ".");
    git(clean, "commit", "-q", "-m", "fixture");
    git(clean, "apply", "--check", patch);
    git(clean, "apply", patch);
    const changed = git(clean, "diff", "--name-only").trim().split("\n");
    expect(changed).toHaveLength(11);
    for (const file of changed.filter((name) => name.endsWith(".py"))) {
      execFileSync("python3", [
        "-c",
        "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])",
        join(clean, file),
      ]);
    }
    const yaml = readFileSync(join(clean, "prefect.yaml"), "utf8");
    expect(yaml).toContain('cpu: "500m"   # Cloud Run: one vCPU');
    expect(yaml).toContain("# Prefect deployments for the warehouse flows.");
    expect(yaml).toContain("cpu: 1024 # four vCPU");
    // Prefect reads prefect.yaml with PyYAML's safe loader: the merge-key override must mean what it says.
    const loaded = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(json.dumps({x['name']: x['work_pool'].get('job_variables') for x in d['deployments']}))",
        join(clean, "prefect.yaml"),
      ]).toString(),
    ) as Record<string, unknown>;
    expect(loaded).toEqual({
      "hourly-sync": { cpu: "500m", memory: "1Gi" },
      "daily-rollup": { cpu: "500m", memory: "3Gi" },
      "ecs-export": { cpu: 1024, memory: 3072, image: "export:2" },
    });
  });

  it("writes nothing when the recommendations file is bad", async () => {
    const bad = join(work, "bad.json");
    writeFileSync(bad, JSON.stringify({ generatedAt: "x", windowDays: 14, tasks: [{ pipeline: 1 }] }));
    const out = join(work, "never");
    const result = await runCli(["patch", "--repo", repo, "--recommendations", bad, "--out", out]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--recommendations .*bad\.json: not an analysis document: tasks\.0\./);
    expect(existsSync(out)).toBe(false);
  });

  it("refuses out-of-range numbers with the task, path and field (no NaNGi, no 9.3e+290Gi)", async () => {
    for (const [field, value] of [
      ["memoryBytes", 9.3e290],
      ["memoryBytes", -1],
      ["cpuCores", 1e9],
    ] as const) {
      const document = fixtureAnalysis();
      const index = document.tasks.findIndex((task) => task.task === "crunch");
      (document.tasks[index]!.recommendation as Record<string, unknown>)[field] = value;
      const bad = join(work, `out-of-range-${field}.json`);
      writeFileSync(bad, JSON.stringify(document));
      const out = join(work, "never-range");
      const result = await runCli(["patch", "--repo", repo, "--recommendations", bad, "--out", out]);
      expect(result.code, `${field} ${value}`).toBe(2);
      expect(result.stderr).toContain(
        `tasks.${index}.recommendation.${field} (task "airflow"/"resources_dag"/"crunch"): `,
      );
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe("rightsize check", () => {
  it("annotates over-, under- and un-declared tasks, writes the job summary and exits 1", async () => {
    const summary = join(work, "summary.md");
    writeFileSync(summary, "previous step\n");
    // In a workflow the repository is the workspace: annotations name files relative to it.
    const result = await runCli(
      ["check", "--repo", repo, "--recommendations", analysisFile, "--format", "github"],
      { env: { GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: repo } },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("rightsize: check failed: 17 violation(s), fail on warning or worse");
    const lines = result.stdout.trim().split("\n");
    expect(lines).toContain(
      "::error file=dags/kpo.py,line=10,title=rightsize%3A kpo_dag/train under-provisioned::memory request 1 GiB is below the observed peak 2.8 GiB; recommended 3 GiB",
    );
    expect(lines).toContain(
      "::warning file=dags/resources_dag.py,line=8,title=rightsize%3A resources_dag/crunch over-provisioned::cpu request 4 cores is 13.3× the recommended 0.3 cores (saves about $41.50/month)",
    );
    expect(lines).toContain(
      "::warning file=dags/resources_dag.py,line=10,title=rightsize%3A resources_dag/notify no-request::declares no CPU or memory request; recommended 0.1 cores and 200 MiB",
    );
    expect(lines.filter((line) => line.startsWith("::error"))).toHaveLength(5);
    expect(
      lines.some((line) => line.includes("nightly-warehouse/nightly-ecs") || line.includes("publish_report")),
    ).toBe(false);
    const written = readFileSync(summary, "utf8");
    expect(written.startsWith("previous step\n## rightsize check: failed")).toBe(true);
    expect(written).toContain(
      "| critical | kpo\\_dag/train | memory | 1 GiB | 3 GiB | under-provisioned | dags/kpo.py:10 |",
    );
  });

  it("names files relative to the workspace when --repo is a folder inside it", async () => {
    const result = await runCli(
      ["check", "--repo", "repo", "--recommendations", analysisFile, "--format", "github"],
      {
        cwd: work,
        env: { GITHUB_WORKSPACE: "" },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("::error file=repo/dags/kpo.py,line=10,");
  });

  it("passes with --fail-on critical when only warnings remain, and tasks without data never fail", async () => {
    const document = fixtureAnalysis();
    const onlyWarnings = {
      ...document,
      tasks: document.tasks.filter(
        (task) =>
          ["resources_dag", "pod_shared", "defaults_dag"].includes(task.pipeline) && task.task !== "b",
      ),
    };
    const file = join(work, "warnings.json");
    writeFileSync(file, JSON.stringify(onlyWarnings));
    const critical = await runCli([
      "check",
      "--repo",
      repo,
      "--recommendations",
      file,
      "--fail-on",
      "critical",
      "--format",
      "json",
    ]);
    expect(critical.code).toBe(0);
    const report = JSON.parse(critical.stdout) as {
      failed: boolean;
      violations: Array<{ severity: string }>;
    };
    expect(report.failed).toBe(false);
    expect(report.violations.length).toBeGreaterThan(0);
    expect(report.violations.every((item) => item.severity === "warning")).toBe(true);
    const warning = await runCli(["check", "--repo", repo, "--recommendations", file]);
    expect(warning.code).toBe(1);
    const empty = join(work, "empty.json");
    // Every task known to the analysis but none with enough data: listed, never failing.
    const withoutData = {
      ...document,
      tasks: document.tasks.map((task) => ({
        ...task,
        runs: 0,
        recommendation: { ...task.recommendation, confidence: "none" as const },
      })),
    };
    writeFileSync(empty, JSON.stringify(withoutData));
    const noData = await runCli(["check", "--repo", repo, "--recommendations", empty]);
    expect(noData.code).toBe(0);
    expect(noData.stdout).toContain("passed: 0 critical, 0 warning(s)");
  });

  it("exits 2 with one line on a bad flag", async () => {
    const result = await runCli(["check", "--repo", repo, "--fail-on", "sometimes"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--fail-on");
  });

  it("fails closed with exit 3 when it finds no task, or no recommendation matches the tasks found", async () => {
    // A clone of a repository without DAGs (a wrong --repo).
    const origin = join(work, "empty-origin.git");
    git(work, "init", "-q", "--bare", "-b", "main", origin);
    const empty = join(work, "empty");
    git(work, "clone", "-q", origin, empty);
    writeFileSync(join(empty, "README.md"), "no DAGs here\n");
    const none = await runCli(["check", "--repo", empty, "--recommendations", analysisFile]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("no Airflow task or Prefect deployment found");
    expect(none.stdout).toContain("NOTHING CHECKED");

    // Recommendations for some other repository's tasks.
    const other = join(work, "other-analysis.json");
    const document = fixtureAnalysis();
    for (const task of document.tasks) task.pipeline = `elsewhere_${task.pipeline}`;
    writeFileSync(other, JSON.stringify(document));
    const unmatched = await runCli([
      "check",
      "--repo",
      repo,
      "--recommendations",
      other,
      "--format",
      "github",
    ]);
    expect(unmatched.code).toBe(3);
    expect(unmatched.stderr).toContain("matches any of the");
    expect(unmatched.stdout).toContain("::error title=rightsize%3A nothing checked::");
  });

  it("skips oversized files with a warning and never follows a link out of the repository", async () => {
    const guarded = realpathSync(writeFixtureRepository(join(work, "guarded")));
    const outside = join(work, "outside");
    mkdirSync(outside, { recursive: true });
    writeFileSync(
      join(outside, "secret_dag.py"),
      'from airflow import DAG\nfrom airflow.operators.bash import BashOperator\nwith DAG("secret") as dag:\n    BashOperator(task_id="t", bash_command="x", resources={"cpus": 64})\n',
    );
    symlinkSync(outside, join(guarded, "dags", "linked_out"));
    symlinkSync(join(outside, "secret_dag.py"), join(guarded, "dags", "secret_link.py"));
    // A link that stays inside is followed (and a loop back to the root ends).
    symlinkSync(join(guarded, "dags", "legacy.py"), join(guarded, "dags", "legacy_alias.py"));
    symlinkSync(guarded, join(guarded, "dags", "loop"));
    // 5 MiB of comments: over the 4 MiB limit.
    writeFileSync(join(guarded, "dags", "huge.py"), "# generated\n".repeat(5 * 1024 * 90));
    const result = await runCli([
      "scan",
      "--repo",
      guarded,
      "--no-store",
      "--json",
      join(work, "guarded.json"),
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("dags/huge.py:1: 5.3 MiB, over the 4 MiB limit");
    expect(result.stderr).toContain("dags/linked_out:1: symbolic link out of the repository; not followed");
    expect(result.stderr).toContain("dags/secret_link.py:1: symbolic link out of the repository");
    const scanned = JSON.parse(readFileSync(join(work, "guarded.json"), "utf8")) as { files: string[] };
    expect(scanned.files).toContain("dags/legacy_alias.py");
    expect(scanned.files.some((file) => file.includes("secret"))).toBe(false);
    expect(result.stdout).not.toContain("secret");
  });
});
