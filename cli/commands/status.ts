import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { queryRows } from "../../db/client.js";
import { latestWindowEnd } from "../../db/queries/profiles.js";
import { runtimeOf, withReadDatabase } from "../runtime.js";

export function register(program: Command): void {
  program
    .command("status")
    .description("what is collected so far: hosts, tasks, executions, samples and the latest analysis")
    .action(async (_options, command: Command) => {
      const runtime = runtimeOf(command);
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
