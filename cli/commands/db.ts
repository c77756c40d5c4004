import type { Command } from "commander";
import { runtimeOf, withDatabase } from "../runtime.js";

export function register(program: Command): void {
  const db = program.command("db").description("database schema and maintenance");
  db.command("migrate")
    .description("apply migrations (idempotent) and create the sample partitions for the days ahead")
    .addHelpText(
      "after",
      "\nSafe to run any number of times and from several hosts at once: pending migrations run in one\ntransaction under a lock; a database already up to date is left as it is.",
    )
    .action(async (_options, command: Command) => {
      const runtime = runtimeOf(command);
      await withDatabase(runtime, async (handle) => {
        runtime.logger.info({ database: handle.label }, "schema is up to date");
        process.stdout.write(`migrated ${handle.label}\n`);
      });
    });
  db.command("maintain")
    .description("the hourly maintenance now: sample partitions, and every table's rows past their retention")
    .addHelpText(
      "after",
      `
Deletes by age, each a setting (config file key, environment variable, default):
  retention.days         RIGHTSIZE_RETENTION               30d   sample partitions, dropped whole
  retention.hostSamples  RIGHTSIZE_RETENTION_HOST_SAMPLES  30d   host samples
  retention.processes    RIGHTSIZE_RETENTION_PROCESSES     14d   per-process rows of runs started before it,
                                                                 after each run's per-command rollup is written
  retention.runs         RIGHTSIZE_RETENTION_RUNS          400d  runs with their summaries and rollups,
                                                                 analyses and report records
retention.runs must be at least each of the others. The queue's worker runs the same pass hourly
(\`maintain-partitions\`); without Redis, run this from cron.

Example:
  RIGHTSIZE_RETENTION_PROCESSES=7d rightsize db maintain --db postgres://rightsize@db/rightsize`,
    )
    .action(async (_options, command: Command) => {
      const runtime = runtimeOf(command);
      // The analyzer's module graph only for this subcommand: `db migrate` stays light.
      const { maintainDatabase } = await import("../../analyzer/nightly.js");
      await withDatabase(runtime, async (handle) => {
        const { partitions, retention } = await maintainDatabase(handle.db, runtime.config);
        runtime.logger.info({ partitions, deleted: retention }, "maintenance done");
        const made = partitions.filter((change) => change.action === "created").length;
        const dropped = partitions.length - made;
        process.stdout.write(
          `sample partitions: ${made} created, ${dropped} dropped\n` +
            `deleted: ${retention.processes} process rows, ${retention.hostSamples} host samples, ` +
            `${retention.executions} runs (${retention.runSummaries} summaries, ${retention.executionCommands} command rollups), ` +
            `${retention.analyses} analyses, ${retention.reportRuns} report runs\n`,
        );
      });
    });
}
