/**
 * The database side of the commands that collect (`run` and `collect`), in a module of its own so that
 * `run` does not load the daemon's modules (discovery, Kubernetes, trust) with `collect`'s command.
 */
import { type ReplayOptions, replayPendingSpool } from "../collector/storage/spool-replay.js";
import { createWriter, type SampleWriter } from "../collector/storage/writer.js";
import { describeError, NoEmbeddedOwnerError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { type DatabaseHandle, openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import type { Runtime } from "./runtime.js";

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

export interface CollectorDatabaseOptions {
  logger?: Logger;
  /**
   * An embedded database only through its live owner (`run`): with none, the rows go to the spool and the
   * next owner or reader stores them, so the wrapped task never waits for PGlite to start. @defaultValue false
   */
  clientOnly?: boolean;
}

export async function openCollectorDatabase(
  runtime: Runtime,
  { logger = runtime.logger, clientOnly = false }: CollectorDatabaseOptions = {},
): Promise<CollectorDatabase> {
  const { config } = runtime;
  let handle: DatabaseHandle | null = null;
  try {
    handle = await openDatabase(config.database.url, { logger, clientOnly });
    await migrateDatabase(handle, config.retention);
  } catch (error) {
    if (error instanceof NoEmbeddedOwnerError) {
      logger.info(
        { database: error.folder, spoolDir: config.collector.spoolDir },
        "no rightsize process owns the embedded database: this execution goes to the spool, and the next command that opens the database (collect, status, analyze, report) stores it",
      );
    } else {
      logger.warn(
        { err: describeError(error) },
        "database unavailable at start: samples are spooled until it answers",
      );
    }
    await handle?.close().catch(() => {});
    handle = null;
  }
  const replay = {
    databaseUrl: config.database.url,
    spoolDir: config.collector.spoolDir,
    spoolMaxBytes: config.collector.spoolMaxBytes,
    logger,
    clientOnly,
  };
  let writer: SampleWriter;
  try {
    writer = await createWriter({
      ...replay,
      // A client handle is not lent: the writer must be free to drop it when its owner hands over.
      database: handle?.embedded?.role === "client" ? undefined : (handle ?? undefined),
      clientOnly,
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
 * One more try for an embedded database's spool at close: through the next owner, or as the owner unless
 * `clientOnly`.
 */
async function replayAtClose(options: ReplayOptions & { clientOnly: boolean }): Promise<void> {
  try {
    const again = await openDatabase(options.databaseUrl, {
      logger: options.logger,
      clientOnly: options.clientOnly,
    });
    try {
      await replayPendingSpool(again, options);
    } finally {
      await again.close();
    }
  } catch (error) {
    options.logger[error instanceof NoEmbeddedOwnerError ? "info" : "warn"](
      { err: describeError(error), spoolDir: options.spoolDir },
      "batches stay in the spool: the next rightsize command replays them",
    );
  }
}
