/**
 * The nightly publish step: render the analysis, write the files, record the run, then email it. The
 * files and the report_runs row come first so a failed email never loses the report; a failed email
 * throws after recording, so the BullMQ job that called this retries. The email and Slack follow one
 * once-only rule (reports/delivery-record.ts): a sent email is recorded under its delivery key before
 * anything else can fail, and a retry that finds it sent does not send it again.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError, describeError } from "../common/errors.js";
import { fleetDocumentSchema } from "../common/fleet-document.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import { insertReportRun, updateReportRun } from "../db/queries/report-runs.js";
import { loadTimelines } from "../db/queries/timelines.js";
import { exportAnalysisMetrics } from "./analysis-metrics.js";
import { type Delivery, recordFailed, recordSent, sentEarlier } from "./delivery-record.js";
import { sendReportEmail } from "./email.js";
import { type RenderOptions, renderEmail, renderHtmlReport, renderMarkdownReport } from "./render.js";
import { reportUrlOf } from "./report-url.js";
import { deliverSlackSummary, type SlackResult } from "./slack.js";

export interface PublishResult {
  htmlPath: string;
  markdownPath: string;
  /** The fleet document beside the reports (`<base>.fleet.json`, docs/fleet.md), when the night had one. */
  fleetPath?: string;
  /** already-sent: an earlier attempt of the same delivery sent it; not sent again. */
  email: "sent" | "skipped" | "failed" | "already-sent";
  /** The report run of this publish, or of the earlier one that sent the email (null if unknown). */
  reportRunId: number | null;
  /** Absent when the publish stopped before Slack (a failed email throws first). */
  slack?: SlackResult;
}

/** `rightsize-2026-11-21` from the window end (or generation time): one file pair per night. */
export function reportBaseName(document: AnalysisDocument): string {
  const stamp = document.windowEnd ?? document.generatedAt;
  const date = new Date(stamp);
  const day = Number.isNaN(date.getTime())
    ? stamp.replace(/[^\w-]/g, "_").slice(0, 40)
    : date.toISOString().slice(0, 10);
  return `rightsize-${day}`;
}

/**
 * Writes a report file whole or not at all (temp file, then rename): a reader or a mail attachment never
 * sees half a report, and a crash mid-write keeps the previous night's file.
 */
export function writeReportFile(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

function windowEndOf(document: AnalysisDocument): Date {
  const date = new Date(document.windowEnd ?? document.generatedAt);
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

/** The document's window, for reading the samples behind its timelines. */
export function windowOfDocument(document: AnalysisDocument): { start: Date; end: Date } {
  const end = windowEndOf(document);
  return { start: new Date(end.getTime() - document.windowDays * 86_400_000), end };
}

export interface PublishOptions {
  db: Db;
  document: AnalysisDocument;
  config: Config;
  logger: Logger;
  render?: RenderOptions;
  /**
   * Names the delivery (the nightly publish passes its window end): when an earlier attempt with the same
   * key sent the email, this one writes the files but does not send it again; Slack posts once per key.
   * @defaultValue for Slack, the document's window end (ISO-8601); for the email, none (always sent)
   */
  deliveryKey?: string;
}

/** Files, report run and email, then the Slack message (reports/slack.ts), which a retry does not post twice. */
export async function publishAnalysis(options: PublishOptions): Promise<PublishResult> {
  const result = await publishFilesAndEmail(options);
  const slack = await deliverSlackSummary({
    ...options,
    deliveryKey: options.deliveryKey ?? windowEndOf(options.document).toISOString(),
    htmlFileName: basename(result.htmlPath),
  });
  return { ...result, slack };
}

async function publishFilesAndEmail(options: PublishOptions): Promise<PublishResult> {
  const { db, document, config, logger } = options;
  const deliveryKey = options.deliveryKey ?? null;
  const outDir = resolve(config.reports.outDir);
  const base = reportBaseName(document);
  const timelines = options.render?.timelines ?? (await loadTimelines(db, windowOfDocument(document)));
  const html = renderHtmlReport(document, { ...options.render, timelines });
  // The Markdown and the email link the HTML report where reports.baseUrl says it is served.
  const render = {
    ...options.render,
    reportUrl: options.render?.reportUrl ?? reportUrlOf(config.reports.baseUrl, `${base}.html`),
  };
  const markdown = renderMarkdownReport(document, render);
  mkdirSync(outDir, { recursive: true });
  const htmlPath = join(outDir, `${base}.html`);
  const markdownPath = join(outDir, `${base}.md`);
  writeReportFile(htmlPath, html);
  writeReportFile(markdownPath, markdown);
  const fleet = options.render?.fleet;
  const fleetPath = fleet ? join(outDir, `${base}.fleet.json`) : undefined;
  // The fleet document beside the reports, checked against its contract as `rightsize fleet --format json` is.
  if (fleet && fleetPath)
    writeReportFile(fleetPath, `${JSON.stringify(fleetDocumentSchema.parse(fleet), null, 2)}\n`);
  const files = { htmlPath, markdownPath, ...(fleetPath ? { fleetPath } : {}) };
  logger.info({ ...files, tasks: document.tasks.length }, "report written");
  await exportAnalysisMetrics(document, config, logger);

  const { smtpUrl, from, to } = config.email;
  if (!smtpUrl || to.length === 0) {
    const reportRunId = await insertReportRun(db, {
      windowEnd: windowEndOf(document),
      htmlPath,
      markdownPath,
      emailStatus: "skipped",
      tasks: document.tasks.length,
    });
    logger.info(
      { reason: smtpUrl ? "no recipients (RIGHTSIZE_EMAIL_TO)" : "no SMTP server (SMTP_URL)" },
      "report email skipped",
    );
    return { ...files, email: "skipped", reportRunId };
  }

  const sent = await sentEarlier(db, { deliveryKey, channel: "email" });
  if (sent) {
    logger.info(
      { deliveryKey, reportRunId: sent.reportRunId },
      "report email already sent by an earlier attempt: not sent again",
    );
    return { ...files, email: "already-sent", reportRunId: sent.reportRunId };
  }
  const reportRunId = await insertReportRun(db, {
    windowEnd: windowEndOf(document),
    htmlPath,
    markdownPath,
    emailStatus: "pending",
    tasks: document.tasks.length,
  });
  const delivery: Delivery = { deliveryKey, channel: "email", reportRunId };
  let messageId: string;
  try {
    const content = renderEmail(document, render);
    messageId = await sendReportEmail({ smtpUrl, from, to }, content, [
      { filename: `${base}.html`, content: html, contentType: "text/html; charset=utf-8" },
    ]);
  } catch (thrown) {
    const error = coerceError(thrown);
    await updateReportRun(db, reportRunId, { emailStatus: "failed", emailError: describeError(error) });
    await recordFailed(db, delivery, describeError(error), logger);
    logger.error({ err: error, reportRunId, htmlPath }, "report email failed; the report is kept on disk");
    throw error;
  }
  // Recorded before anything else can fail: a retry of this publish then finds it sent.
  await recordSent(db, delivery, (tx) =>
    updateReportRun(tx, reportRunId, { emailStatus: "sent", emailError: null }),
  );
  logger.info({ to, messageId, reportRunId }, "report email sent");
  return { ...files, email: "sent", reportRunId };
}
