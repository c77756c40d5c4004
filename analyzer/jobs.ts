/**
 * The nightly job graph on BullMQ. A job scheduler fires `nightly`; it adds a flow: one `analyze-task`
 * child per task key and a `publish` parent that runs once every child is done. A second scheduler runs
 * `maintain-partitions`. Processors are thin: each calls one step of nightly.ts.
 *
 * Idempotence: a night is named by its window end, results are upserted per (task key, window end), and
 * the flow's job ids derive from the nightly job's id, so a retried `nightly` adds nothing twice.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { FlowProducer, type Job, type JobsOptions, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { TaskKey } from "../common/analysis-document.js";
import type { Config } from "../common/config.js";
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import { maintainPartitions } from "../db/queries/partitions.js";
import { publishAnalysis } from "../reports/publish.js";
import { floorToMinute, MAINTENANCE_CRON } from "./nightly.js";

export { floorToMinute, MAINTENANCE_CRON };

import {
  AnalysisDataError,
  analyzeTask,
  type Night,
  type Publisher,
  publishNight,
  summarizeNight,
  tasksOfNight,
} from "./nightly.js";

/** One queue carries every job kind; flows need parent and children reachable by the same workers. */
export const QUEUE_NAME = "analysis";

export const jobNames = {
  nightly: "nightly",
  analyzeTask: "analyze-task",
  publish: "publish",
  maintainPartitions: "maintain-partitions",
} as const;

export const schedulerIds = { nightly: "nightly", maintenance: "maintain-partitions" } as const;

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

export interface AnalyzeTaskData extends NightData {
  key: TaskKey;
}

/** BullMQ needs `maxRetriesPerRequest: null` on connections that block (workers, QueueEvents). */
export function connect(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

function safeId(text: string): string {
  return text.replace(/:/g, "-");
}

function taskJobId(parentId: string, key: TaskKey): string {
  const digest = createHash("sha1").update(`${key.orchestrator}\0${key.pipeline}\0${key.task}`).digest("hex");
  return `${parentId}-task-${digest.slice(0, 16)}`;
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
          children: keys.map((key) => ({
            name: jobNames.analyzeTask,
            queueName: QUEUE_NAME,
            data: { ...data, key } satisfies AnalyzeTaskData,
            // A task that cannot be analyzed must not hold back the report of all the others.
            opts: {
              jobId: taskJobId(parentId, key),
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
      case jobNames.analyzeTask: {
        const night = nightOfData(job);
        const key = (job.data as Partial<AnalyzeTaskData>).key;
        if (
          !key ||
          typeof key.orchestrator !== "string" ||
          typeof key.pipeline !== "string" ||
          typeof key.task !== "string"
        ) {
          throw new UnrecoverableError(`job ${job.id}: needs key { orchestrator, pipeline, task }`);
        }
        try {
          const analysis = await analyzeTask(db, config, night, key);
          return analysis ? { runs: analysis.runs, bottleneck: analysis.bottleneck } : { runs: 0 };
        } catch (error) {
          if (error instanceof AnalysisDataError) throw new UnrecoverableError(error.message);
          throw error;
        }
      }
      case jobNames.publish: {
        const night = nightOfData(job);
        const failed = await job.getFailedChildrenValues().catch(() => ({}));
        if (Object.keys(failed).length > 0) logger.warn({ failed }, "tasks left out of the night");
        const document = await publishNight(db, config, logger, night, publish);
        return { tasks: document.tasks.length };
      }
      case jobNames.maintainPartitions: {
        const changes = await maintainPartitions(
          db,
          config.retention.days,
          config.retention.partitionsAheadDays,
        );
        if (changes.length > 0) logger.info({ changes }, "sample partitions maintained");
        return { changes: changes.length };
      }
      default:
        throw new UnrecoverableError(`unknown job name '${job.name}'`);
    }
  }
  return { process, close: () => flows.close() };
}

export interface WorkerHandle {
  worker: Worker;
  /** Stops taking jobs, waits for the running ones to finish, closes connections. */
  drain(): Promise<void>;
}

export function startWorker(
  context: JobContext & {
    /** How long a job stays claimed by a worker that stopped answering. @defaultValue 30 s (BullMQ's) */
    lockDurationMs?: number;
  },
): WorkerHandle {
  const processor = createProcessor(context);
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
    drain: async () => {
      await worker.close();
      await processor.close();
    },
  };
}

export interface ScheduleResult {
  nightlyNext: Date | null;
  maintenanceNext: Date | null;
}

/** Registers (or updates) both job schedulers; returns when each fires next. */
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
  const nightly = await queue.getJobScheduler(schedulerIds.nightly);
  const maintenance = await queue.getJobScheduler(schedulerIds.maintenance);
  return {
    nightlyNext: nightly?.next ? new Date(nightly.next) : null,
    maintenanceNext: maintenance?.next ? new Date(maintenance.next) : null,
  };
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
