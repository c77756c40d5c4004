import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type * as Jobs from "../../analyzer/jobs.js";
import { runNightInline } from "../../analyzer/nightly.js";
import { type AnalysisDocument, analysisDocumentSchema } from "../../common/analysis-document.js";
import { UsageError } from "../../common/errors.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { publishAnalysis } from "../../reports/publish.js";
import { flagParsers, runtimeOf, withReadDatabase } from "../runtime.js";

interface AnalyzeOptions {
  window?: number;
  windowEnd?: Date;
  json?: string;
  publish?: boolean;
  enqueue?: boolean;
  timeout: number;
}

export function register(program: Command): void {
  program
    .command("analyze")
    .description(
      "the nightly analysis: per-task percentiles, bottleneck class with evidence, and a rightsizing recommendation with savings, stored per (task, window end)",
    )
    .addOption(
      new Option("--window <duration>", "how far back to look (default: analysis.window, 14d)").argParser(
        flagParsers.days,
      ),
    )
    .addOption(
      new Option(
        "--window-end <time>",
        "end of the window, ISO-8601 (default: now, so every run that has ended is in it); the same end gives the same result",
      ).argParser(flagParsers.instant),
    )
    .option("--json <file>", "also write the analysis document (docs/architecture.md) to FILE")
    .option(
      "--publish",
      "also publish like the nightly job: HTML and Markdown reports, and the email if configured",
    )
    .option(
      "--enqueue",
      "run through the BullMQ queue (needs --redis and a running `rightsize worker`) and wait",
    )
    .addOption(
      new Option("--timeout <duration>", "with --enqueue: how long to wait for the workers")
        .argParser(flagParsers.durationMs)
        .default(10 * 60_000, "10m"),
    )
    .addHelpText(
      "after",
      `
Without --enqueue the analysis runs inline in this process, with or without Redis: the same steps the
queue's jobs run, queue.concurrency tasks at a time. With --enqueue it adds a nightly job and waits for
the workers to finish its flow (one job per task, then publish), then reads the result.

Examples:
  rightsize analyze --json analysis.json
  rightsize analyze --window 7d --window-end 2026-11-21T02:00:00Z
  rightsize analyze --redis redis://127.0.0.1:6379 --enqueue --json analysis.json`,
    )
    .action(async (options: AnalyzeOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const { config, logger } = runtime;
      if (options.window !== undefined) config.analysis.windowDays = options.window;
      // Now, not the last whole minute: a run that ended a few seconds ago is in the first analysis a
      // new user runs. The nightly scheduler keeps whole minutes (jobs.ts nightOfJob) for its job ids.
      const night = {
        windowEnd: options.windowEnd ?? new Date(),
        windowDays: config.analysis.windowDays,
      };
      if (options.enqueue && !config.redis.url) {
        throw new UsageError("--enqueue needs a Redis: pass --redis URL or set REDIS_URL");
      }
      await withReadDatabase(runtime, async (handle) => {
        let document: AnalysisDocument | undefined;
        let summary: string;
        let note: string | undefined;
        if (options.enqueue) {
          // BullMQ alone takes half a second to load: only the commands that use the queue pay for it.
          const { connect, enqueueNight, openQueue } = await import("../../analyzer/jobs.js");
          const connection = connect(config.redis.url!);
          const queue = openQueue(connection, config);
          try {
            const { publishJobId } = await enqueueNight(queue, night);
            await waitForJob(queue, publishJobId, options.timeout);
          } finally {
            await queue.close();
            connection.disconnect();
          }
          document = await loadAnalysisDocument(handle.db, night.windowEnd);
          summary = `analyzed ${document?.tasks.length ?? 0} tasks through the queue`;
        } else {
          const result = await runNightInline({
            db: handle.db,
            config,
            logger,
            night,
            ...(options.publish ? { publish: publishAnalysis } : {}),
            // Rebuilding 1,000 tasks' document costs about a second: only when --json wants it.
            document: options.json !== undefined,
          });
          document = result.document;
          summary = `analyzed ${result.analyzed} task${result.analyzed === 1 ? "" : "s"}${result.failed.length > 0 ? `, ${result.failed.length} failed (see log)` : ""}`;
          if (result.emptyReason) note = result.emptyReason;
        }
        process.stdout.write(
          `${summary} over ${night.windowDays} days ending ${night.windowEnd.toISOString()} (${handle.label})\n${note ? `${note}\n` : ""}`,
        );
        if (options.json) {
          const checked = analysisDocumentSchema.parse(
            document ?? {
              generatedAt: new Date().toISOString(),
              windowDays: night.windowDays,
              windowEnd: night.windowEnd.toISOString(),
              tasks: [],
            },
          );
          const file = resolve(options.json);
          writeFileSync(file, `${JSON.stringify(checked, null, 2)}\n`);
          process.stdout.write(`analysis document written to ${file}\n`);
        }
      });
    });
}

/** Polls the publish job of the flow: it exists once the nightly job has run, and completes last. */
async function waitForJob(
  queue: ReturnType<typeof Jobs.openQueue>,
  jobId: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await queue.getJobState(jobId);
    if (state === "completed") return;
    if (state === "failed") {
      const job = await queue.getJob(jobId);
      throw new Error(`the night's publish job ${jobId} failed: ${job?.failedReason ?? "unknown reason"}`);
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(
    `the night's publish job ${jobId} did not finish within ${Math.round(timeoutMs / 1000)} s: is a \`rightsize worker\` running against the same Redis and prefix?`,
  );
}
