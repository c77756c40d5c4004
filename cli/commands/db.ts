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
}
