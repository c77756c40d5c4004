/**
 * The email's headers cannot be split by a name: a subject with CR/LF and header-shaped text goes through
 * the real delivery path (sendReportEmail, nodemailer) to a real SMTP server on loopback (smtp-server), and
 * the received message has one Subject header, no injected header and only the configured recipients.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendReportEmail } from "./email.js";

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
