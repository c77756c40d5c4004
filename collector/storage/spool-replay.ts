/**
 * "Replay now": writes what the spool holds into an open database, for the commands that read
 * (`status`, `analyze`, `report`) and for a writer that closed while its owner was handing over. Built
 * on the writer's public API: a writer that borrows the handle adopts the segments no live process owns
 * (collector/storage/spool.ts), and each flush replays them in order.
 */
import { existsSync, readdirSync } from "node:fs";
import type { Logger } from "../../common/logger.js";
import type { DatabaseHandle } from "../../db/client.js";
import { createWriter } from "./writer.js";

export interface ReplayOptions {
  databaseUrl: string;
  spoolDir: string;
  spoolMaxBytes: number;
  logger: Logger;
}

/** Whether the folder holds spool segments at all (cheap; never creates the folder). */
export function spoolHasSegments(spoolDir: string): boolean {
  if (!existsSync(spoolDir)) return false;
  try {
    return readdirSync(spoolDir).some((name) => name.startsWith("segment-") && name.endsWith(".spool"));
  } catch {
    return false;
  }
}

/**
 * Replays every segment no live process owns into `handle`. Returns the bytes still spooled (0 when
 * all went in; segments of live processes are theirs to replay and not counted).
 */
export async function replayPendingSpool(handle: DatabaseHandle, options: ReplayOptions): Promise<number> {
  if (!spoolHasSegments(options.spoolDir)) return 0;
  const writer = await createWriter({
    ...options,
    database: handle,
    // Flushed by hand below; the timer must not start a cycle of its own.
    flushIntervalMs: 3_600_000,
  });
  // Each flush replays for a bounded time (collector/storage/writer.ts); go on while it makes progress.
  let before = writer.stats().spoolBytes;
  while (before > 0) {
    await writer.flush();
    const after = writer.stats().spoolBytes;
    if (after >= before) break;
    before = after;
  }
  await writer.close();
  return writer.stats().spoolBytes;
}
