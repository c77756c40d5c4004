/**
 * The email through the real delivery path (sendReportEmail, nodemailer) to a real SMTP server on loopback
 * (smtp-server). Its headers cannot be split by a name: a subject with CR/LF and header-shaped text arrives
 * as one Subject header, with no injected header and only the configured recipients. Its link to the
 * night's HTML report (reports.baseUrl) is in both parts, is absent without a base URL, and a hostile file
 * name stays inside it.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { type MimePart, mediaType, parseMime } from "../test-support/mime.js";
import { sendReportEmail } from "./email.js";
import { publishAnalysis } from "./publish.js";
import { renderEmail } from "./render.js";
import { reportUrlOf } from "./report-url.js";
import { sampleAnalysis } from "../test-support/report-fixtures.js";

let server: SMTPServer;
let port: number;
const received: Array<{ to: string[]; raw: string }> = [];

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        received.push({
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  port = (server.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The header block of a raw message, unfolded (RFC 5322 §2.2.3: a line starting with blank continues). */
function headers(raw: string): string[] {
  const block = raw.slice(0, raw.indexOf("\r\n\r\n"));
  return block.replace(/\r\n[ \t]+/g, " ").split("\r\n");
}

describe("email headers", () => {
  it.each([
    "etl\r\nBcc: attacker@evil.example\r\nX-Injected: yes",
    "etl\nBcc: attacker@evil.example",
    "etl\rX-Injected: yes",
    "etl\r\n\r\n<html>body injected</html>",
    "::error::x ![x](http://evil.example) @org/team #123",
  ])("a subject naming %j stays one Subject header", async (name) => {
    const before = received.length;
    await sendReportEmail(
      { smtpUrl: `smtp://127.0.0.1:${port}`, from: "rightsize@example.com", to: ["ops@example.com"] },
      { subject: `rightsize: ${name} regressed`, html: `<p>${name}</p>`, text: name },
      [],
    );
    expect(received).toHaveLength(before + 1);
    const message = received.at(-1)!;
    expect(message.to).toEqual(["ops@example.com"]);
    const lines = headers(message.raw);
    expect(lines.filter((line) => /^subject:/i.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /^(bcc|x-injected):/i.test(line))).toEqual([]);
    expect(lines.filter((line) => /^to:/i.test(line))).toEqual(["To: ops@example.com"]);
  });
});

/** The text and HTML bodies of a received report email (multipart/alternative inside multipart/mixed). */
function bodiesOf(raw: string): { text: string; html: string } {
  const find = (part: MimePart, type: string): MimePart | undefined =>
    mediaType(part) === type ? part : part.parts.map((child) => find(child, type)).find(Boolean);
  const mime = parseMime(raw);
  const alternative = find(mime, "multipart/alternative");
  const [text, html] = alternative?.parts ?? [];
  expect(alternative?.parts.map(mediaType)).toEqual(["text/plain", "text/html"]);
  return { text: text!.body, html: html!.body };
}

/** Every `href` of the HTML part, with Handlebars' attribute escapes undone. */
function hrefsOf(html: string): string[] {
  const entities: Record<string, string> = { amp: "&", quot: '"', "#x27": "'", "#x3D": "=", "#x60": "`" };
  return [...html.matchAll(/<a\b[^>]*?\bhref="([^"]*)"/g)].map((match) =>
    match[1]!.replace(/&(amp|quot|#x27|#x3D|#x60);/g, (_, name: string) => entities[name]!),
  );
}

describe("the report link", () => {
  let database: TestDatabase;
  const base = "https://reports.example.test/rightsize";

  beforeAll(async () => {
    database = await createPostgresTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  async function publishWith(
    env: Record<string, string>,
  ): Promise<{ text: string; html: string; markdown: string }> {
    const config = loadConfig({
      env: {
        RIGHTSIZE_REPORTS_DIR: mkdtempSync(join(tmpdir(), "rightsize-reports-")),
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        RIGHTSIZE_EMAIL_TO: "ops@example.com",
        ...env,
      },
    });
    const before = received.length;
    const result = await publishAnalysis({
      db: database.handle.db,
      document: sampleAnalysis(),
      config,
      logger: silentLogger,
    });
    expect(result.email).toBe("sent");
    expect(received).toHaveLength(before + 1);
    return { ...bodiesOf(received.at(-1)!.raw), markdown: readFileSync(result.markdownPath, "utf8") };
  }

  it("the nightly publish links the night's HTML report under reports.baseUrl in both parts and the Markdown", async () => {
    const { text, html, markdown } = await publishWith({ RIGHTSIZE_REPORTS_BASE_URL: base });
    const url = `${base}/rightsize-2026-11-21.html`;
    expect(text.split(/\r?\n/)).toContain(`Open the full report: ${url}`);
    expect(hrefsOf(html)).toEqual([url, url]);
    expect(html).toMatch(/<a href="[^"]+"[^>]*>Open the full report<\/a>/);
    expect(markdown).toContain(`[Open the full report](${url})`);
  });

  it("without reports.baseUrl neither part nor the Markdown has a link or a placeholder", async () => {
    const { text, html, markdown } = await publishWith({});
    for (const body of [text, html, markdown]) {
      expect(body).not.toMatch(/Open the full report|online|undefined|null|https?:\/\//);
    }
    expect(hrefsOf(html)).toEqual([]);
  });

  it.each([
    `x"><img src=x onerror=alert(1)>.html`,
    "a b\r\nBcc: attacker@evil.example\n.html",
    "../../../etc/passwd",
    "&amp;'`=?#frag|<>.html",
  ])("a hostile file name %j stays one link to one file under the base in both parts", async (fileName) => {
    const reportUrl = reportUrlOf(`${base}/`, fileName)!;
    expect(decodeURIComponent(reportUrl.slice(`${base}/`.length))).toBe(fileName);
    const before = received.length;
    await sendReportEmail(
      { smtpUrl: `smtp://127.0.0.1:${port}`, from: "rightsize@example.com", to: ["ops@example.com"] },
      renderEmail(sampleAnalysis(), { reportUrl }),
      [],
    );
    expect(received).toHaveLength(before + 1);
    const { text, html } = bodiesOf(received.at(-1)!.raw);
    expect(hrefsOf(html)).toEqual([reportUrl, reportUrl]);
    expect(html).not.toMatch(/<img|onerror=/i);
    const lines = text.split(/\r?\n/).filter((line) => line.includes(base));
    expect(lines).toEqual([`Open the full report: ${reportUrl}`]);
    expect(headers(received.at(-1)!.raw).filter((line) => /^bcc:/i.test(line))).toEqual([]);
  });
});
