/** Mail delivery of the nightly report over SMTP (nodemailer). The only I/O of the email path. */
import nodemailer from "nodemailer";
import type { EmailContent } from "./render.js";

/** The SMTP server refused or could not be reached; the job that sent it should retry. */
export class EmailDeliveryError extends Error {
  override name = "EmailDeliveryError";
}

export interface EmailSettings {
  smtpUrl: string;
  from: string;
  to: string[];
}

export interface Attachment {
  filename: string;
  content: string;
  contentType: string;
}

/**
 * Seconds to wait for the SMTP server to answer before the attempt fails: well under BullMQ's default
 * lock duration (30 s) so a hung server fails the job instead of stalling it.
 */
const smtpTimeoutMs = 15_000;

/** Sends one message with HTML and text parts and the attachments; resolves with the server's message id. */
export async function sendReportEmail(
  settings: EmailSettings,
  content: EmailContent,
  attachments: Attachment[],
): Promise<string> {
  const transport = nodemailer.createTransport({
    url: settings.smtpUrl,
    connectionTimeout: smtpTimeoutMs,
    greetingTimeout: smtpTimeoutMs,
    socketTimeout: smtpTimeoutMs,
  } as nodemailer.TransportOptions);
  try {
    const info = await transport.sendMail({
      from: settings.from,
      to: settings.to,
      subject: content.subject,
      html: content.html,
      text: content.text,
      attachments,
    });
    return String(info.messageId ?? "");
  } catch (error) {
    const where = settings.smtpUrl.replace(/\/\/[^@/]*@/, "//");
    throw new EmailDeliveryError(`cannot send the report email via ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    transport.close();
  }
}
