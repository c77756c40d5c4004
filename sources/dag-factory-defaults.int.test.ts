/**
 * dag-factory's `defaults.yml` as a declaration place: the nearest file's `default_args` keyword wins
 * whole, a DAG's own `default_args` deep-merge over it, its `queue` reaches the tasks; the patch changes
 * the value where it lives (the defaults file) and gives a task that needs another value its own key in
 * its DAG file — an exact diff `git apply --check` accepts, read back by PyYAML as dag-factory loads it.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dagFactoryDefaultsAnalysis, dagFactoryDefaultsFiles } from "../test-support/dag-factory-fixtures.js";
import {
  patchedRepository,
  readWithPyYaml,
  useScratchFolder,
  writeRepository,
} from "../test-support/repositories.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";

const work = useScratchFolder("dag-factory-defaults");

describe("dag-factory defaults.yml", () => {
  it("declares requests for the DAGs below it, the nearest file's keyword whole", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "scan"), dagFactoryDefaultsFiles),
      defaultPrefectNames,
    );
    expect(scan.problems).toEqual([]);
    expect(
      scan.findings.map(
        (finding) =>
          `${finding.file}:${finding.line}:${finding.column} ${finding.pipeline}/${finding.tasks.join(",")} ${finding.resource} ${finding.raw} ${finding.via}`,
      ),
    ).toEqual([
      // ledger's own default_args.resources (ram) deep-merge over dags/defaults.yml's (cpus).
      "dags/defaults.yml:5:11 ledger/close cpu 2 default_args",
      "dags/finance/ledger.yml:5:12 ledger/close memory 4096 default_args",
      "dags/finance/ledger.yml:13:25 ledger/report cpu 0.5 task",
      "dags/finance/ledger.yml:13:35 ledger/report memory 1024 task",
      // marketing/defaults.yml's resources replace the outer file's whole: its 8192 reaches no task.
      "dags/marketing/defaults.yml:4:11 campaigns/fetch,score cpu 1 default_args",
    ]);
    expect(scan.tasks.map((site) => `${site.pipeline}/${site.task} ${site.queue}`)).toEqual([
      "ledger/close undefined",
      "ledger/report undefined",
      "campaigns/fetch kubernetes",
      "campaigns/score kubernetes",
    ]);
  });

  it("is patched where the value lives, with an override in the DAG file, and PyYAML reads it back", async () => {
    const repo = writeRepository(join(work(), "patch"), dagFactoryDefaultsFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () =>
      dagFactoryDefaultsAnalysis(),
    );
    const patch = renderUnifiedDiff(plan);
    const shared =
      "cpu request at dags/marketing/defaults.yml:4 is shared by tasks that need different values (campaigns/fetch: 0.5 cores (0.5); campaigns/score: 1.5 cores (1.5))";
    expect(patch).toBe(
      [
        "# dags/defaults.yml:5 ledger/close: cpu request 2 -> 1",
        "# dags/finance/ledger.yml:5 ledger/close: memory request 4096 -> 3072",
        "# dags/marketing/defaults.yml:4 campaigns/fetch: cpu request 1 -> 0.5",
        "# dags/marketing/defaults.yml:4 campaigns/score: cpu request 1 -> 1.5 (per-task override)",
        `# override for campaigns/score in dags/marketing/campaigns.yml: ${shared}`,
        "diff --git a/dags/defaults.yml b/dags/defaults.yml",
        "--- a/dags/defaults.yml",
        "+++ b/dags/defaults.yml",
        "@@ -2,5 +2,5 @@",
        " default_args:",
        "   owner: data",
        "   resources:",
        "-    cpus: 2",
        "+    cpus: 1",
        "     ram: 8192 # sized for the 2023 backfill",
        "diff --git a/dags/finance/ledger.yml b/dags/finance/ledger.yml",
        "--- a/dags/finance/ledger.yml",
        "+++ b/dags/finance/ledger.yml",
        "@@ -2,7 +2,7 @@",
        "   default_args:",
        "     start_date: 2024-01-01",
        "     resources:",
        "-      ram: 4096",
        "+      ram: 3072",
        "   tasks:",
        "     close:",
        "       operator: airflow.operators.bash.BashOperator",
        "diff --git a/dags/marketing/campaigns.yml b/dags/marketing/campaigns.yml",
        "--- a/dags/marketing/campaigns.yml",
        "+++ b/dags/marketing/campaigns.yml",
        "@@ -7,4 +7,6 @@",
        "       bash_command: fetch.sh",
        "     score:",
        "       operator: airflow.operators.bash.BashOperator",
        `+      # rightsize: per-task override, ${shared}`,
        "+      resources: {cpus: 1.5}",
        "       bash_command: score.sh",
        "diff --git a/dags/marketing/defaults.yml b/dags/marketing/defaults.yml",
        "--- a/dags/marketing/defaults.yml",
        "+++ b/dags/marketing/defaults.yml",
        "@@ -1,4 +1,4 @@",
        " default_args:",
        "   queue: kubernetes",
        "   resources:",
        "-    cpus: 1",
        "+    cpus: 0.5",
        "",
      ].join("\n"),
    );
    const clean = patchedRepository(join(work(), "clean"), dagFactoryDefaultsFiles, patch);
    // dag-factory loads every file with PyYAML: the values written read as meant.
    const read = readWithPyYaml(
      `import json, sys, yaml
load = lambda f: yaml.safe_load(open(f))
root, marketing, campaigns, ledger = (load(f) for f in sys.argv[1:])
print(json.dumps({
  "root": root["default_args"]["resources"],
  "marketing": marketing["default_args"]["resources"],
  "score": campaigns["campaigns"]["tasks"]["score"].get("resources"),
  "fetch": campaigns["campaigns"]["tasks"]["fetch"].get("resources"),
  "ledger": ledger["ledger"]["default_args"]["resources"],
}))`,
      [
        "dags/defaults.yml",
        "dags/marketing/defaults.yml",
        "dags/marketing/campaigns.yml",
        "dags/finance/ledger.yml",
      ].map((file) => join(clean, file)),
    );
    expect(read).toEqual({
      root: { cpus: 1, ram: 8192 },
      marketing: { cpus: 0.5 },
      score: { cpus: 1.5 },
      fetch: null,
      ledger: { ram: 3072 },
    });
  });
});
