/**
 * Renderers: the analysis document in, a string out. Pure apart from reading the templates once at load.
 * Templates live in reports/templates (copied next to the built code by scripts/copy-assets.mjs) and are
 * found relative to this module.
 *
 * HTML templates use Handlebars' default escaping: every `{{value}}` is HTML-escaped, SVG included; no
 * template uses triple braces for data. Markdown and plain-text templates compile without HTML escaping,
 * and every user string in them goes through the `md` helper (Markdown, reports/escape.ts) or is plain text;
 * the report's link goes through `mdLink` (Markdown) or `textLine` (the email's text part).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import type { AnalysisDocument, TaskAnalysis } from "../common/analysis-document.js";
import { UsageError } from "../common/errors.js";
import { codePath } from "../common/package-root.js";
import { escapeMarkdown, escapeTextLine, markdownLink } from "./escape.js";
import {
  formatBytes,
  formatChange,
  formatCores,
  formatDuration,
  formatInstant,
  formatPercent,
  formatUsd,
} from "./format.js";
import { buildReportView, defaultMaxTasks, palette, type RenderOptions } from "./view-model.js";

export type { RenderOptions } from "./view-model.js";

const templatesDir = codePath("reports", "templates");

const handlebars = Handlebars.create();

const metricNames: Record<string, string> = {
  durationSeconds: "duration",
  peakMemoryBytes: "peak memory",
  cpuSeconds: "CPU time",
};

/** Metric names of `regressions[]` → how their values read. */
function formatMetric(metric: unknown, value: unknown): string {
  const number = typeof value === "number" ? value : Number.NaN;
  if (metric === "peakMemoryBytes") return formatBytes(number);
  return formatDuration(number);
}

const asNumber = (value: unknown) => (typeof value === "number" ? value : null);
handlebars.registerHelper("bytes", (value: unknown) => formatBytes(asNumber(value)));
handlebars.registerHelper("cores", (value: unknown) => formatCores(asNumber(value)));
handlebars.registerHelper("duration", (value: unknown) => formatDuration(asNumber(value)));
handlebars.registerHelper("percent", (value: unknown) => formatPercent(asNumber(value)));
handlebars.registerHelper("usd", (value: unknown) => formatUsd(asNumber(value)));
/** `1 task`, `3 tasks`: English plurals with an s are all the reports need. */
export function plural(count: unknown, noun: unknown): string {
  const number = typeof count === "number" ? count : Number(count);
  return `${number} ${noun}${number === 1 ? "" : "s"}`;
}
handlebars.registerHelper("plural", plural);
/**
 * A task's saving as a phrase: what it saves, what more it costs, or why it is unknown; with the cost of
 * one run and the frequency the saving assumes, read from the task in context (`this.task`).
 */
handlebars.registerHelper("savingPhrase", function (this: unknown, value: unknown) {
  const amount = asNumber(value);
  const recommendation = (this as { task?: TaskAnalysis } | null)?.task?.recommendation;
  const perRun =
    recommendation?.costPerRunUsd != null && recommendation.runsPerDay !== undefined
      ? ` (a run costs ${formatUsd(recommendation.costPerRunUsd)} at its request, ${formatUsd(recommendation.recommendedCostPerRunUsd)} as recommended; ${Number(recommendation.runsPerDay.toFixed(2))} runs a day observed)`
      : "";
  if (amount === null) return "Saving unknown (no request known)";
  if (amount < 0) return `Costs ${formatUsd(-amount)}/month more${perRun}`;
  return `Saves ${formatUsd(amount)}/month${perRun}`;
});
/** Unit prices keep their digits: $0.031611, not $0.03. */
handlebars.registerHelper("usdPrecise", (value: unknown) => {
  const number = asNumber(value);
  return number === null ? "–" : `$${number}`;
});
handlebars.registerHelper("change", (value: unknown) => formatChange(asNumber(value)));
handlebars.registerHelper("metricValue", formatMetric);
handlebars.registerHelper("datetime", (value: unknown) =>
  formatInstant(typeof value === "string" ? value : null),
);
handlebars.registerHelper("metricName", (metric: unknown) => metricNames[String(metric)] ?? String(metric));
handlebars.registerHelper("quantity", (value: unknown, unit: unknown) =>
  unit === "bytes" ? formatBytes(asNumber(value)) : formatCores(asNumber(value)),
);
/** A plain number for data attributes (sorting): missing values sort as 0. */
handlebars.registerHelper("number", (value: unknown) => String(asNumber(value) ?? 0));
handlebars.registerHelper("md", escapeMarkdown);
handlebars.registerHelper("mdLink", (label: unknown, url: unknown) =>
  markdownLink(String(label), String(url)),
);
handlebars.registerHelper("textLine", escapeTextLine);

for (const file of readdirSync(join(templatesDir, "partials"))) {
  if (!file.endsWith(".hbs")) continue;
  handlebars.registerPartial(
    file.slice(0, -".hbs".length),
    readFileSync(join(templatesDir, "partials", file), "utf8"),
  );
}

function load(name: string, options: { html: boolean }): HandlebarsTemplateDelegate {
  const source = readFileSync(join(templatesDir, name), "utf8");
  return handlebars.compile(source, { noEscape: !options.html, strict: false, preventIndent: true });
}

const templates = {
  html: load("report.html.hbs", { html: true }),
  markdown: load("report.md.hbs", { html: false }),
  emailHtml: load("email.html.hbs", { html: true }),
  emailText: load("email.txt.hbs", { html: false }),
};

const formats = { cores: formatCores, bytes: formatBytes };

/** The full HTML report: one self-contained file (inline CSS, SVG and script; no external assets). */
export function renderHtmlReport(document: AnalysisDocument, options: RenderOptions = {}): string {
  const view = buildReportView(document, options, formats);
  return templates.html({ ...view, palette });
}

/**
 * The Markdown report: headline and the worst tasks as GitHub-flavored tables, short enough for a PR
 * comment or a CI job summary (`options.maxTasks`, default 25).
 */
export function renderMarkdownReport(document: AnalysisDocument, options: RenderOptions = {}): string {
  const view = buildReportView(document, options, formats, options.maxTasks ?? defaultMaxTasks);
  return `${templates
    .markdown(view)
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}

export interface EmailContent {
  subject: string;
  html: string;
  text: string;
}

/** The nightly email: a subject with the headline numbers, an HTML body mail clients render, and text. */
export function renderEmail(document: AnalysisDocument, options: RenderOptions = {}): EmailContent {
  const view = buildReportView(document, options, formats, options.maxTasks ?? defaultMaxTasks);
  const { headline } = view;
  const subject = [
    `rightsize: ${formatUsd(headline.monthlySavingsUsd)}/month to save`,
    `${headline.overProvisioned} over-provisioned`,
    `${headline.underProvisioned} under-provisioned`,
    `${headline.oomRisk} at OOM risk`,
    `${headline.regressions} regressed`,
  ].join(" · ");
  return {
    subject,
    html: templates.emailHtml({ ...view, subject, palette }),
    text: `${templates
      .emailText({ ...view, subject })
      .replace(/\n{3,}/g, "\n\n")
      .trim()}\n`,
  };
}

/** A renderer: one signature for every format (STYLE.md 3). */
export type Renderer = (document: AnalysisDocument, options?: RenderOptions) => string;

/** Formats `report --format` accepts, with the file extension each writes. */
export const renderers: ReadonlyMap<string, { extension: string; render: Renderer }> = new Map([
  ["html", { extension: "html", render: renderHtmlReport }],
  ["md", { extension: "md", render: renderMarkdownReport }],
]);

/** The renderer for a format name; an unknown name fails listing the valid ones. */
export function rendererFor(format: string): { extension: string; render: Renderer } {
  const found = renderers.get(format);
  if (!found) {
    throw new UsageError(
      `unknown report format '${format}': expected one of ${[...renderers.keys()].join(", ")}`,
    );
  }
  return found;
}
