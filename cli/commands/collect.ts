import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { sql } from "drizzle-orm";
import { compileLogTemplate, LogTemplateError } from "../../collector/attribution/airflow-log-template.js";
import { PodSource } from "../../collector/attribution/kubernetes-client.js";
import {
  parsePasswd,
  parseTrustPolicy,
  type TrustPolicy,
  TrustSettingError,
} from "../../collector/attribution/trust.js";
import { runCollector } from "../../collector/collect-daemon.js";
import { LISTEN_ADDRESS } from "../../common/config.js";
import { ConfigError } from "../../common/errors.js";
import { queryRows } from "../../db/client.js";
import { listOpenExecutions } from "../../db/queries/executions.js";
import { openCollectorDatabase } from "../collector-database.js";
import { startMetricsExport } from "../metrics-export.js";
import { flagParsers, runtimeOf } from "../runtime.js";

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
      "serve Prometheus metrics on /metrics (OpenMetrics when asked), and /healthz, /readyz (default: collector.metricsListen, off)",
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
