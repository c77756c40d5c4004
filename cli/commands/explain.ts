import { type Command, InvalidArgumentError, Option } from "commander";
import type { RunSelection } from "../../analyzer/diagnosis.js";
import { explainRun } from "../../analyzer/explain.js";
import { windowOf } from "../../analyzer/nightly.js";
import { CommandExitError, UsageError } from "../../common/errors.js";
import { parseTaskKey, type TaskKey } from "../../common/task-key.js";
import { escapeTextLine } from "../../reports/escape.js";
import { type ExplanationFormat, explanationFormats, renderExplanation } from "../../reports/explanation.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

interface ExplainOptions {
  run?: string;
  latest?: boolean;
  slowest?: boolean;
  format: ExplanationFormat;
  window?: number;
  windowEnd?: Date;
}

function parseFormat(value: string): ExplanationFormat {
  if (!(explanationFormats as readonly string[]).includes(value))
    throw new InvalidArgumentError(
      `unknown format '${value}': expected one of ${explanationFormats.join(", ")}`,
    );
  return value as ExplanationFormat;
}

function parseKey(text: string): TaskKey {
  const key = parseTaskKey(text);
  if (!key || !key.orchestrator || !key.task)
    throw new UsageError(
      `TASK '${escapeTextLine(text)}' is not a task key: expected orchestrator/pipeline/task, e.g. airflow/etl_daily/load_orders`,
    );
  return key;
}

function selectionOf(options: ExplainOptions): RunSelection {
  const chosen = [options.run !== undefined, options.latest === true, options.slowest === true].filter(
    Boolean,
  );
  if (chosen.length > 1)
    throw new UsageError("--run, --latest and --slowest each pick the run: give one of them");
  if (options.run !== undefined) return { runId: options.run };
  if (options.slowest) return { slowest: true };
  return { latest: true };
}

export function register(program: Command): void {
  program
    .command("explain")
    .argument("<task>", "the task key: orchestrator/pipeline/task (as reports and `check` print it)")
    .description(
      "why a run took as long as it did: against the task's own runs in the window, and what else its host was doing",
    )
    .option("--run <id>", "the run to explain: its run id (the newest try when several) or execution id")
    .option("--latest", "explain the task's most recent finished run (the default)")
    .option("--slowest", "explain the task's longest run in the window")
    .addOption(
      new Option("--format <format>", `output: ${explanationFormats.join(", ")}`)
        .argParser(parseFormat)
        .default("text"),
    )
    .addOption(
      new Option(
        "--window <duration>",
        "how far back the comparable runs go (default: analysis.window, 14d)",
      ).argParser(flagParsers.days),
    )
    .addOption(
      new Option("--window-end <time>", "end of the window, ISO-8601 (default: now)").argParser(
        flagParsers.instant,
      ),
    )
    .addHelpText(
      "after",
      `
The run is compared with the task's other sampled runs in the window (at most analysis.maxRuns): the
median run and the distribution. Its duration difference is split by where the wall clock went (on a
CPU, waiting for a CPU, blocked on disk, waiting on each remote endpoint, waiting on children, idle, not
sampled), and the parts add up to the difference. Volumes (CPU seconds, bytes read and written, network
bytes, processes, commands), memory against the baseline and the limit, and CPU throttling follow.

When the run waited for a CPU or on disk beyond its median run, the other executions on the same host
that overlapped it are ranked by how their CPU or disk use lines up with its waiting over time (Pearson's
r over the shared ticks, as CPI2 does for co-located jobs), with the strength of the evidence. Last, how
much the task's duration varies across runs and which stored factor it follows.

Fewer than 5 comparable runs: the answer says so. Exit 1 when the task or the run is not found.

Examples:
  rightsize explain airflow/etl_daily/load_orders
  rightsize explain airflow/etl_daily/load_orders --slowest --format md >> "$GITHUB_STEP_SUMMARY"
  rightsize explain prefect/etl/nightly/__flow__ --run 3f0c… --format json`,
    )
    .action(async (task: string, options: ExplainOptions, command: Command) => {
      const key = parseKey(task);
      const selection = selectionOf(options);
      const runtime = runtimeOf(command);
      const { config } = runtime;
      const window = windowOf(
        {
          windowEnd: options.windowEnd ?? new Date(),
          windowDays: options.window ?? config.analysis.windowDays,
        },
        config.analysis.maxRuns,
      );
      const explanation = await withReadDatabase(runtime, (handle) =>
        explainRun(handle.db, key, selection, window),
      );
      if (!explanation) {
        const which =
          "runId" in selection ? `no run '${escapeTextLine(selection.runId)}' of` : "no finished run of";
        throw new CommandExitError(
          `${which} ${escapeTextLine(task)} in the ${Number(window.end.getTime() - window.start.getTime()) / 86_400_000} days before ${window.end.toISOString()}`,
          1,
        );
      }
      process.stdout.write(renderExplanation(explanation, options.format));
    });
}
