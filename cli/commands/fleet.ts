import { type Command, InvalidArgumentError, Option } from "commander";
import { type Comparison, comparisonProblem } from "../../analyzer/cost-over-time.js";
import { loadFleetDocument } from "../../analyzer/fleet-read.js";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import { UsageError } from "../../common/errors.js";
import { pricingSettingsOf } from "../../common/pricing.js";
import { fleetDocumentSchema } from "../../common/fleet-document.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { renderFleetMarkdown, renderFleetText } from "../../reports/fleet.js";
import { readRecommendationsFile } from "../../sources/index.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

const formats = ["text", "md", "json"] as const;
type FleetFormat = (typeof formats)[number];

/** `--compare`: N (the last N weeks against the N before), or FIRST-LAST:FIRST-LAST (weeks, 1 = oldest). */
type CompareFlag = { span: number } | { ranges: Comparison };

interface FleetOptions {
  weeks?: number;
  compare?: CompareFlag;
  windowEnd?: Date;
  format: FleetFormat;
  recommendations?: string;
}

function parseFormat(value: string): FleetFormat {
  if (!(formats as readonly string[]).includes(value))
    throw new InvalidArgumentError(`unknown format '${value}': expected one of ${formats.join(", ")}`);
  return value as FleetFormat;
}

function parseInstant(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime()))
    throw new InvalidArgumentError("expected an ISO-8601 time such as 2026-12-07T00:00:00Z");
  return date;
}

function parseCompare(value: string): CompareFlag {
  if (/^\d+$/.test(value) && Number(value) > 0) return { span: Number(value) };
  const match = /^(\d+)(?:-(\d+))?:(\d+)(?:-(\d+))?$/.exec(value);
  if (!match)
    throw new InvalidArgumentError(
      "expected N (the last N weeks against the N before) or weeks FIRST-LAST:FIRST-LAST such as 1-4:5-8 (1 = the oldest)",
    );
  const week = (text: string | undefined, fallback: string) => Number(text ?? fallback) - 1;
  return {
    ranges: {
      before: { first: week(match[1], ""), last: week(match[2], match[1]!) },
      after: { first: week(match[3], ""), last: week(match[4], match[3]!) },
    },
  };
}

/** The flag's periods in a window of `weeks`; a UsageError (exit 2) naming the flag when they do not fit. */
function comparisonOf(flag: CompareFlag | undefined, weeks: number): Comparison | undefined {
  if (flag === undefined) return undefined;
  const compare =
    "span" in flag
      ? {
          before: { first: weeks - 2 * flag.span, last: weeks - flag.span - 1 },
          after: { first: weeks - flag.span, last: weeks - 1 },
        }
      : flag.ranges;
  const problem =
    "span" in flag && 2 * flag.span > weeks
      ? `the last ${flag.span} weeks and the ${flag.span} before need ${2 * flag.span} weeks, the window has ${weeks}`
      : comparisonProblem(compare, weeks);
  if (problem !== null) throw new UsageError(`option '--compare': ${problem}`);
  return compare;
}

export function register(program: Command): void {
  program
    .command("fleet")
    .description(
      "why the bill grows and where each kind of task should run: weekly cost per task and pipeline with the causes of each change, and tasks grouped by need, placed and packed onto worker shapes",
    )
    .addOption(
      new Option(
        "--weeks <n>",
        "weeks of run summaries to price and explain (default: fleet.weeks, 8)",
      ).argParser(flagParsers.positiveInt),
    )
    .addOption(
      new Option("--window-end <time>", "end of the last week, ISO-8601 (default: now)").argParser(
        parseInstant,
      ),
    )
    .addOption(
      new Option(
        "--compare <periods>",
        "the periods each change is measured between: N (the last N weeks against the N before) or FIRST-LAST:FIRST-LAST in weeks of the window, 1 = the oldest (default: 4, or half the window when shorter)",
      ).argParser(parseCompare),
    )
    .addOption(
      new Option("--format <format>", `output: ${formats.join(", ")}`).argParser(parseFormat).default("text"),
    )
    .option(
      "--recommendations <file>",
      "take classes and recommendations from this analysis document (`analyze --json` output) instead of the database's latest",
    )
    .addHelpText(
      "after",
      `
Cost over time: every finished run of the last N weeks is priced as the night prices it (its request ×
the hours it held it × pricing.*; a run without a recorded request at its task's declared or configured
request, else its recommendation), week by week per task and pipeline, beside the cost of what it used
(CPU-seconds and peak memory); with pricing.history each run at the prices in effect when it started.
The change between two periods (default: the last 4 weeks against the 4 before; --compare) is split
into factors whose product is the change: runs per day × hours per run × requested size × price (a
price change from pricing.history shows as the price factor); the hours per run are
explained by the wall-clock state that moved most (on a CPU, on disk, on the network, waiting for a CPU,
idle) and the figure behind it (CPU-seconds, bytes read or written, bytes over the network). Biggest
weekly increase first, one sentence each.

Where tasks should run: the latest analysis's tasks grouped by need (cpu-bound, memory-heavy above
4 GiB per recommended core, disk-bound, network-or-idle, general), an instance family per group by GiB
per vCPU and I/O (the cheapest that holds its busiest instant), the queue, node selector and work pool to route them with, and the recommended
requests of the runs that ran at once packed first-fit decreasing onto the group's worker shape, against
the hosts that ran them, per group and for the fleet; workers and hosts priced at each family's
on-demand price per vCPU-hour (AWS list prices, docs/fleet.md). Observed concurrency, not a scheduler simulation. Run \`rightsize analyze\`
first; without an analysis only the cost over time is shown. docs/fleet.md has the details.

Examples:
  rightsize fleet
  rightsize fleet --weeks 4 --format md >> "$GITHUB_STEP_SUMMARY"
  rightsize fleet --weeks 12 --compare 1-2:11-12
  rightsize fleet --format json > fleet.json`,
    )
    .action(async (options: FleetOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const weeks = options.weeks ?? runtime.config.fleet.weeks;
      const end = options.windowEnd ?? new Date();
      const compare = comparisonOf(options.compare, weeks);
      const fromFile: AnalysisDocument | null = options.recommendations
        ? readRecommendationsFile(options.recommendations)
        : null;
      const document = await withReadDatabase(runtime, async (handle) =>
        loadFleetDocument(handle.db, {
          weeks,
          end,
          pricing: pricingSettingsOf(runtime.config),
          ...(compare === undefined ? {} : { compare }),
          analysis: fromFile ?? (await loadAnalysisDocument(handle.db)) ?? null,
        }),
      );
      process.stdout.write(
        options.format === "json"
          ? // The contract holds before anyone reads it: a non-finite figure is a bug, not a document.
            `${JSON.stringify(fleetDocumentSchema.parse(document), null, 2)}\n`
          : options.format === "md"
            ? renderFleetMarkdown(document)
            : renderFleetText(document),
      );
    });
}
