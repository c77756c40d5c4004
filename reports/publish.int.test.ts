/**
 * The nightly publish step against real parts: a real SMTP server on loopback (smtp-server), a real
 * database on both engines, and a real BullMQ queue on Redis for the retry. Checks that the message is
 * one valid MIME message with text, HTML and the report attached, and that a failed send keeps the
 * report on disk, records the failure, and succeeds on the job's retry; and that a job retried after the
 * sends sends neither the email nor the Slack message again (one delivery record for both).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { getDelivery } from "../db/queries/report-deliveries.js";
import { latestReportRun, listReportRuns } from "../db/queries/report-runs.js";
import { engines, type TestDatabase } from "../test-support/databases.js";
import { mediaType, parseMime } from "../test-support/mime.js";
import { redisUrl } from "../test-support/services.js";
import { EmailDeliveryError } from "./email.js";
import { publishAnalysis } from "./publish.js";
import { hostileName, sampleAnalysis } from "../test-support/report-fixtures.js";
import { fleetDocumentSchema } from "../common/fleet-document.js";
import { sampleFleet } from "../test-support/fleet-fixtures.js";

interface Mailbox {
  server: SMTPServer;
  messages: Array<{ from: string; to: string[]; raw: string }>;
  close(): Promise<void>;
}

function startSmtpServer(port: number): Promise<Mailbox> {
  const messages: Mailbox["messages"] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () =>
      resolve({ server, messages, close: () => new Promise((done) => server.close(() => done())) }),
    );
  });
}

/** A loopback port nothing listens on (taken from the kernel, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function testConfig(env: Record<string, string>): Config {
  return loadConfig({
    env: { RIGHTSIZE_REPORTS_DIR: mkdtempSync(join(tmpdir(), "rightsize-reports-")), ...env },
  });
}

describe.each(engines)("publishAnalysis on $name", ({ create }) => {
  let database: TestDatabase;
  let mailbox: Mailbox;
  let port: number;

  beforeAll(async () => {
    database = await create();
    port = await freePort();
    mailbox = await startSmtpServer(port);
  });

  afterAll(async () => {
    await mailbox?.close();
    await database?.drop();
  });

  it("writes both files, records the run and sends one MIME message with text, HTML and the report", async () => {
    const config = testConfig({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      RIGHTSIZE_EMAIL_FROM: "rightsize@example.test",
      RIGHTSIZE_EMAIL_TO: "data-team@example.test, oncall@example.test",
    });
    const result = await publishAnalysis({
      db: database.handle.db,
      document: sampleAnalysis(),
      config,
      logger: silentLogger,
    });
    expect(result.email).toBe("sent");
    expect(result.htmlPath).toBe(join(config.reports.outDir, "rightsize-2026-11-21.html"));
    // Written whole through a temp file and a rename: nothing else is left in the folder.
    expect(readdirSync(config.reports.outDir).sort()).toEqual([
      "rightsize-2026-11-21.html",
      "rightsize-2026-11-21.md",
    ]);
    const html = readFileSync(result.htmlPath, "utf8");
    expect(html).toContain("<b>$1,323</b>monthly savings");
    expect(readFileSync(result.markdownPath, "utf8")).toContain("| $1,323 | 2 | 1 | 1 | 2 |");

    const run = await latestReportRun(database.handle.db);
    expect(run).toMatchObject({
      id: result.reportRunId,
      emailStatus: "sent",
      emailError: null,
      tasks: 5,
      htmlPath: result.htmlPath,
      markdownPath: result.markdownPath,
    });
    expect(run?.windowEnd.toISOString()).toBe("2026-11-21T02:00:00.000Z");

    expect(mailbox.messages).toHaveLength(1);
    const [message] = mailbox.messages;
    expect(message?.from).toBe("rightsize@example.test");
    expect(message?.to).toEqual(["data-team@example.test", "oncall@example.test"]);
    const mime = parseMime(message!.raw);
    expect(mime.headers.get("mime-version")).toBe("1.0");
    expect(mime.headers.get("subject")).toBe(
      "rightsize: $1,323/month to save · 2 over-provisioned · 1 under-provisioned · 1 at OOM risk · 2 regressed",
    );
    expect(mediaType(mime)).toBe("multipart/mixed");
    expect(mime.parts.map(mediaType)).toEqual(["multipart/alternative", "text/html"]);
    const [alternative, attachment] = mime.parts;
    expect(alternative!.parts.map(mediaType)).toEqual(["text/plain", "text/html"]);
    const [text, body] = alternative!.parts;
    expect(text!.body).toContain("Monthly savings:    $1,323");
    expect(text!.body).toContain(hostileName);
    expect(body!.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(body!.body).not.toMatch(/<svg|<script/);
    expect(attachment!.headers.get("content-disposition")).toMatch(
      /^attachment; filename="?rightsize-2026-11-21\.html"?$/,
    );
    expect(attachment!.body).toBe(html);
  });

  it("skips the email with no recipients, and still writes and records", async () => {
    const config = testConfig({ SMTP_URL: `smtp://127.0.0.1:${port}` });
    const before = mailbox.messages.length;
    const result = await publishAnalysis({
      db: database.handle.db,
      document: sampleAnalysis(),
      config,
      logger: silentLogger,
      render: { fleet: sampleFleet() },
    });
    expect(result.email).toBe("skipped");
    expect(existsSync(result.htmlPath) && existsSync(result.markdownPath)).toBe(true);
    // The night's fleet document lies beside its reports, valid against its contract.
    expect(result.fleetPath).toBe(result.htmlPath.replace(/\.html$/, ".fleet.json"));
    const fleet = fleetDocumentSchema.parse(JSON.parse(readFileSync(result.fleetPath!, "utf8")));
    expect(fleet.costOverTime.growers.length).toBeGreaterThan(0);
    expect((await latestReportRun(database.handle.db))?.emailStatus).toBe("skipped");
    expect(mailbox.messages.length).toBe(before);
  });

  it("with the SMTP server down: throws, keeps the report and records the failure", async () => {
    const config = testConfig({
      SMTP_URL: `smtp://127.0.0.1:${await freePort()}`,
      RIGHTSIZE_EMAIL_TO: "a@example.test",
    });
    const error = await publishAnalysis({
      db: database.handle.db,
      document: sampleAnalysis(),
      config,
      logger: silentLogger,
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(EmailDeliveryError);
    expect((error as Error).message).toMatch(/cannot send the report email via smtp:\/\/127\.0\.0\.1:\d+/);
    const htmlPath = join(config.reports.outDir, "rightsize-2026-11-21.html");
    expect(readFileSync(htmlPath, "utf8")).toContain("monthly savings");
    expect(existsSync(join(config.reports.outDir, "rightsize-2026-11-21.md"))).toBe(true);
    const run = await latestReportRun(database.handle.db);
    expect(run?.emailStatus).toBe("failed");
    expect(run?.htmlPath).toBe(htmlPath);
    expect(run?.emailError).toMatch(/ECONNREFUSED/);
  });
});

describe("publish as a BullMQ job", () => {
  it("fails while the SMTP server is down, and the retry sends once it is up", async () => {
    const [{ create }] = engines;
    const database = await create();
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const prefix = `rightsize-test-${randomBytes(6).toString("hex")}`;
    const port = await freePort();
    const config = testConfig({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      RIGHTSIZE_EMAIL_TO: "team@example.test",
    });
    let mailbox: Mailbox | undefined;
    const queue = new Queue("publish", { connection, prefix });
    const events = new QueueEvents("publish", { connection: connection.duplicate(), prefix });
    const worker = new Worker(
      "publish",
      async () =>
        publishAnalysis({ db: database.handle.db, document: sampleAnalysis(), config, logger: silentLogger }),
      { connection: connection.duplicate(), prefix },
    );
    const failures: string[] = [];
    worker.on("failed", (_job, error) => {
      failures.push(error.message);
      // The server comes back between the attempts, as after an SMTP outage.
      if (!mailbox) void startSmtpServer(port).then((started) => (mailbox = started));
    });
    try {
      await events.waitUntilReady();
      const job = await queue.add("publish", {}, { attempts: 3, backoff: { type: "fixed", delay: 500 } });
      const result = await job.waitUntilFinished(events, 30_000);
      expect(result).toMatchObject({ email: "sent" });
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/cannot send the report email/);
      expect(mailbox?.messages).toHaveLength(1);
      const runs = (await listReportRuns(database.handle.db)).reverse();
      expect(runs.map((run) => run.emailStatus)).toEqual(["failed", "sent"]);
      expect(existsSync(runs[0]!.htmlPath!)).toBe(true);
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await connection.quit();
      await mailbox?.close();
      await database.drop();
    }
  });

  it("a retry after a successful send sends neither the email nor the Slack message again", async () => {
    const [{ create }] = engines;
    const database = await create();
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const prefix = `rightsize-test-${randomBytes(6).toString("hex")}`;
    const port = await freePort();
    const mailbox = await startSmtpServer(port);
    // A Slack incoming-webhook stand-in that takes every post.
    let posts = 0;
    const webhook = createHttpServer((request, response) => {
      request.resume().on("end", () => {
        posts++;
        response.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    const webhookPort = (webhook.address() as { port: number }).port;
    const config = testConfig({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      RIGHTSIZE_EMAIL_TO: "team@example.test",
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/services/T0/B0/x`,
    });
    const queue = new Queue("publish", { connection, prefix });
    const events = new QueueEvents("publish", { connection: connection.duplicate(), prefix });
    let attempts = 0;
    const worker = new Worker(
      "publish",
      async () => {
        attempts++;
        const result = await publishAnalysis({
          db: database.handle.db,
          document: sampleAnalysis(),
          config,
          logger: silentLogger,
          deliveryKey: "night-2026-11-21T02:00:00.000Z",
        });
        // Something after the send fails on the first attempt (the job's completion lost with Redis).
        if (attempts === 1) throw new Error("lost after the send");
        return result;
      },
      { connection: connection.duplicate(), prefix },
    );
    try {
      await events.waitUntilReady();
      const job = await queue.add("publish", {}, { attempts: 3, backoff: { type: "fixed", delay: 500 } });
      const result = await job.waitUntilFinished(events, 30_000);
      expect(attempts).toBe(2);
      expect(result).toMatchObject({ email: "already-sent", slack: "already-sent" });
      expect(mailbox.messages).toHaveLength(1);
      expect(posts).toBe(1);
      const runs = await listReportRuns(database.handle.db);
      expect(runs.map((run) => run.emailStatus)).toEqual(["sent"]);
      expect(result.reportRunId).toBe(runs[0]!.id);
      // One record serves both channels, each sent once by the first attempt.
      const key = "night-2026-11-21T02:00:00.000Z";
      expect(await getDelivery(database.handle.db, key, "email")).toMatchObject({
        status: "sent",
        attempts: 1,
        reportRunId: runs[0]!.id,
      });
      expect(await getDelivery(database.handle.db, key, "slack")).toMatchObject({
        status: "sent",
        attempts: 1,
        reportRunId: null,
      });
      // Another night is another delivery: it is sent.
      const next = await publishAnalysis({
        db: database.handle.db,
        document: sampleAnalysis(),
        config,
        logger: silentLogger,
        deliveryKey: "night-2026-11-22T02:00:00.000Z",
      });
      expect(next).toMatchObject({ email: "sent", slack: "sent" });
      expect(mailbox.messages).toHaveLength(2);
      expect(posts).toBe(2);
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await connection.quit();
      await mailbox.close();
      await new Promise((done) => webhook.close(done));
      await database.drop();
    }
  });
});
