import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import { compileLogTemplate, LogTemplateError } from "../../collector/airflow-log-template.js";
import { runCollector } from "../../collector/collect-daemon.js";
import { PodSource } from "../../collector/kubernetes-client.js";
import { parsePasswd, parseTrustPolicy, type TrustPolicy, TrustSettingError } from "../../collector/trust.js";
import { LISTEN_ADDRESS } from "../../common/config.js";
import { type ReplayOptions, replayPendingSpool } from "../../collector/spool-replay.js";
import { createWriter, type SampleWriter } from "../../collector/writer.js";
import { ConfigError, describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { type DatabaseHandle, openDatabase, queryRows } from "../../db/client.js";
import { migrateDatabase } from "../../db/migrate.js";
import { listOpenExecutions } from "../../db/queries/executions.js";
import { startMetricsExport } from "../metrics-export.js";
import { flagParsers, type Runtime, runtimeOf } from "../runtime.js";

/**
 * The database side shared by `run` and `collect`: open and migrate when the database answers, and hand
 * the open handle to the writer (one handle per embedded PGlite folder). When it does not answer, the
 * collector still runs and the writer spools until it does.
 *
 * An embedded database another process owns is reached through that owner (db/embedded.ts); the writer
 * then keeps a connection of its own, which it drops and opens again (through the next owner, or as the
 * owner) when the owner hands over. Whatever the writer could not write before it closed (an owner that
 * left between its last flush and its close) is replayed once more at close, so it is not left waiting
 * in the spool for the next reader.
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
    handle = await openDatabase(config.database.url, { logger });
    await migrateDatabase(handle, config.retention);
  } catch (error) {
    logger.warn(
      { err: describeError(error) },
      "database unavailable at start: samples are spooled until it answers",
    );
    await handle?.close().catch(() => {});
    handle = null;
  }
  const replay = {
    databaseUrl: config.database.url,
    spoolDir: config.collector.spoolDir,
    spoolMaxBytes: config.collector.spoolMaxBytes,
    logger,
  };
  let writer: SampleWriter;
  try {
    writer = await createWriter({
      ...replay,
      // A client handle is not lent: the writer must be free to drop it when its owner hands over.
      database: handle?.embedded?.role === "client" ? undefined : (handle ?? undefined),
    });
  } catch (error) {
    // An open Postgres pool keeps Node's event loop alive: without this the command would print the
    // error and then never exit (a supervisor waiting for the exit never restarts it).
    await handle?.close().catch(() => {});
    throw error;
  }
  return {
    handle,
    writer,
    close: async () => {
      await writer.close();
      await handle?.close();
      if (handle?.embedded && writer.stats().spoolBytes > 0) await replayAtClose(replay);
    },
  };
}

/**
 * The trust policy from `collector.trust`. `user:NAME` is looked up in the host's /etc/passwd, read
 * through PID 1's root (`<procRoot>/1/root/etc/passwd`) so a containerised collector sees the host's
 * users, falling back to its own /etc/passwd.
 */
export function trustPolicyOf(entries: string[], procRoot: string): TrustPolicy {
  let passwd = "";
  for (const file of [`${procRoot}/1/root/etc/passwd`, "/etc/passwd"]) {
    try {
      passwd = readFileSync(file, "utf8");
      break;
    } catch {
      // Try the next one.
    }
  }
  try {
    const policy = parseTrustPolicy(entries, parsePasswd(passwd));
    // A collector run by a user reads only what that user may read: attributing that user's own
    // processes grants them nothing, and `rightsize collect` without root then sees their tasks.
    if (process.geteuid) policy.uids.add(process.geteuid());
    return policy;
  } catch (error) {
    if (error instanceof TrustSettingError) throw new ConfigError(`config: ${error.message}`);
    throw error;
  }
}

function listenAddress(value: string): string {
  const match = LISTEN_ADDRESS.exec(value);
  if (!match || Number(match[2]) > 65_535)
    throw new InvalidArgumentError("expected HOST:PORT such as 127.0.0.1:9464");
  return value;
}

/** One more try for an embedded database's spool at close: through the next owner, or as the owner. */
async function replayAtClose(options: ReplayOptions): Promise<void> {
  try {
    const again = await openDatabase(options.databaseUrl, { logger: options.logger });
    try {
      await replayPendingSpool(again, options);
    } finally {
      await again.close();
    }
  } catch (error) {
    options.logger.warn(
      { err: describeError(error), spoolDir: options.spoolDir },
      "batches stay in the spool: the next rightsize command replays them",
    );
  }
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
      flagParsers.intervalMs,
    )
    .option(
      "--duration <duration>",
      "stop after this long, up to 24d (default: run until SIGINT/SIGTERM)",
      flagParsers.timerMs,
    )
    .option(
      "--metrics-listen <host:port>",
      "serve OpenMetrics on /metrics, and /healthz, /readyz (default: collector.metricsListen, off)",
      listenAddress,
    )
    .addHelpText(
      "after",
      `
Run it as root on each worker host (a DaemonSet with hostPID and /proc mounted, or a systemd unit):
reading other users' /proc/PID/io, environ and syscall files needs it. Tasks are recognised by
RIGHTSIZE_PIPELINE/RIGHTSIZE_TASK env, Airflow 2 argv and process titles, the Airflow 3 runner a
Celery pool child, LocalExecutor or Edge worker or execute_workload supervisor forks (by the task log
it holds), AIRFLOW_CTX_* env, PREFECT__FLOW_RUN_ID env, and Kubernetes pod metadata (docs/collector.md).
SIGINT/SIGTERM flush and exit 0. Executions a crashed collector left open are resumed if their
process still runs, else closed with status "lost". While the database is unreachable samples go to
the spool (collector.spoolDir, bounded by collector.spoolMaxBytes) and are replayed later.
Only processes collector.trust trusts become executions (default: root's, and those of systemd system
services and containers; docs/collector-storage.md). An execution a live \`rightsize run\` records is
left to it.

Examples:
  sudo rightsize collect
  sudo rightsize --db postgres://rightsize@db:5432/rightsize collect --interval 2s
  rightsize collect --duration 60s          sample for a minute, then exit`,
    )
    .action(
      async (flags: { interval?: number; duration?: number; metricsListen?: string }, self: Command) => {
        const runtime = runtimeOf(self);
        const { config } = runtime;
        const trust = trustPolicyOf(config.collector.trust, config.collector.procRoot);
        let logTemplates;
        try {
          logTemplates = config.collector.airflowLogTemplate
            ? [compileLogTemplate(config.collector.airflowLogTemplate)]
            : [];
        } catch (error) {
          if (error instanceof LogTemplateError)
            throw new ConfigError(`config: collector.airflowLogTemplate: ${error.message}`);
          throw error;
        }
        const pods = new PodSource({
          api: config.collector.kubernetesApi,
          nodeName: config.collector.nodeName,
          logger: runtime.logger,
        });
        // A failure to open the spool rejects here, with the database already closed: the command exits 1
        // at once and systemd (Restart=on-failure) or the DaemonSet starts it again.
        const database = await openCollectorDatabase(runtime);
        const metrics = await startMetricsExport(runtime);
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
            trust,
            metricsListen: flags.metricsListen ?? config.collector.metricsListen,
            logTemplates,
            pods,
            metrics: metrics?.sink,
          });
          process.stdout.write(
            `collected ${summary.ticks} ticks, ${summary.executions} executions (${summary.resumed} resumed, ${summary.lost} lost)\n`,
          );
        } finally {
          await metrics?.close();
          await database.close();
        }
      },
    );
}
