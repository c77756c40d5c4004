import { type Command, Option } from "commander";
import { UsageError } from "../../common/errors.js";
import { flagParsers, runtimeOf, withDatabase } from "../runtime.js";

export function register(program: Command): void {
  program
    .command("worker")
    .description(
      "run the nightly jobs from the BullMQ queue (nightly fan-out, analyze-task, publish, partition maintenance) until SIGTERM or SIGINT, which lets running jobs finish first",
    )
    .addOption(
      new Option(
        "--lock-duration <duration>",
        "how long a job stays claimed by a worker that stopped answering",
      )
        .argParser(flagParsers.durationMs)
        .default(30_000, "30s"),
    )
    .addOption(
      new Option(
        "--scheduler-check <duration>",
        "how often to check that the job schedulers are still in Redis, and register missing ones again",
      )
        .argParser(flagParsers.durationMs)
        .default(60_000, "1m"),
    )
    .addHelpText(
      "after",
      `
Needs --redis or REDIS_URL. Start as many workers as you like, on any hosts that reach the Redis and
the database; each runs queue.concurrency jobs at once (RIGHTSIZE_CONCURRENCY). A worker killed
mid-job loses nothing: after --lock-duration another worker reruns the job (results are upserts).
Each worker remembers the job schedulers it has seen in Redis (\`rightsize schedule\` registers them)
and, when Redis restarted without persistence and lost them, registers them again and logs it.

Examples:
  rightsize worker --redis redis://127.0.0.1:6379 --db postgres://rightsize@db:5432/rightsize
  RIGHTSIZE_CONCURRENCY=4 rightsize worker`,
    )
    .action(async (options: { lockDuration: number; schedulerCheck: number }, command: Command) => {
      const runtime = runtimeOf(command);
      const { config, logger } = runtime;
      if (!config.redis.url) throw new UsageError("worker needs a Redis: pass --redis URL or set REDIS_URL");
      await withDatabase(runtime, async (handle) => {
        // BullMQ alone takes half a second to load: only the commands that use the queue pay for it.
        const { connect, startWorker } = await import("../../analyzer/jobs.js");
        const connection = connect(config.redis.url!);
        const { worker, drain } = startWorker({
          db: handle.db,
          config,
          logger,
          connection,
          lockDurationMs: options.lockDuration,
          schedulerCheckMs: options.schedulerCheck,
        });
        await worker.waitUntilReady();
        logger.info(
          { prefix: config.queue.prefix, concurrency: config.queue.concurrency, database: handle.label },
          "worker ready",
        );
        process.stdout.write(`worker ready (pid ${process.pid})\n`);
        await new Promise<void>((stop) => {
          process.once("SIGTERM", () => stop());
          process.once("SIGINT", () => stop());
        });
        logger.info("draining: finishing running jobs");
        await drain();
        connection.disconnect();
        logger.info("worker stopped");
      });
    });
}
