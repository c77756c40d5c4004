import { type Command, InvalidArgumentError, Option } from "commander";
import { backtestWindow } from "../../analyzer/backtest-window.js";
import { type PolicyName, policyNames, sizingPolicies } from "../../analyzer/policies.js";
import { parseTaskKey, type TaskKey } from "../../common/task-key.js";
import {
  renderBacktestJson,
  renderBacktestMarkdown,
  renderBacktestText,
} from "../../reports/backtest-table.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

interface BacktestOptions {
  task?: TaskKey;
  policy?: PolicyName;
  format: "text" | "md" | "json";
  window?: number;
  windowEnd?: Date;
}

function parseTask(value: string): TaskKey {
  const key = parseTaskKey(value);
  if (!key || !key.orchestrator || !key.pipeline || !key.task) {
    throw new InvalidArgumentError(
      "expected a task key orchestrator/pipeline/task, such as airflow/etl_daily/load",
    );
  }
  return key;
}

const renderers = { text: renderBacktestText, md: renderBacktestMarkdown, json: renderBacktestJson };

export function register(program: Command): void {
  program
    .command("backtest")
    .description(
      "what each recommendation, and each sizing policy, would have done to the window's runs: runs over memory, runs CPU-capped and how much longer, and the saving",
    )
    .addOption(new Option("--task <key>", "only this task, orchestrator/pipeline/task").argParser(parseTask))
    .addOption(
      new Option(
        "--policy <name>",
        "the policy of the per-task rows (default: analysis.policy, the one recommendations follow)",
      ).choices(policyNames),
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "md", "json"]).default("text"),
    )
    .addOption(
      new Option("--window <duration>", "how far back to look (default: analysis.window, 14d)").argParser(
        flagParsers.days,
      ),
    )
    .addOption(
      new Option("--window-end <time>", "end of the window, ISO-8601 (default: now)").argParser(
        flagParsers.instant,
      ),
    )
    .addHelpText(
      "after",
      `
Every task's runs (their stored summaries: peak memory, per-second cores, duration, OOM kills) are
replayed against what each policy would have requested:
  over memory    runs whose peak exceeded the memory: they would have been OOM-killed
  reclaim zone   runs that fit, within 10 % below it, where the kernel reclaims and the run slows
  CPU-capped     runs whose per-second demand rose above the cores; "longer" is the estimated
                 stretch: the CPU-seconds above the cap, done at the cap's rate, added to the run
  saving         (the runs' own request - the policy's) x each run's time x pricing.*
In sample, a policy is sized from every run of the window and replayed on every run. Out of sample,
it is sized from the older three quarters of a task's runs and replayed on the newest quarter (tasks
with at least 4 runs): what a recommendation applied today would do to the runs that come next.
analysis.maxOverMemoryShare (default 0.01, 1 run in 100) is the risk target: the nightly
recommendation does not cut memory for a task whose out-of-sample runs exceed it.

Policies:
${policyNames.map((name) => `  ${name.padEnd(12)}${sizingPolicies[name].description}`).join("\n")}

Examples:
  rightsize backtest
  rightsize backtest --policy vpa --format md
  rightsize backtest --task airflow/etl_daily/load_orders --format json`,
    )
    .action(async (options: BacktestOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const { config } = runtime;
      const night = {
        windowEnd: options.windowEnd ?? new Date(),
        windowDays: options.window ?? config.analysis.windowDays,
      };
      await withReadDatabase(runtime, async (handle) => {
        const result = await backtestWindow(handle.db, config, night, {
          policy: options.policy ?? (config.analysis.policy as PolicyName),
          ...(options.task ? { task: options.task } : {}),
        });
        process.stdout.write(renderers[options.format](result));
      });
    });
}
