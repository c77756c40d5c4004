/**
 * The nightly summary as a Slack message, posted to an incoming webhook: a Block Kit message with the
 * headline, the worst tasks and, where `reports.baseUrl` is set, a link to the night's HTML report.
 *
 * Delivery follows the email's once-only rule (reports/delivery-record.ts): the post is recorded in
 * report_deliveries the moment Slack accepts it, before anything else can fail, and an attempt that finds
 * its delivery key already sent does not post again. A failure Slack may get over (no answer, 429, 5xx) throws, so the
 * publish job retries; one it will not (4xx: the webhook was revoked, the channel archived, the payload
 * refused) is recorded and logged, and does not hold the night's job in retries.
 *
 * The webhook URL is the secret that lets anyone post: it is never logged; messages name its host only.
 */
import type { FleetDocument } from "../common/fleet-document.js";
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import { type Delivery, recordFailed, recordSent, sentEarlier } from "./delivery-record.js";
import { formatBytes, formatCores, formatInstant, formatUsd } from "./format.js";
import { reportUrlOf } from "./report-url.js";
import { headlineOf, verdictOf } from "./summary.js";
import { buildReportView } from "./view-model.js";

/** Slack did not take the message but may later (network, 429, 5xx): the publish job should retry. */
export class SlackDeliveryError extends Error {
  override name = "SlackDeliveryError";
}

/**
 * Escapes text for Slack's mrkdwn: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`, "the three
 * characters you must convert to HTML entities and only three" (Slack, "Formatting text for app surfaces
 * — Escaping text", https://docs.slack.dev/messaging/formatting-message-text#escaping-text). With `<`
 * escaped no name can open a link, a user or channel mention or `<!here>`.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A name as inline code: formatting marks inside code are not applied (so `load_orders_daily` does not turn
 * italic), a backtick in the name would end the code early and becomes a straight quote, line breaks
 * become spaces, and a name longer than {@link nameLimit} is cut (before escaping, so no entity is cut).
 */
export function slackName(text: string): string {
  const flat = text.replace(/[\r\n\u2028\u2029]+/g, " ").replace(/`/g, "'");
  const cut = flat.length > nameLimit ? `${flat.slice(0, nameLimit - 1)}…` : flat;
  return `\`${escapeSlack(cut)}\``;
}

/** Characters of a task name shown; Slack caps a section's text at 3,000 (Block Kit reference, section block). */
const nameLimit = 80;
/** Tasks listed: the message is a nudge to open the report, not the report. */
export const slackMaxTasks = 5;

export interface SlackMessage {
  /** Notification and fallback text (Slack shows it where blocks cannot be shown). */
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** Growers listed in the message: the biggest few, each cut to fit a section's 3,000 characters. */
const slackGrowersShown = 3;
const growerLimit = 400;

/** The biggest cost growers' sentences (docs/fleet.md), on one line each, escaped and cut. */
function slackGrowers(fleet: FleetDocument | undefined): string[] {
  if (!fleet) return [];
  return fleet.costOverTime.growers
    .filter((growth) => growth.weeklyIncreaseUsd > 0)
    .slice(0, slackGrowersShown)
    .map((growth) => {
      const flat = growth.sentence.replace(/[\r\n\u2028\u2029]+/g, " ");
      return `• ${escapeSlack(flat.length > growerLimit ? `${flat.slice(0, growerLimit - 1)}…` : flat)}`;
    });
}

/**
 * Characters of a backtest sentence shown (a full one is about 210): five lines, each with a name of 80
 * characters that escaping can make 320, stay under a section's 3,000.
 */
const backtestLimit = 250;

/**
 * One line per listed task with a backtest: what its recommendation would have done to its past runs, as
 * the Markdown report's "Replayed on past runs" says it.
 */
function slackBacktests(view: ReturnType<typeof buildReportView>): string[] {
  return view.backtests.map(({ task, backtestSentence, backtestRisk }) => {
    const text = `${backtestSentence!}${backtestRisk ? " (OOM risk: no memory cut is proposed)" : ""}`;
    const cut = text.length > backtestLimit ? `${text.slice(0, backtestLimit - 1)}…` : text;
    return `• ${slackName(`${task.pipeline} / ${task.task}`)} ${escapeSlack(cut)}`;
  });
}

/** The night's Block Kit message: headline, the worst tasks, the report link where one is known. */
export function slackMessage(
  document: AnalysisDocument,
  options: { reportUrl?: string | null; maxTasks?: number; fleet?: FleetDocument } = {},
): SlackMessage {
  const headline = headlineOf(document);
  const view = buildReportView(
    document,
    {},
    { cores: formatCores, bytes: formatBytes },
    options.maxTasks ?? slackMaxTasks,
  );
  const title = `rightsize: ${formatUsd(headline.monthlySavingsUsd)}/month to save`;
  const window = `${document.windowDays}-day window${document.windowEnd ? ` ending ${formatInstant(document.windowEnd)}` : ""}`;
  const counts = [
    `${headline.overProvisioned} over-provisioned`,
    `${headline.underProvisioned} under-provisioned`,
    `${headline.oomRisk} at OOM risk`,
    `${headline.regressions} regressed`,
  ].join(" · ");
  const causes = new Map(view.regressionCauses.map((entry) => [entry.task.task, entry.cause]));
  const lines = view.ranked.map(({ task }) => {
    const verdict = verdictOf(task);
    const saving = task.recommendation.monthlySavingsUsd;
    const parts = [
      `*${task.recommendation.severity}*`,
      saving === null
        ? "saving unknown"
        : saving < 0
          ? `costs ${formatUsd(-saving)}/month more`
          : `saves ${formatUsd(saving)}/month`,
      `CPU ${formatCores(task.cpu.requestCores)} → ${formatCores(task.recommendation.cpuCores)}`,
      `memory ${formatBytes(task.memory.requestBytes)} → ${formatBytes(task.recommendation.memoryBytes)}`,
      ...(verdict.oomRisk ? ["OOM risk"] : []),
      ...(verdict.regressed
        ? [
            causes.has(task)
              ? `regressed: ${escapeSlack(causes.get(task)!.replace(/[\r\n\u2028\u2029]+/g, " "))}`
              : "regressed",
          ]
        : []),
    ];
    return `• ${slackName(`${task.pipeline} / ${task.task}`)} ${parts.join(" · ")}`;
  });
  const blocks: Array<Record<string, unknown>> = [
    // Header text is plain_text: nothing in it is parsed; it holds numbers only.
    { type: "header", text: { type: "plain_text", text: title, emoji: false } },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${headline.tasks} tasks in ${headline.pipelines} pipelines · ${escapeSlack(window)}\n${counts}`,
      },
    },
  ];
  if (lines.length > 0) {
    const more = view.omitted > 0 ? `\n…and ${view.omitted} more in the report` : "";
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `*Worst tasks*\n${lines.join("\n")}${more}` },
    });
  } else {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: "No tasks were analyzed in this window." },
    });
  }
  const backtests = slackBacktests(view);
  if (backtests.length > 0) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `*Replayed on past runs*\n${backtests.join("\n")}` },
    });
  }
  const growers = slackGrowers(options.fleet);
  if (growers.length > 0) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `*Biggest cost growers*\n${growers.join("\n")}` },
    });
  }
  if (options.reportUrl) {
    // `<url|text>` is Slack's link syntax; the URL is percent-encoded (reportUrlOf), so it holds no `|` or `>`.
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: `<${escapeSlack(options.reportUrl)}|Open the full report>` }],
    });
  }
  return { text: `${title} · ${counts}`, blocks };
}

/**
 * Seconds to wait for Slack: the SMTP timeout's 15 s (reports/email.ts), well under BullMQ's 30 s lock, so
 * a hung endpoint fails the attempt instead of stalling the job.
 */
const postTimeoutMs = 15_000;

function hostOf(webhookUrl: string): string {
  try {
    return new URL(webhookUrl).host;
  } catch {
    return "an invalid URL";
  }
}

/** A 4xx other than 429 will not change on retry (Slack's incoming-webhook errors: invalid_payload, no_service, channel_is_archived, action_prohibited…). */
function isPermanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 429;
}

/** Posts one message; resolves when Slack answered 200. */
export async function postSlackMessage(
  webhookUrl: string,
  message: SlackMessage,
): Promise<{ ok: true } | { ok: false; permanent: boolean; error: string }> {
  const where = hostOf(webhookUrl);
  let response: Response;
  try {
    response = await fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(postTimeoutMs),
      redirect: "error",
    });
  } catch (thrown) {
    // The cause may carry the URL; keep only its message's first line and name the host.
    const error = coerceError(thrown);
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    const reason = `${error.message.split("\n")[0]!.replace(webhookUrl, where)}${typeof code === "string" ? ` (${code})` : ""}`;
    return { ok: false, permanent: false, error: `Slack webhook at ${where} did not answer: ${reason}` };
  }
  const body = (await response.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ").trim();
  if (response.ok) return { ok: true };
  return {
    ok: false,
    permanent: isPermanent(response.status),
    error: `Slack webhook at ${where} answered ${response.status}${body ? `: ${body}` : ""}`,
  };
}

export type SlackResult = "sent" | "skipped" | "already-sent" | "failed";

/**
 * Posts the night's summary to `slack.webhookUrl` once per delivery key. Throws
 * {@link SlackDeliveryError} when a retry may succeed, DeliveryRecordError (reports/delivery-record.ts)
 * when the post went out but could not be recorded; returns `failed` when Slack refused it for good.
 */
export async function deliverSlackSummary(options: {
  db: Db;
  document: AnalysisDocument;
  config: Pick<Config, "slack" | "reports">;
  logger: Logger;
  deliveryKey: string;
  /** The HTML report's file name, linked under `reports.baseUrl`. */
  htmlFileName: string;
  /** The fleet sections' document, whose biggest growers the message lists. */
  render?: { fleet?: FleetDocument };
}): Promise<SlackResult> {
  const { db, document, config, logger, deliveryKey } = options;
  const webhookUrl = config.slack.webhookUrl;
  if (!webhookUrl) return "skipped";
  const delivery: Delivery = { deliveryKey, channel: "slack" };
  if (await sentEarlier(db, delivery)) {
    logger.info({ deliveryKey }, "Slack message already posted by an earlier attempt: not posted again");
    return "already-sent";
  }
  const message = slackMessage(document, {
    reportUrl: reportUrlOf(config.reports.baseUrl, options.htmlFileName),
    fleet: options.render?.fleet,
  });
  const outcome = await postSlackMessage(webhookUrl, message);
  if (outcome.ok) {
    // Recorded before anything else can fail: a retry of the publish then finds it posted.
    await recordSent(db, delivery);
    logger.info({ deliveryKey, host: hostOf(webhookUrl) }, "Slack message posted");
    return "sent";
  }
  await recordFailed(db, delivery, outcome.error, logger);
  if (outcome.permanent) {
    logger.error({ deliveryKey, error: outcome.error }, "Slack refused the message; not retried");
    return "failed";
  }
  throw new SlackDeliveryError(outcome.error);
}
