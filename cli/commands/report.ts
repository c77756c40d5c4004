import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { fleetSectionsFor } from "../../analyzer/fleet-read.js";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import type { FleetDocument } from "../../common/fleet-document.js";
import { UsageError } from "../../common/errors.js";
import { pricingSettingsOf } from "../../common/pricing.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { loadTimelines, type RunTimeline } from "../../db/queries/timelines.js";
import { reportBaseName, windowOfDocument, writeReportFile } from "../../reports/publish.js";
import { rendererFor, renderers } from "../../reports/render.js";
import { reportUrlOf } from "../../reports/report-url.js";
import { readRecommendationsFile } from "../../sources/index.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

interface ReportOptions {
  out?: string;
  format: string[];
  recommendations?: string;
  maxTasks?: number;
}

/** The latest analysis in the database was not there: nothing to render yet. */
export class NoAnalysisError extends Error {
  override name = "NoAnalysisError";
}

function parseFormats(value: string): string[] {
  const formats = flagParsers.list(value);
  if (formats.length === 0)
    throw new InvalidArgumentError(`expected one or more of ${[...renderers.keys()].join(", ")}`);
  for (const format of formats) {
    if (!renderers.has(format)) {
      throw new InvalidArgumentError(
        `unknown format '${format}': expected one of ${[...renderers.keys()].join(", ")}`,
      );
    }
  }
  return [...new Set(formats)];
}

export function register(program: Command): void {
  program
    .command("report")
    .description(
      "render the latest analysis as a self-contained HTML report (charts, evidence, patches) and a Markdown summary",
    )
    .option(
      "--out <dir>",
      "folder to write into (default: reports.outDir, ./.rightsize/reports); '-' prints one format to stdout",
    )
    .addOption(
      new Option("--format <list>", `comma-separated formats: ${[...renderers.keys()].join(", ")}`)
        .argParser(parseFormats)
        .default(["html", "md"], "html,md"),
    )
    .option(
      "--recommendations <file>",
      "render this analysis document (`analyze --json` output) instead of the database's latest",
    )
    .addOption(
      new Option("--max-tasks <n>", "Markdown: at most this many tasks in the table (default 25)").argParser(
        flagParsers.positiveInt,
      ),
    )
    .addHelpText(
      "after",
      `
Writes rightsize-YYYY-MM-DD.html and/or .md (the date is the analysis window's end) and prints each path.
The HTML file has no external assets: open it from disk, attach it, or publish it as a CI artifact. The
Markdown fits a pull-request comment or a CI job summary; with reports.baseUrl set it links the night's
HTML report there (when writing into reports.outDir or to stdout). The nightly job writes the same files
and sends the email; this command never sends email.

Examples:
  rightsize report
  rightsize report --out public/ --format html
  rightsize report --recommendations analysis.json --format md --out - >> "$GITHUB_STEP_SUMMARY"`,
    )
    .action(async (options: ReportOptions, command: Command) => {
      const runtime = runtimeOf(command);
      if (options.out === "-" && options.format.length !== 1) {
        throw new UsageError("--out - prints one format: add --format html or --format md");
      }
      // Timelines come from the samples, so only a report of the database's analysis has them.
      let timelines: Map<string, RunTimeline[]> | undefined;
      let fleet: FleetDocument | undefined;
      const document: AnalysisDocument = options.recommendations
        ? readRecommendationsFile(options.recommendations)
        : await withReadDatabase(runtime, async (handle) => {
            const latest = await loadAnalysisDocument(handle.db);
            if (!latest) {
              throw new NoAnalysisError(
                `no analysis in ${handle.label} yet: run \`rightsize analyze\` first, or pass --recommendations FILE`,
              );
            }
            if (options.format.includes("html"))
              timelines = await loadTimelines(handle.db, windowOfDocument(latest));
            fleet = await fleetSectionsFor(handle.db, latest, {
              weeks: runtime.config.fleet.weeks,
              pricing: pricingSettingsOf(runtime.config),
            });
            return latest;
          });
      const { outDir: servedDir, baseUrl } = runtime.config.reports;
      // reports.baseUrl serves reports.outDir: the Markdown links the night's HTML report there when this
      // writes into that folder or prints for a job summary, never to a folder nobody said is served.
      const linked =
        options.out === undefined || options.out === "-" || resolve(options.out) === resolve(servedDir);
      const renderOptions = {
        maxTasks: options.maxTasks,
        timelines,
        fleet,
        reportUrl: linked ? reportUrlOf(baseUrl, `${reportBaseName(document)}.html`) : null,
      };
      if (options.out === "-") {
        process.stdout.write(rendererFor(options.format[0]!).render(document, renderOptions));
        return;
      }
      const outDir = resolve(options.out ?? servedDir);
      mkdirSync(outDir, { recursive: true });
      const base = reportBaseName(document);
      for (const format of options.format) {
        const renderer = rendererFor(format);
        const path = join(outDir, `${base}.${renderer.extension}`);
        writeReportFile(path, renderer.render(document, renderOptions));
        runtime.logger.info({ path, format, tasks: document.tasks.length }, "report written");
        process.stdout.write(`${path}\n`);
      }
    });
}
