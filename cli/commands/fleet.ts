import { type Command, InvalidArgumentError, Option } from "commander";
import { loadFleetDocument } from "../../analyzer/fleet-read.js";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import { fleetDocumentSchema } from "../../common/fleet-document.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { renderFleetMarkdown, renderFleetText } from "../../reports/fleet.js";
import { readRecommendationsFile } from "../../sources/index.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

const formats = ["text", "md", "json"] as const;
type FleetFormat = (typeof formats)[number];

interface FleetOptions {
  weeks?: number;
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
(CPU-seconds and peak memory). The change from the first week to the last is split into factors whose
product is the change: runs per day × hours per run × requested size × price; the hours per run are
explained by the wall-clock state that moved most (on a CPU, on disk, on the network, waiting for a CPU,
idle) and the figure behind it (CPU-seconds, bytes read or written, bytes over the network). Biggest
weekly increase first, one sentence each.

Where tasks should run: the latest analysis's tasks grouped by need (cpu-bound, memory-heavy above
4 GiB per recommended core, disk-bound, network-or-idle, general), an instance family per group by GiB
per vCPU and I/O, the queue, node selector and work pool to route them with, and the recommended
requests of the runs that ran at once packed first-fit decreasing onto the group's worker shape, against
the hosts that ran them. Observed concurrency, not a scheduler simulation. Run \`rightsize analyze\`
first; without an analysis only the cost over time is shown. docs/fleet.md has the details.

Examples:
  rightsize fleet
  rightsize fleet --weeks 4 --format md >> "$GITHUB_STEP_SUMMARY"
  rightsize fleet --format json > fleet.json`,
    )
    .action(async (options: FleetOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const weeks = options.weeks ?? runtime.config.fleet.weeks;
      const end = options.windowEnd ?? new Date();
      const fromFile: AnalysisDocument | null = options.recommendations
        ? readRecommendationsFile(options.recommendations)
        : null;
      const document = await withReadDatabase(runtime, async (handle) =>
        loadFleetDocument(handle.db, {
          weeks,
          end,
          pricing: runtime.config.pricing,
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
