import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { inspectSpool } from "../../collector/spool.js";
import { queryRows } from "../../db/client.js";
import { latestWindowEnd } from "../../db/queries/profiles.js";
import { runtimeOf, withReadDatabase } from "../runtime.js";

export function register(program: Command): void {
  program
    .command("status")
    .description(
      "what is collected so far: the local spool (as the collector's metrics count it), hosts, tasks, executions, samples and the latest analysis",
    )
    .action(async (_options, command: Command) => {
      const runtime = runtimeOf(command);
      // The local spool first, read without the database: it is what waits while the database is away.
      const spool = inspectSpool(runtime.config.collector.spoolDir);
      process.stdout.write(
        `${[
          `spool        ${spool.dir}${spool.exists ? "" : " (not created yet)"}`,
          `  waiting    ${spool.bytes} bytes in ${spool.segments} segments (rightsize_collector_spool_bytes, _segments)`,
          `  set aside  ${spool.rejectedBytes} bytes in rejected/records.spool (refused by the database)`,
          `  quarantine ${spool.quarantined} entries in quarantine/ (not the collector's own files)`,
        ].join("\n")}\n`,
      );
      await withReadDatabase(runtime, async (handle) => {
        const [counts] = await queryRows<Record<string, number>>(
          handle.db,
          sql`select (select count(*) from hosts)::int as hosts,
                     (select count(distinct (orchestrator, pipeline, task)) from task_executions)::int as tasks,
                     (select count(*) from task_executions)::int as executions,
                     (select count(*) from task_executions where ended_at is null)::int as running,
                     (select count(*) from samples)::int as samples`,
        );
        const windowEnd = await latestWindowEnd(handle.db);
        const lines = [
          `database     ${handle.label}`,
          `hosts        ${counts?.hosts ?? 0}`,
          `tasks        ${counts?.tasks ?? 0}`,
          `executions   ${counts?.executions ?? 0} (${counts?.running ?? 0} running)`,
          `samples      ${counts?.samples ?? 0}`,
          `analysis     ${windowEnd ? `window ending ${windowEnd.toISOString()}` : "none yet (run `rightsize analyze`)"}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      });
    });
}
