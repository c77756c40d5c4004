import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import Table from "cli-table3";
import type { Command } from "commander";
import type { TaskAnalysis } from "../../common/analysis-document.js";
import { UsageError } from "../../common/errors.js";
import { packageRoot } from "../../common/package-root.js";
import { formatBytes } from "../../common/units.js";
import { parseDatabaseUrl } from "../../db/client.js";
import { EmbeddedDatabaseInUseError, removeEmbeddedDatabase } from "../../db/embedded.js";
import { formatUsd } from "../../reports/format.js";
import { savingsAssumptionOf } from "../../reports/view-model.js";
import { runDemo } from "../demo/pipeline.js";
import { demoTasks } from "../demo/scenario.js";
import { flagParsers, type GlobalOptions, runtimeOf } from "../runtime.js";

interface DemoFlags {
  runs: number;
  seconds: number;
  out: string;
  reset?: boolean;
}

function cores(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${Number(value.toFixed(2))}`;
}

function summaryTable(tasks: TaskAnalysis[]): string {
  const table = new Table({
    head: [
      "task",
      "class",
      "built to show",
      "CPU cores req → rec",
      "memory req → rec",
      "one run: req → rec",
      "runs / day",
      "saving / month",
      "confidence",
    ],
    style: { head: [], border: [] },
  });
  for (const expected of demoTasks) {
    const task = tasks.find(
      (candidate) =>
        candidate.orchestrator === expected.orchestrator &&
        candidate.pipeline === expected.pipeline &&
        candidate.task === expected.task,
    );
    if (!task) {
      table.push([
        `${expected.pipeline}.${expected.task}`,
        "not seen",
        expected.expected,
        "",
        "",
        "",
        "",
        "",
        "",
      ]);
      continue;
    }
    const { recommendation } = task;
    const saving = recommendation.monthlySavingsUsd;
    table.push([
      `${task.pipeline}.${task.task}`,
      task.bottleneck,
      task.bottleneck === expected.expected ? `✓ ${expected.expected}` : `✗ ${expected.expected}`,
      `${cores(task.cpu.requestCores)} → ${cores(task.recommendation.cpuCores)}`,
      `${formatBytes(task.memory.requestBytes)} → ${formatBytes(task.recommendation.memoryBytes)}`,
      recommendation.costPerRunUsd == null
        ? "unknown"
        : `${formatUsd(recommendation.costPerRunUsd)} → ${formatUsd(recommendation.recommendedCostPerRunUsd)}`,
      recommendation.runsPerDay === undefined ? "–" : String(Number(recommendation.runsPerDay.toFixed(2))),
      saving === null ? "unknown" : formatUsd(saving),
      task.recommendation.confidence,
    ]);
  }
  return table.toString();
}

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "run the whole pipeline on a sample workload: collect, scan, analyze, report, patch (what `npm start` runs)",
    )
    .option("--runs <n>", "runs of every task", flagParsers.positiveInt, 3)
    .option("--seconds <n>", "seconds each task works", flagParsers.positiveNumber, 4)
    .option("--out <dir>", "where the analysis, reports and patches go", "./.rightsize/demo")
    .option(
      "--reset",
      "start from an empty embedded database instead of adding to the one there (refused while a process has it open)",
    )
    .addHelpText(
      "after",
      `
Seven tasks, several runs each, in the process shapes of Airflow 2 (argv), Airflow 3 (open task log)
and Prefect (environment), each built to show one bottleneck: a single-threaded CPU burner with a
4-core request, a multi-threaded one, a memory holder with an oversized request, a disk writer that
fsyncs, a flow waiting on a slow local HTTP API, an idle sleeper, and one spawning hundreds of
short-lived shells. The real collector watches; the real analyzer, reports and patcher follow. The
DAG and prefect.yaml in examples/ are read, never changed: patches are written as diff files.
With --runs 6 or more, the gzip task's last run is given three times its input, and the report shows
that slowed run beside its diagnosis (rightsize explain airflow/demo_etl/compress_orders says the same).

Examples:
  npm start                                    same as: rightsize demo
  rightsize demo --runs 6 --seconds 6          more data, higher confidence, and a slowed run
  rightsize demo --db postgres://postgres@127.0.0.1:5432/demo --redis redis://127.0.0.1:6379`,
    )
    .action(async (flags: DemoFlags, command: Command) => {
      const runtime = runtimeOf(command);
      const globals = command.optsWithGlobals<GlobalOptions>();
      const target = parseDatabaseUrl(runtime.config.database.url);
      const say = (line: string) => process.stdout.write(`${line}\n`);
      if (target.kind === "pglite") {
        if (flags.reset && existsSync(target.folder)) {
          try {
            removeEmbeddedDatabase(target.folder);
          } catch (error) {
            if (!(error instanceof EmbeddedDatabaseInUseError)) throw error;
            throw new UsageError(
              `demo --reset: the embedded database at ${target.folder} is open in process ${error.holderPid} (a rightsize collect, run or other command): stop it first, or leave out --reset to add to it`,
            );
          }
          say(`reset: removed the embedded database at ${target.folder}`);
        } else if (existsSync(target.folder) && readdirSync(target.folder).length > 0) {
          say(
            `reusing the embedded database at ${target.folder} (its earlier runs count too; --reset starts over)`,
          );
        } else {
          say(`creating an embedded database at ${target.folder}`);
        }
      } else if (flags.reset) {
        throw new UsageError(
          "--reset only empties the embedded database; use a fresh Postgres database instead",
        );
      } else {
        say(`using ${target.kind} database ${runtime.config.database.url.replace(/\/\/[^@/]*@/, "//…@")}`);
      }
      const globalArgs = [
        "--db",
        runtime.config.database.url,
        ...(runtime.config.redis.url ? ["--redis", runtime.config.redis.url] : []),
        ...(globals.config ? ["--config", globals.config] : []),
      ];
      const outDir = resolve(flags.out);
      const result = await runDemo({
        globalArgs,
        examplesDir: join(packageRoot(), "examples"),
        outDir,
        runs: flags.runs,
        secondsPerTask: flags.seconds,
        intervalMs: 500,
        // BullMQ workers are separate processes: they share a Postgres, never an embedded folder.
        queue: runtime.config.redis.url !== null && target.kind === "postgres",
        env: { RIGHTSIZE_REPORTS_DIR: outDir },
        logger: runtime.logger,
        progress: say,
      });
      say("");
      say(summaryTable(result.document.tasks));
      const total = result.document.tasks.reduce(
        (sum, task) => sum + (task.recommendation.monthlySavingsUsd ?? 0),
        0,
      );
      // Savings are (requested − recommended) × run time × price × runs a month: runs of a few seconds,
      // a few times a day, save fractions of a cent, shown as such rather than as $0.00.
      say(`\nestimated saving: ${formatUsd(total)} a month. ${savingsAssumptionOf(result.document)}`);
      say(
        "The demo's runs last a few seconds and were observed over minutes (counted as one day): a task that works an hour, hourly, saves thousands of times more.",
      );
      say(`analysis  ${result.analysisFile}`);
      for (const file of readdirSync(result.reportDir).filter((name) => /\.(html|md)$/.test(name))) {
        say(`report    ${join(result.reportDir, file)}`);
      }
      for (const file of existsSync(result.patchDir) ? readdirSync(result.patchDir) : []) {
        say(`patch     ${join(result.patchDir, file)}`);
      }
    });
}
