/**
 * The Slack message against a real HTTP server on loopback standing in for the incoming webhook: it
 * records each request and answers as told. Checks the Block Kit payload, that a retried publish posts
 * once, that a refused message is recorded without a retry, and that the webhook's secret path never
 * reaches a log line or an error.
 */
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../common/config.js";
import { getDelivery } from "../db/queries/report-deliveries.js";
import { engines, type TestDatabase } from "../test-support/databases.js";
import { publishAnalysis } from "./publish.js";
import { SlackDeliveryError } from "./slack.js";
import { sampleAnalysis } from "../test-support/report-fixtures.js";

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook stand-in: answers each request with the next of `answers` (the last one repeats). */
async function startWebhook(): Promise<{
  requests: RecordedRequest[];
  answers: Array<{ status: number; body: string }>;
  url: (path: string) => string;
  close(): Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const answers = [{ status: 200, body: "ok" }];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      response.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    answers,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A logger that keeps every line, to check what was logged. */
function recordingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { logger: pino({ level: "trace" }, stream), lines };
}

const secret = "T000/B000/XXXXsecretXXXX";

function testConfig(webhookUrl: string): Config {
  return loadConfig({
    env: {
      RIGHTSIZE_REPORTS_DIR: mkdtempSync(join(tmpdir(), "rightsize-reports-")),
      SLACK_WEBHOOK_URL: webhookUrl,
      RIGHTSIZE_REPORTS_BASE_URL: "https://reports.example.test/nightly",
    },
  });
}

describe.each(engines)("Slack delivery on $name", ({ create }) => {
  let database: TestDatabase;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  beforeAll(async () => {
    database = await create();
    webhook = await startWebhook();
  });
  afterAll(async () => {
    await webhook?.close();
    await database?.drop();
  });

  it("posts one Block Kit message, and a retried publish does not post it again", async () => {
    webhook.requests.length = 0;
    const config = testConfig(webhook.url(`/services/${secret}`));
    const { logger, lines } = recordingLogger();
    const publish = () =>
      publishAnalysis({
        db: database.handle.db,
        document: sampleAnalysis(),
        config,
        logger,
        deliveryKey: "night-a",
      });

    const first = await publish();
    expect(first.slack).toBe("sent");
    expect(webhook.requests).toHaveLength(1);
    const [request] = webhook.requests;
    expect(request).toMatchObject({ method: "POST", url: `/services/${secret}` });
    expect(request!.headers["content-type"]).toBe("application/json; charset=utf-8");
    const payload = JSON.parse(request!.body) as { text: string; blocks: Array<Record<string, any>> };
    expect(payload.text).toMatch(/^rightsize: \$1,323\/month to save · 2 over-provisioned/);
    expect(payload.blocks.map((block) => block.type)).toEqual(["header", "section", "section", "context"]);
    expect(payload.blocks[0]!.text).toEqual({
      type: "plain_text",
      text: "rightsize: $1,323/month to save",
      emoji: false,
    });
    const worst = payload.blocks[2]!.text.text as string;
    expect(worst.split("\n")[0]).toBe("*Worst tasks*");
    expect(worst.split("\n")).toHaveLength(6);
    // The fixture's hostile task name arrives escaped: it cannot open a link or a mention.
    expect(worst).toContain("`etl_daily / &lt;script&gt;alert(1)&lt;/script&gt;`");
    expect(worst).not.toMatch(/<(?!\/)/);
    expect(payload.blocks[3]!.elements[0].text).toBe(
      "<https://reports.example.test/nightly/rightsize-2026-11-21.html|Open the full report>",
    );
    expect((await getDelivery(database.handle.db, "night-a", "slack"))?.status).toBe("sent");

    // The nightly job retried (its email failed after Slack, say): Slack is not posted twice.
    const again = await publish();
    expect(again.slack).toBe("already-sent");
    expect(webhook.requests).toHaveLength(1);
    expect(lines.join("")).not.toContain(secret);
  });

  it("throws on a 5xx so the job retries, and the retry posts", async () => {
    webhook.requests.length = 0;
    webhook.answers.splice(
      0,
      webhook.answers.length,
      { status: 503, body: "busy" },
      { status: 200, body: "ok" },
    );
    const config = testConfig(webhook.url(`/services/${secret}`));
    const { logger, lines } = recordingLogger();
    const publish = () =>
      publishAnalysis({
        db: database.handle.db,
        document: sampleAnalysis(),
        config,
        logger,
        deliveryKey: "night-b",
      });
    const error = await publish().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect((error as Error).message).toMatch(/^Slack webhook at 127\.0\.0\.1:\d+ answered 503: busy$/);
    expect(await getDelivery(database.handle.db, "night-b", "slack")).toMatchObject({ status: "failed" });

    expect((await publish()).slack).toBe("sent");
    expect(webhook.requests).toHaveLength(2);
    expect(await getDelivery(database.handle.db, "night-b", "slack")).toMatchObject({
      status: "sent",
      error: null,
      attempts: 2,
    });
    expect(lines.join("")).not.toContain(secret);
  });

  it("records a refused message (4xx) and does not hold the job in retries", async () => {
    webhook.requests.length = 0;
    webhook.answers.splice(0, webhook.answers.length, { status: 404, body: "no_service" });
    const config = testConfig(webhook.url(`/services/${secret}`));
    const { logger, lines } = recordingLogger();
    const result = await publishAnalysis({
      db: database.handle.db,
      document: sampleAnalysis(),
      config,
      logger,
      deliveryKey: "night-c",
    });
    expect(result.slack).toBe("failed");
    expect(webhook.requests).toHaveLength(1);
    const delivery = await getDelivery(database.handle.db, "night-c", "slack");
    expect(delivery?.status).toBe("failed");
    expect(delivery?.error).toMatch(/answered 404: no_service/);
    expect(delivery?.error).not.toContain(secret);
    expect(lines.join("")).not.toContain(secret);
    expect(lines.join("")).toContain("Slack refused the message");
  });
});
