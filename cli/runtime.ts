/**
 * What every command needs, built once from the global flags: the validated configuration, a logger and
 * a way to open the database. Commands get it from {@link runtimeOf} and pass plain data down to the
 * rooms.
 */
import { type Command, InvalidArgumentError } from "commander";
import { type Config, loadConfig, MAX_BYTES, MAX_TIMER_MS } from "../common/config.js";
import { createLogger, type Logger } from "../common/logger.js";
import { parseBytes, parseDurationMs } from "../common/units.js";
import { type DatabaseHandle, openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";

export interface GlobalOptions {
  db?: string;
  redis?: string;
  config?: string;
}

export interface Runtime {
  config: Config;
  logger: Logger;
}

/** Loads configuration with the global flags layered over environment and file. */
export function runtimeOf(command: Command): Runtime {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const env = { ...process.env };
  if (globals.db !== undefined) env.DATABASE_URL = globals.db;
  if (globals.redis !== undefined) env.REDIS_URL = globals.redis;
  const config = loadConfig({ file: globals.config ?? process.env.RIGHTSIZE_CONFIG, env });
  return { config, logger: createLogger(config.log.level) };
}

export interface WithDatabaseOptions {
  /**
   * Replay the local spool before `work` (the commands that read: what a `run` spooled while its
   * embedded database's owner was handing over, or while the database was down, shows at once).
   */
  replaySpool?: boolean;
}

/**
 * Opens the configured database, brings its schema up to date (idempotent, guarded by a lock), runs
 * `work`, and closes it whatever happens. An embedded database another process owns is opened through
 * that process (db/embedded.ts).
 */
export async function withDatabase<T>(
  runtime: Runtime,
  work: (handle: DatabaseHandle) => Promise<T>,
  options: WithDatabaseOptions = {},
): Promise<T> {
  const { config, logger } = runtime;
  const handle = await openDatabase(config.database.url, { logger });
  try {
    await migrateDatabase(handle, config.retention);
    if (options.replaySpool) {
      const { replayPendingSpool } = await import("../collector/storage/spool-replay.js");
      const left = await replayPendingSpool(handle, {
        databaseUrl: config.database.url,
        spoolDir: config.collector.spoolDir,
        spoolMaxBytes: config.collector.spoolMaxBytes,
        logger,
      });
      if (left > 0) {
        logger.warn(
          { spoolDir: config.collector.spoolDir, bytes: left },
          "the spool still holds batches the database did not take: what follows may miss them",
        );
      }
    }
    return await work(handle);
  } finally {
    await handle.close();
  }
}

/**
 * {@link withDatabase} for the commands that read what was collected (`status`, `analyze`, `report`):
 * the local spool is replayed first, so a run that spooled (its embedded database's owner was handing
 * over, or the database was down) shows at once.
 */
export function withReadDatabase<T>(
  runtime: Runtime,
  work: (handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  return withDatabase(runtime, work, { replaySpool: true });
}

/** Commander argument parsers: a bad value exits 2 naming the flag and what it expects. */
export const flagParsers = {
  durationMs(value: string): number {
    const ms = parseDurationMs(value);
    if (!Number.isFinite(ms) || ms <= 0)
      throw new InvalidArgumentError("expected a duration such as 1s, 500ms or 14d");
    return ms;
  },
  /** A duration a timer waits (a tick, a run time): at most what setTimeout holds, about 24.8 days. */
  timerMs(value: string): number {
    const ms = flagParsers.durationMs(value);
    if (ms > MAX_TIMER_MS)
      throw new InvalidArgumentError("expected a duration up to 24d (2147483647 ms, a timer's limit)");
    return ms;
  },
  /** A sampling tick: 50 ms (collector.interval's floor) up to a timer's limit. */
  intervalMs(value: string): number {
    const ms = flagParsers.timerMs(value);
    if (ms < 50) throw new InvalidArgumentError("expected a tick of at least 50ms");
    return ms;
  },
  /** A whole number an int4 column holds (try numbers, map indexes). */
  int4(value: string, min: number): number {
    const number = Number(value);
    if (
      !/^\d+$/.test(value.trim()) ||
      !Number.isSafeInteger(number) ||
      number < min ||
      number > 2_147_483_647
    )
      throw new InvalidArgumentError(`expected a whole number from ${min} to 2147483647`);
    return number;
  },
  /** An ISO-8601 instant, date first (`2026-11-21T02:00:00Z`). */
  instant(value: string): Date {
    const date = new Date(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
      throw new InvalidArgumentError("expected an ISO-8601 time such as 2026-11-21T02:00:00Z");
    }
    return date;
  },
  days(value: string): number {
    return flagParsers.durationMs(value) / 86_400_000;
  },
  bytes(value: string): number {
    const bytes = parseBytes(value);
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes > MAX_BYTES)
      throw new InvalidArgumentError("expected a size such as 512Mi or 2GiB (at most 8 PiB)");
    return bytes;
  },
  positiveNumber(value: string): number {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError("expected a number above 0");
    return number;
  },
  positiveInt(value: string): number {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0)
      throw new InvalidArgumentError("expected a whole number above 0");
    return number;
  },
  list(value: string): string[] {
    return value
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  },
};
