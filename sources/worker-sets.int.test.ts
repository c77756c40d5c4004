/**
 * The Helm chart's Celery worker sets (`workers.celery.sets`) as declaration places: each set's resources,
 * queues and worker_concurrency, tasks routed by their queue (a dag-factory `defaults.yml`'s too), a verdict
 * per set in check, the patch where each value lives (a block two sets share sized for the larger), and a
 * task declaring more memory than its set's limit reported as not applying. The patch is an exact diff
 * `git apply --check` accepts, read back by PyYAML as Helm reads values.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  patchedRepository,
  readWithPyYaml,
  useScratchFolder,
  writeRepository,
} from "../test-support/repositories.js";
import { defaultPrefectNames } from "../test-support/source-fixtures.js";
import { workerSetAnalysis, workerSetFiles } from "../test-support/worker-set-fixtures.js";
import { checkRequests, renderGithubAnnotations } from "./check.js";
import { renderUnifiedDiff } from "./patch-render.js";
import { planRepositoryChanges } from "./plan-changes.js";
import { scanRepository } from "./scan-repository.js";

const work = useScratchFolder("worker-sets");
const options = { overRatio: 2, minCpuCores: 0.5, minMemoryBytes: 512 * 1024 ** 2 };
const config = "chart/values.yaml:4 (config.celery.worker_concurrency)";
const highmemSlots = "chart/values.yaml:22 (workers.celery.sets[0].env AIRFLOW__CELERY__WORKER_CONCURRENCY)";
const capped =
  "memory request 16 GiB does not apply: the task runs on the Helm chart's worker set highmem (queue \"highmem\"), whose worker container's memory limit 12 GiB (chart/values.yaml:28) caps every task in it. The effective value is set in chart/values.yaml:28 (workers.celery.sets[0].resources.limits.memory)";

describe("the chart's worker sets", () => {
  it("are read with each set's resources, queues and worker_concurrency", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "scan"), workerSetFiles),
      defaultPrefectNames,
    );
    expect(scan.problems).toEqual([
      {
        file: "chart/values.yaml",
        line: 6,
        message:
          "workers.resources sizes no worker set (workers.celery.resources or each set's own resources replace it whole); not read",
      },
    ]);
    expect(
      scan.findings
        .filter((finding) => finding.via === "worker")
        .map(
          (finding) =>
            `${finding.line} ${finding.resource} ${finding.kind} ${finding.raw} ${finding.workers!.set} [${finding.workers!.queues!.join(",")}] ${finding.workers!.slots} ${finding.workers!.resourcesAt}`,
        ),
    ).toEqual([
      "13 cpu request 1 default [default] 4 workers.celery.resources",
      "14 memory request 2Gi default [default] 4 workers.celery.resources",
      "16 memory limit 6Gi default [default] 4 workers.celery.resources",
      "25 cpu request 2 highmem [highmem] 2 workers.celery.sets[0].resources",
      "26 memory request 8Gi highmem [highmem] 2 workers.celery.sets[0].resources",
      "28 memory limit 12Gi highmem [highmem] 2 workers.celery.sets[0].resources",
      "13 cpu request 1 reports [reports,exports] 4 workers.celery.resources",
      "14 memory request 2Gi reports [reports,exports] 4 workers.celery.resources",
      "16 memory limit 6Gi reports [reports,exports] 4 workers.celery.resources",
    ]);
    // The dag-factory DAG's queue comes from its folder's defaults.yml.
    expect(scan.tasks.map((site) => `${site.pipeline}/${site.task} ${site.queue ?? "-"}`)).toEqual([
      "etl/extract -",
      "etl/clean -",
      "etl/join highmem",
      "etl/train highmem",
      "etl/report reports",
      "export/dump exports",
    ]);
  });

  it("get a verdict each in check, against the tasks routed to them, and a capped task does not apply", async () => {
    const scan = await scanRepository(
      writeRepository(join(work(), "check"), workerSetFiles),
      defaultPrefectNames,
    );
    const report = checkRequests(scan, workerSetAnalysis(), options, "warning");
    expect(
      report.items
        .filter((item) => item.pipeline === "*" || item.verdict === "does-not-apply")
        .map(
          (item) =>
            `${item.file}:${item.line} ${item.task} ${item.resource} ${item.declared} ${item.recommended} ${item.verdict}`,
        ),
    ).toEqual([
      "dags/etl.py:8 train memory 16 GiB null does-not-apply",
      "chart/values.yaml:13 workers default (CeleryExecutor) cpu 1 core 1 core ok",
      "chart/values.yaml:14 workers default (CeleryExecutor) memory 2 GiB 2.5 GiB ok",
      "chart/values.yaml:16 workers default (CeleryExecutor) memory 6 GiB 2.5 GiB ok",
      "chart/values.yaml:25 workers highmem (CeleryExecutor) cpu 2 cores 3.5 cores ok",
      "chart/values.yaml:26 workers highmem (CeleryExecutor) memory 8 GiB 11 GiB under-provisioned",
      "chart/values.yaml:28 workers highmem (CeleryExecutor) memory 12 GiB 11 GiB ok",
      "chart/values.yaml:13 workers reports (CeleryExecutor) cpu 1 core 0.75 cores ok",
      "chart/values.yaml:14 workers reports (CeleryExecutor) memory 2 GiB 3.5 GiB under-provisioned",
      "chart/values.yaml:16 workers reports (CeleryExecutor) memory 6 GiB 3.5 GiB ok",
    ]);
    // extract and clean (1 and 1.5 GiB, peaks 0.8 and 1.2 GiB) share the default workers; report and the
    // dag-factory task dump (exports queue) the reports set; join and train the highmem set, two at once.
    expect(report.failed).toBe(true);
    const annotations = renderGithubAnnotations(report).split("\n");
    expect(annotations.filter((line) => /^::error|does-not-apply/.test(line))).toEqual([
      `::warning file=dags/etl.py,line=8,title=rightsize%3A etl/train does-not-apply::${capped}`,
      `::error file=chart/values.yaml,line=26,title=rightsize%3A */workers highmem (CeleryExecutor) under-provisioned::worker set highmem's memory request 8 GiB is below the 8.8 GiB the 2 heaviest of the 2 task(s) that run there (${highmemSlots}) used at their peaks; recommended 11 GiB`,
      `::error file=chart/values.yaml,line=14,title=rightsize%3A */workers reports (CeleryExecutor) under-provisioned::worker set reports's memory request 2 GiB is below the 2.8 GiB the 2 heaviest of the 2 task(s) that run there (${config}) used at their peaks; recommended 3.5 GiB`,
    ]);
  });

  it("are patched where each value lives, with a diff git apply accepts and PyYAML reads back", async () => {
    const repo = writeRepository(join(work(), "patch"), workerSetFiles);
    const { plan } = await planRepositoryChanges(repo, defaultPrefectNames, async () => workerSetAnalysis());
    const patch = renderUnifiedDiff(plan);
    expect(patch).toBe(
      [
        "# chart/values.yaml:14 workers default (CeleryExecutor), workers reports (CeleryExecutor): memory request 2Gi -> 3584Mi",
        "# chart/values.yaml:25 workers highmem (CeleryExecutor): cpu request 2 -> 3.5",
        "# chart/values.yaml:26 workers highmem (CeleryExecutor): memory request 8Gi -> 11Gi",
        `# workers.celery.resources at chart/values.yaml sizes CeleryExecutor workers of worker set default (queues default) running 4 tasks at once (${config}): the sum of the 2 largest recommendations among the 2 task(s) that run there`,
        `# workers.celery.sets[0].resources at chart/values.yaml sizes CeleryExecutor workers of worker set highmem (queues highmem) running 2 tasks at once (${highmemSlots}): the sum of the 2 largest recommendations among the 2 task(s) that run there`,
        `# workers.celery.resources at chart/values.yaml sizes CeleryExecutor workers of worker set reports (queues reports, exports) running 4 tasks at once (${config}): the sum of the 2 largest recommendations among the 2 task(s) that run there`,
        "# chart/values.yaml:13 workers.celery.resources sizes worker sets default, reports: it gets the largest value they want, 1 core; give a set its own resources to size it apart",
        "# chart/values.yaml:14 workers.celery.resources sizes worker sets default, reports: it gets the largest value they want, 3.5 GiB; give a set its own resources to size it apart",
        `# dags/etl.py:8 etl/train: left as it is, ${capped}`,
        "diff --git a/chart/values.yaml b/chart/values.yaml",
        "--- a/chart/values.yaml",
        "+++ b/chart/values.yaml",
        "@@ -11,7 +11,7 @@",
        "     resources:",
        "       requests:",
        "         cpu: 1",
        "-        memory: 2Gi",
        "+        memory: 3584Mi",
        "       limits:",
        "         memory: 6Gi",
        "     sets:",
        "@@ -22,8 +22,8 @@",
        '             value: "2"',
        "         resources:",
        "           requests:",
        "-            cpu: 2",
        "-            memory: 8Gi",
        "+            cpu: 3.5",
        "+            memory: 11Gi",
        "           limits:",
        "             memory: 12Gi",
        "       - name: reports",
        "",
      ].join("\n"),
    );
    const clean = patchedRepository(join(work(), "clean"), workerSetFiles, patch);
    const read = readWithPyYaml(
      "import json, sys, yaml; c = yaml.safe_load(open(sys.argv[1]))['workers']['celery']; print(json.dumps([c['resources'], [[s['name'], s['queue'], s.get('resources')] for s in c['sets']]]))",
      [join(clean, "chart/values.yaml")],
    );
    expect(read).toEqual([
      { requests: { cpu: 1, memory: "3584Mi" }, limits: { memory: "6Gi" } },
      [
        ["highmem", "highmem", { requests: { cpu: 3.5, memory: "11Gi" }, limits: { memory: "12Gi" } }],
        ["reports", "reports,exports", null],
      ],
    ]);
  });
});
