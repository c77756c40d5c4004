import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { runCollector } from "../../collector/collect-daemon.js";
import { createWriter, type SampleWriter } from "../../collector/writer.js";
import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { type DatabaseHandle, openDatabase, queryRows } from "../../db/client.js";
import { migrateDatabase } from "../../db/migrate.js";
import { listOpenExecutions } from "../../db/queries/executions.js";
import { flagParsers, type Runtime, runtimeOf } from "../runtime.js";

/**
 * The database side shared by `run` and `collect`: open and migrate when the database answers, and hand
 * the open handle to the writer (one handle per embedded PGlite folder). When it does not answer, the
 * collector still runs and the writer spools until it does.
 */
export interface CollectorDatabase {
  handle: DatabaseHandle | null;
  writer: SampleWriter;
  close(): Promise<void>;
}

export async function openCollectorDatabase(
  runtime: Runtime,
  logger: Logger = runtime.logger,
): Promise<CollectorDatabase> {
  const { config } = runtime;
  let handle: DatabaseHandle | null = null;
  try {
    handle = await openDatabase(config.database.url);
    await migrateDatabase(handle, config.retention);
  } catch (error) {
    logger.warn(
      { err: describeError(error) },
      "database unavailable at start: samples are spooled until it answers",
    );
    await handle?.close().catch(() => {});
    handle = null;
  }
  const writer = await createWriter({
    databaseUrl: config.database.url,
    spoolDir: config.collector.spoolDir,
    spoolMaxBytes: config.collector.spoolMaxBytes,
    logger,
    database: handle ?? undefined,
  });
  return {
    handle,
    writer,
    close: async () => {
      await handle?.close();
    },
  };
}

export function register(program: Command): void {
  program
    .command("collect")
    .description(
      "the host daemon: finds Airflow and Prefect task processes (and any with RIGHTSIZE_* env), samples their process trees every tick, and writes samples until stopped",
    )
    .option(
      "--interval <duration>",
      "sampling tick (default: collector.interval, 1s)",
      flagParsers.durationMs,
    )
    .option(
      "--duration <duration>",
      "stop after this long (default: run until SIGINT/SIGTERM)",
      flagParsers.durationMs,
    )
    .addHelpText(
      "after",
      `
Run it as root on each worker host (a DaemonSet with hostPID and /proc mounted, or a systemd unit):
reading other users' /proc/PID/io, environ and syscall files needs it. Tasks are recognised by
RIGHTSIZE_PIPELINE/RIGHTSIZE_TASK env, Airflow 2 argv and process titles, Airflow 2/3 open task logs,
AIRFLOW_CTX_* env, Airflow 3 execute_workload argv, and PREFECT__FLOW_RUN_ID env (docs/collector.md).
SIGINT/SIGTERM flush and exit 0. Executions a crashed collector left open are resumed if their
process still runs, else closed with status "lost". While the database is unreachable samples go to
the spool (collector.spoolDir, bounded by collector.spoolMaxBytes) and are replayed later.

Examples:
  sudo rightsize collect
  sudo rightsize --db postgres://rightsize@db:5432/rightsize collect --interval 2s
  rightsize collect --duration 60s          sample for a minute, then exit`,
    )
    .action(async (flags: { interval?: number; duration?: number }, self: Command) => {
      const runtime = runtimeOf(self);
      const { config } = runtime;
      const database = await openCollectorDatabase(runtime);
      try {
        const open = [];
        if (database.handle) {
          for (const row of await listOpenExecutions(database.handle.db, config.collector.hostId)) {
            const [last] = await queryRows<{ at: Date | string | null }>(
              database.handle.db,
              sql`select max(ts) as at from samples where execution_id = ${row.id}`,
            );
            open.push({ row, lastSampleAt: last?.at ? new Date(last.at) : null });
          }
        }
        const summary = await runCollector({
          intervalMs: flags.interval ?? config.collector.intervalMs,
          durationMs: flags.duration ?? null,
          procRoot: config.collector.procRoot,
          cgroupRoot: config.collector.cgroupRoot,
          hostId: config.collector.hostId,
          accounting: { mode: config.collector.accounting, stateDir: config.collector.stateDir },
          writer: database.writer,
          logger: runtime.logger,
          openExecutions: open,
        });
        process.stdout.write(
          `collected ${summary.ticks} ticks, ${summary.executions} executions (${summary.resumed} resumed, ${summary.lost} lost)\n`,
        );
      } finally {
        await database.close();
      }
    });
}
