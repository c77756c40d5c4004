import { type Command, InvalidArgumentError } from "commander";
import { CATCH_UP_CRON, MAINTENANCE_CRON } from "../../analyzer/nightly.js";
import { describeError, UsageError } from "../../common/errors.js";
import { runtimeOf } from "../runtime.js";

function parseCron(value: string): string {
  if (!/^\S+(\s+\S+){4,5}$/.test(value.trim())) {
    throw new InvalidArgumentError("expected a cron pattern of 5 or 6 fields such as '0 2 * * *'");
  }
  return value.trim();
}

function parseZone(value: string): string {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value;
  } catch {
    throw new InvalidArgumentError("expected an IANA time zone such as Europe/Berlin");
  }
}

export function register(program: Command): void {
  program
    .command("schedule")
    .description(
      "register the nightly analysis, the hourly partition maintenance and the hourly catch-up of run summaries as BullMQ job schedulers, print when they fire next, and exit",
    )
    .option(
      "--cron <pattern>",
      "when the nightly analysis fires (default: schedule.cron, '0 2 * * *')",
      parseCron,
    )
    .option("--tz <zone>", "time zone of the pattern (default: schedule.timezone, UTC)", parseZone)
    .addHelpText(
      "after",
      `
Needs --redis or REDIS_URL, and a \`rightsize worker\` to run what fires. Running it again updates the
schedule in place (one scheduler per job, never duplicates). Partition maintenance fires at
'${MAINTENANCE_CRON}' UTC, the catch-up of run summaries (runs whose collector died) at '${CATCH_UP_CRON}' UTC.
Workers register these again if Redis loses them (a restart without persistence).

Examples:
  rightsize schedule --redis redis://127.0.0.1:6379
  rightsize schedule --cron "30 3 * * *" --tz Europe/Berlin`,
    )
    .action(async (options: { cron?: string; tz?: string }, command: Command) => {
      const { config } = runtimeOf(command);
      if (!config.redis.url)
        throw new UsageError("schedule needs a Redis: pass --redis URL or set REDIS_URL");
      const schedule = {
        cron: options.cron ?? config.schedule.cron,
        timezone: options.tz ?? config.schedule.timezone,
      };
      // BullMQ alone takes half a second to load: only the commands that use the queue pay for it.
      const { connect, openQueue, registerSchedulers } = await import("../../analyzer/jobs.js");
      const connection = connect(config.redis.url);
      const queue = openQueue(connection, config);
      try {
        let result: Awaited<ReturnType<typeof registerSchedulers>>;
        try {
          result = await registerSchedulers(queue, schedule);
        } catch (error) {
          if (/cron|pattern|invalid/i.test(describeError(error))) {
            throw new UsageError(`--cron '${schedule.cron}': ${describeError(error)}`);
          }
          throw error;
        }
        process.stdout.write(
          `nightly analysis: '${schedule.cron}' (${schedule.timezone}), next ${result.nightlyNext?.toISOString() ?? "unknown"}\n` +
            `partition maintenance: '${MAINTENANCE_CRON}' (UTC), next ${result.maintenanceNext?.toISOString() ?? "unknown"}\n` +
            `run summary catch-up: '${CATCH_UP_CRON}' (UTC), next ${result.catchUpNext?.toISOString() ?? "unknown"}\n`,
        );
      } finally {
        await queue.close();
        connection.disconnect();
      }
    });
}
