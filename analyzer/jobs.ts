/**
 * The nightly job graph on BullMQ. A job scheduler fires `nightly`; it adds a flow: `analyze-tasks`
 * children, each a batch of task keys, and a `publish` parent that runs once every child is done. Two
 * more schedulers run `maintain-partitions` (sample partitions and every table's retention) and
 * `summarize-runs` (the hourly catch-up of run summaries) every hour. Processors are thin: each calls one
 * step of nightly.ts.
 *
 * Idempotence: a night is named by its window end, results are upserted per (task key, window end), and
 * the flow's job ids derive from the nightly job's id, so a retried `nightly` adds nothing twice.
 *
 * Schedulers live only in Redis: a Redis restarted without persistence forgets them and nothing fires.
 * Workers remember the schedulers they have seen and register any that went missing again
 * ({@link watchSchedulers}).
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { FlowProducer, type Job, type JobsOptions, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Config } from "../common/config.js";
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { TaskKey } from "../common/task-key.js";
import type { Db } from "../db/client.js";
import { DeliveryRecordError } from "../reports/delivery-record.js";
import { publishAnalysis } from "../reports/publish.js";
import {
  analyzeTasks,
  batchesOf,
  CATCH_UP_CRON,
  catchUpSummaries,
  floorToMinute,
  MAINTENANCE_CRON,
  maintainDatabase,
  type Night,
  type Publisher,
  publishNight,
  summarizeNight,
  tasksOfNight,
} from "./nightly.js";

export { CATCH_UP_CRON, floorToMinute, MAINTENANCE_CRON };

/** One queue carries every job kind; flows need parent and children reachable by the same workers. */
export const QUEUE_NAME = "analysis";

export const jobNames = {
  nightly: "nightly",
  analyzeTasks: "analyze-tasks",
  publish: "publish",
  maintainPartitions: "maintain-partitions",
  summarizeRuns: "summarize-runs",
} as const;

export const schedulerIds = {
  nightly: "nightly",
  maintenance: "maintain-partitions",
  catchUp: "summarize-runs",
} as const;

/**
 * The night fans out into this many `analyze-tasks` jobs (fewer with fewer tasks, more past 250 tasks a
 * batch): enough to spread over a handful of workers, few enough that each job's reads and write cover
 * many tasks at once.
 */
export const NIGHT_JOBS = 16;

/**
 * 5 attempts, exponential from 10 s (10, 20, 40, 80 s): rides out a Postgres restart or failover of a
 * minute or two, then gives up so the night is not held forever.
 */
export const retryOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: "exponential", delay: 10_000 },
};

/** Finished jobs kept for inspection: a week of nights and their children (BullMQ keeps all by default). */
const keepFinished: JobsOptions = {
  removeOnComplete: { age: 7 * 86_400, count: 20_000 },
  removeOnFail: { age: 14 * 86_400 },
};

export interface NightData {
  windowEnd: string;
  windowDays: number;
}

export interface AnalyzeTasksData extends NightData {
  keys: TaskKey[];
}

/** BullMQ needs `maxRetriesPerRequest: null` on connections that block (workers, QueueEvents). */
export function connect(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

function safeId(text: string): string {
  return text.replace(/:/g, "-");
}

function batchJobId(parentId: string, keys: TaskKey[]): string {
  const hash = createHash("sha1");
  for (const key of keys) hash.update(`${key.orchestrator}\0${key.pipeline}\0${key.task}\0`);
  return `${parentId}-tasks-${hash.digest("hex").slice(0, 16)}`;
}

function isTaskKey(key: unknown): key is TaskKey {
  const candidate = key as Partial<TaskKey> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.orchestrator === "string" &&
    typeof candidate.pipeline === "string" &&
    typeof candidate.task === "string"
  );
}

/** The night a `nightly` job stands for: its explicit window end, else the time its scheduler fired it for. */
export function nightOfJob(job: Job, config: Config): Night {
  const data = (job.data ?? {}) as Partial<NightData>;
  const scheduled =
    (job.opts as { prevMillis?: number }).prevMillis ?? job.timestamp + Number(job.opts.delay ?? 0);
  const windowEnd = data.windowEnd ? new Date(data.windowEnd) : floorToMinute(scheduled);
  if (Number.isNaN(windowEnd.getTime())) {
    throw new UnrecoverableError(`job ${job.id}: windowEnd '${data.windowEnd}' is not a date`);
  }
  return { windowEnd, windowDays: data.windowDays ?? config.analysis.windowDays };
}

function nightOfData(job: Job): Night {
  const data = job.data as Partial<NightData>;
  const windowEnd = new Date(data.windowEnd ?? Number.NaN);
  if (Number.isNaN(windowEnd.getTime()) || typeof data.windowDays !== "number" || !(data.windowDays > 0)) {
    throw new UnrecoverableError(`job ${job.name} ${job.id}: needs windowEnd (ISO date) and windowDays > 0`);
  }
  return { windowEnd, windowDays: data.windowDays };
}

export interface JobContext {
  db: Db;
  config: Config;
  logger: Logger;
  connection: Redis;
  /** @defaultValue publishAnalysis from reports/publish.ts */
  publish?: Publisher;
}

/**
 * The one processor of the queue, dispatching on job name. Bad data becomes an UnrecoverableError (no
 * retry); anything else is thrown as is and retried with backoff.
 */
export function createProcessor(context: JobContext): {
  process(job: Job): Promise<unknown>;
  close(): Promise<void>;
} {
  const flows = new FlowProducer({ connection: context.connection, prefix: context.config.queue.prefix });
  const publish = context.publish ?? publishAnalysis;
  const { db, config, logger } = context;
  async function process(job: Job): Promise<unknown> {
    switch (job.name) {
      case jobNames.nightly: {
        const night = nightOfJob(job, config);
        // One pass over the night's samples here makes each analyze-task job a read of a few rows.
        const summarized = await summarizeNight(db, config, night);
        const keys = await tasksOfNight(db, config, night);
        const parentId = safeId(`night-${job.id}`);
        const data: NightData = { windowEnd: night.windowEnd.toISOString(), windowDays: night.windowDays };
        await flows.add({
          name: jobNames.publish,
          queueName: QUEUE_NAME,
          data,
          opts: { jobId: `${parentId}-publish`, ...retryOptions, ...keepFinished },
          children: batchesOf(keys, NIGHT_JOBS).map((batch) => ({
            name: jobNames.analyzeTasks,
            queueName: QUEUE_NAME,
            data: { ...data, keys: batch } satisfies AnalyzeTasksData,
            // A batch that cannot be analyzed must not hold back the report of all the others.
            opts: {
              jobId: batchJobId(parentId, batch),
              ignoreDependencyOnFailure: true,
              ...retryOptions,
              ...keepFinished,
            },
          })),
        });
        logger.info(
          { windowEnd: data.windowEnd, summarized, tasks: keys.length, publishJob: `${parentId}-publish` },
          "night fanned out",
        );
        return { windowEnd: data.windowEnd, tasks: keys.length, publishJobId: `${parentId}-publish` };
      }
      case jobNames.analyzeTasks: {
        const night = nightOfData(job);
        const keys = (job.data as Partial<AnalyzeTasksData>).keys;
        if (!Array.isArray(keys) || !keys.every(isTaskKey)) {
          throw new UnrecoverableError(`job ${job.id}: needs keys [{ orchestrator, pipeline, task }, …]`);
        }
        // Tasks whose data cannot give an analysis are left out (and logged); the rest of the batch is
        // stored. Anything else (the database away) throws and the whole batch is retried: it upserts.
        const result = await analyzeTasks(db, config, night, keys);
        for (const failure of result.failed) logger.warn(failure, "task left out of the night");
        return { analyzed: result.analyses.length, failed: result.failed };
      }
      case jobNames.publish: {
        const night = nightOfData(job);
        const failed = await job.getFailedChildrenValues().catch(() => ({}));
        if (Object.keys(failed).length > 0) logger.warn({ failed }, "tasks left out of the night");
        try {
          const document = await publishNight(db, config, logger, night, publish);
          return { tasks: document.tasks.length };
        } catch (error) {
          // The email or the Slack message went out unrecorded: a retry would send it again.
          if (error instanceof DeliveryRecordError) throw new UnrecoverableError(error.message);
          throw error;
        }
      }
      case jobNames.maintainPartitions: {
        const { partitions, retention } = await maintainDatabase(db, config);
        if (partitions.length > 0) logger.info({ changes: partitions }, "sample partitions maintained");
        if (Object.values(retention).some((count) => count > 0))
          logger.info({ deleted: retention }, "rows past retention deleted");
        return { changes: partitions.length, deleted: retention };
      }
      case jobNames.summarizeRuns: {
        const summarized = await catchUpSummaries(db, config);
        if (summarized > 0) logger.info({ summarized }, "runs summarized by the catch-up");
        return { summarized };
      }
      default:
        throw new UnrecoverableError(`unknown job name '${job.name}'`);
    }
  }
  return { process, close: () => flows.close() };
}

export interface WorkerHandle {
  worker: Worker;
  /** The watch that registers missing job schedulers again. */
  schedulers: SchedulerWatch;
  /** Stops taking jobs, waits for the running ones to finish, closes connections. */
  drain(): Promise<void>;
}

export function startWorker(
  context: JobContext & {
    /** How long a job stays claimed by a worker that stopped answering. @defaultValue 30 s (BullMQ's) */
    lockDurationMs?: number;
    /** How often the job schedulers are checked. @defaultValue {@link SCHEDULER_CHECK_MS} */
    schedulerCheckMs?: number;
  },
): WorkerHandle {
  const processor = createProcessor(context);
  const schedulerQueue = openQueue(context.connection, context.config);
  const schedulers = watchSchedulers({
    queue: schedulerQueue,
    logger: context.logger,
    intervalMs: context.schedulerCheckMs,
  });
  const lockDuration = context.lockDurationMs ?? 30_000;
  const worker = new Worker(QUEUE_NAME, (job) => processor.process(job), {
    connection: context.connection,
    prefix: context.config.queue.prefix,
    // Stored on every job it runs (processedBy): who ran what, when a night is inspected.
    name: `${hostname()}-${process.pid}`,
    concurrency: context.config.queue.concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // A worker killed mid-job leaves it stalled; the job is safe to rerun (upserts), so allow a few.
    maxStalledCount: 3,
    autorun: true,
  });
  worker.on("failed", (job, error) => {
    context.logger.warn(
      { job: job?.name, id: job?.id, attempts: job?.attemptsMade, error: describeError(error) },
      "job failed",
    );
  });
  worker.on("error", (error) => {
    context.logger.error({ error: describeError(coerceError(error)) }, "worker error");
  });
  return {
    worker,
    schedulers,
    drain: async () => {
      schedulers.stop();
      await worker.close();
      await processor.close();
      await schedulerQueue.close();
    },
  };
}

export interface ScheduleResult {
  nightlyNext: Date | null;
  maintenanceNext: Date | null;
  catchUpNext: Date | null;
}

/** Registers (or updates) the three job schedulers; returns when each fires next. */
export async function registerSchedulers(
  queue: Queue,
  schedule: { cron: string; timezone: string },
): Promise<ScheduleResult> {
  await queue.upsertJobScheduler(
    schedulerIds.nightly,
    { pattern: schedule.cron, tz: schedule.timezone },
    { name: jobNames.nightly, data: {}, opts: { ...retryOptions, ...keepFinished } },
  );
  await queue.upsertJobScheduler(
    schedulerIds.maintenance,
    { pattern: MAINTENANCE_CRON, tz: "UTC" },
    { name: jobNames.maintainPartitions, data: {}, opts: { ...retryOptions, ...keepFinished } },
  );
  await queue.upsertJobScheduler(
    schedulerIds.catchUp,
    { pattern: CATCH_UP_CRON, tz: "UTC" },
    { name: jobNames.summarizeRuns, data: {}, opts: { ...retryOptions, ...keepFinished } },
  );
  return nextFireTimes(queue);
}

/** When each of the schedulers fires next; null for one Redis does not hold. */
export async function nextFireTimes(queue: Queue): Promise<ScheduleResult> {
  const next = async (id: string) => {
    const scheduler = await queue.getJobScheduler(id);
    return scheduler?.next ? new Date(scheduler.next) : null;
  };
  return {
    nightlyNext: await next(schedulerIds.nightly),
    maintenanceNext: await next(schedulerIds.maintenance),
    catchUpNext: await next(schedulerIds.catchUp),
  };
}

type SchedulerDefinition = Awaited<ReturnType<Queue["getJobSchedulers"]>>[number];

/**
 * How often a worker checks that the schedulers it knows are still in Redis: a minute, so a Redis that
 * lost them loses at most a minute of schedule (a nightly fire time missed within it is not replayed).
 */
export const SCHEDULER_CHECK_MS = 60_000;

export interface SchedulerWatch {
  /** Runs one check now (the timer calls it too); resolves with the ids registered again. */
  check(): Promise<string[]>;
  stop(): void;
}

/**
 * Watches the queue's job schedulers from a worker: remembers every scheduler it sees (as `schedule` last
 * registered it) and, when one has gone from Redis (a restart without persistence), registers it again
 * with the same pattern, time zone and template, and logs it. Never throws: a failed check is logged
 * and the next one tries again.
 */
export function watchSchedulers(options: {
  queue: Queue;
  logger: Logger;
  /** @defaultValue {@link SCHEDULER_CHECK_MS} */
  intervalMs?: number;
}): SchedulerWatch {
  const { queue, logger } = options;
  const known = new Map<string, SchedulerDefinition>();
  let running: Promise<string[]> | null = null;
  let announced = false;
  const once = async (): Promise<string[]> => {
    const present = await queue.getJobSchedulers(0, -1, true);
    const presentIds = new Set<string>();
    for (const scheduler of present) {
      presentIds.add(scheduler.key);
      known.set(scheduler.key, scheduler);
    }
    if (!announced) {
      announced = true;
      logger.info({ schedulers: [...known.keys()] }, "watching job schedulers");
    }
    const restored: string[] = [];
    for (const [id, scheduler] of known) {
      if (presentIds.has(id)) continue;
      await queue.upsertJobScheduler(
        id,
        {
          ...(scheduler.pattern ? { pattern: scheduler.pattern } : {}),
          ...(scheduler.every ? { every: scheduler.every } : {}),
          ...(scheduler.tz ? { tz: scheduler.tz } : {}),
        },
        {
          name: scheduler.name,
          data: scheduler.template?.data ?? {},
          opts: { ...retryOptions, ...keepFinished, ...scheduler.template?.opts },
        },
      );
      const next = (await queue.getJobScheduler(id))?.next;
      logger.warn(
        {
          scheduler: id,
          pattern: scheduler.pattern,
          tz: scheduler.tz,
          next: next ? new Date(next).toISOString() : null,
        },
        "job scheduler missing from Redis (restarted without persistence?): registered again",
      );
      restored.push(id);
    }
    return restored;
  };
  const check = (): Promise<string[]> => {
    running ??= once()
      .catch((error: unknown) => {
        logger.warn({ error: describeError(coerceError(error)) }, "cannot check the job schedulers");
        return [];
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? SCHEDULER_CHECK_MS);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

export function openQueue(connection: Redis, config: Config): Queue {
  return new Queue(QUEUE_NAME, { connection, prefix: config.queue.prefix });
}

/** Adds a `nightly` job for an explicit night now (`analyze --enqueue`); the returned id names its flow. */
export async function enqueueNight(
  queue: Queue,
  night: Night,
): Promise<{ nightlyJobId: string; publishJobId: string }> {
  const job = await queue.add(
    jobNames.nightly,
    { windowEnd: night.windowEnd.toISOString(), windowDays: night.windowDays } satisfies NightData,
    { ...retryOptions, ...keepFinished },
  );
  return { nightlyJobId: job.id!, publishJobId: `${safeId(`night-${job.id}`)}-publish` };
}
