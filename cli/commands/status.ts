import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { inspectSpool } from "../../collector/storage/spool.js";
import {
  MIN_JUDGED_REFERENCE_SECONDS,
  REPORTED_RELATIVE_ERROR,
  summarizeCpuAccuracy,
} from "../../collector/tracking/cpu-self-check.js";
import type { Config } from "../../common/config.js";
import { describeError } from "../../common/errors.js";
import { type Db, queryRows } from "../../db/client.js";
import { listCpuChecks } from "../../db/queries/executions.js";
import { latestWindowEnd } from "../../db/queries/profiles.js";
import { runtimeOf, withReadDatabase } from "../runtime.js";

/** The collector's measured accuracy covers executions that ended this long ago at most (chosen value). */
const ACCURACY_WINDOW_DAYS = 7;
/** …and at most this many of them, the newest: enough for a stable median, bounded for a large fleet. */
const ACCURACY_MAX_EXECUTIONS = 10_000;

/** A relative error as a signed percentage: `-0.4 %`, `+2.5 %`. */
function percent(value: number): string {
  return `${value > 0 ? "+" : ""}${(value * 100).toFixed(1)} %`;
}

/**
 * The collector's measured accuracy (collector/tracking/cpu-self-check.ts): how many recently ended executions
 * have an exact CPU figure beside the process tree's sum, and how far the sums were from it.
 */
export async function accuracyStatusLines(db: Db, now: Date): Promise<string[]> {
  const since = new Date(now.getTime() - ACCURACY_WINDOW_DAYS * 86_400_000);
  const { ended, checks } = await listCpuChecks(db, since, ACCURACY_MAX_EXECUTIONS);
  const window = `last ${ACCURACY_WINDOW_DAYS} days`;
  if (checks.length === 0) {
    return [
      `accuracy     CPU self-check, ${window}: none of ${ended} ended executions has an exact CPU figure`,
    ];
  }
  const sources = new Map<string, number>();
  for (const check of checks)
    sources.set(check.referenceCpuSource, (sources.get(check.referenceCpuSource) ?? 0) + 1);
  const bySource = [...sources]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([source, count]) => `${source} ${count}`)
    .join(", ");
  const newest =
    checks.length === ACCURACY_MAX_EXECUTIONS ? `, the newest ${ACCURACY_MAX_EXECUTIONS} read` : "";
  const accuracy = summarizeCpuAccuracy(checks);
  const judged = `${accuracy.judged} judged: ${MIN_JUDGED_REFERENCE_SECONDS} s of CPU or more`;
  return [
    `accuracy     CPU self-check, ${window}: ${checks.length} of ${ended} ended executions have an exact CPU figure (${bySource}${newest})`,
    accuracy.median === null || accuracy.worst === null
      ? `  tree sum   none judged yet (every exact figure under ${MIN_JUDGED_REFERENCE_SECONDS} s of CPU)`
      : `  tree sum   median ${percent(accuracy.median)}, worst ${percent(accuracy.worst)} of the exact figure (${judged}; ${accuracy.overThreshold} over ${REPORTED_RELATIVE_ERROR * 100} %)`,
  ];
}

/** How long `status` waits for Redis before saying it cannot tell when the night fires. */
const REDIS_STATUS_TIMEOUT_MS = 3_000;

/**
 * The nightly line: when the nightly scheduler in Redis fires next, or why nothing fires. Never throws:
 * an unreachable Redis is a line of the status, not a failure of it.
 */
export async function nightlyStatusLine(config: Config): Promise<string> {
  if (!config.redis.url) {
    return "nightly      no Redis (REDIS_URL): nothing fires; run `rightsize analyze` yourself";
  }
  // BullMQ alone takes half a second to load: only a status that has a Redis pays for it.
  const [{ Redis }, { Queue }, { QUEUE_NAME, schedulerIds }] = await Promise.all([
    import("ioredis"),
    import("bullmq"),
    import("../../analyzer/jobs.js"),
  ]);
  const connection = new Redis(config.redis.url, {
    lazyConnect: true,
    connectTimeout: REDIS_STATUS_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  connection.on("error", () => {});
  const queue = new Queue(QUEUE_NAME, { connection, prefix: config.queue.prefix });
  let timer: NodeJS.Timeout | undefined;
  try {
    const scheduler = await Promise.race([
      queue.getJobScheduler(schedulerIds.nightly),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${REDIS_STATUS_TIMEOUT_MS / 1000} s`)),
          REDIS_STATUS_TIMEOUT_MS,
        );
      }),
    ]);
    if (!scheduler) {
      return "nightly      not scheduled in Redis: run `rightsize schedule` (a running `rightsize worker` restores a lost one)";
    }
    const next = scheduler.next ? new Date(scheduler.next).toISOString() : "unknown";
    return `nightly      next ${next} ('${scheduler.pattern ?? `every ${scheduler.every} ms`}'${scheduler.tz ? ` ${scheduler.tz}` : ""})`;
  } catch (error) {
    return `nightly      unknown: Redis ${config.redis.url.replace(/\/\/[^@/]*@/, "//…@")} does not answer (${describeError(error)})`;
  } finally {
    clearTimeout(timer);
    await queue.close().catch(() => {});
    connection.disconnect();
  }
}

export function register(program: Command): void {
  program
    .command("status")
    .description(
      "what is collected so far: the local spool (as the collector's metrics count it), hosts, tasks, executions, samples, the collector's measured accuracy, the latest analysis and when the next nightly analysis fires",
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
          ...(await accuracyStatusLines(handle.db, new Date())),
          `analysis     ${windowEnd ? `window ending ${windowEnd.toISOString()}` : "none yet (run `rightsize analyze`)"}`,
          await nightlyStatusLine(runtime.config),
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      });
    });
}
