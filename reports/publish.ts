/**
 * The nightly publish step: render the analysis, write the files, record the run, then email it. The
 * files and the report_runs row come first so a failed email never loses the report; a failed email
 * throws after recording, so the BullMQ job that called this retries.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import { insertReportRun, updateReportRun } from "../db/queries/report-runs.js";
import { exportAnalysisMetrics } from "./analysis-metrics.js";
import { sendReportEmail } from "./email.js";
import { type RenderOptions, renderEmail, renderHtmlReport, renderMarkdownReport } from "./render.js";

export interface PublishResult {
  htmlPath: string;
  markdownPath: string;
  email: "sent" | "skipped" | "failed";
  reportRunId: number;
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

export async function publishAnalysis(options: {
  db: Db;
  document: AnalysisDocument;
  config: Config;
  logger: Logger;
  render?: RenderOptions;
}): Promise<PublishResult> {
  const { db, document, config, logger } = options;
  const outDir = resolve(config.reports.outDir);
  const base = reportBaseName(document);
  const html = renderHtmlReport(document, options.render);
  const markdown = renderMarkdownReport(document, options.render);
  mkdirSync(outDir, { recursive: true });
  const htmlPath = join(outDir, `${base}.html`);
  const markdownPath = join(outDir, `${base}.md`);
  writeReportFile(htmlPath, html);
  writeReportFile(markdownPath, markdown);
  logger.info({ htmlPath, markdownPath, tasks: document.tasks.length }, "report written");
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
    return { htmlPath, markdownPath, email: "skipped", reportRunId };
  }

  const reportRunId = await insertReportRun(db, {
    windowEnd: windowEndOf(document),
    htmlPath,
    markdownPath,
    emailStatus: "pending",
    tasks: document.tasks.length,
  });
  try {
    const content = renderEmail(document, options.render);
    const messageId = await sendReportEmail({ smtpUrl, from, to }, content, [
      { filename: `${base}.html`, content: html, contentType: "text/html; charset=utf-8" },
    ]);
    await updateReportRun(db, reportRunId, { emailStatus: "sent", emailError: null });
    logger.info({ to, messageId, reportRunId }, "report email sent");
    return { htmlPath, markdownPath, email: "sent", reportRunId };
  } catch (thrown) {
    const error = coerceError(thrown);
    await updateReportRun(db, reportRunId, { emailStatus: "failed", emailError: describeError(error) });
    logger.error({ err: error, reportRunId, htmlPath }, "report email failed; the report is kept on disk");
    throw error;
  }
}
