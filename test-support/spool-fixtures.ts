/**
 * Fixtures of the spool's and the writer's tests: scratch folders that go away after the test, a spool
 * opened as the tests open it, the whole replay of a spool, what a spool set aside in `rejected/`, and a
 * pid nobody has.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";
import { parseLine, Spool, type SpoolOptions } from "../collector/storage/spool.js";
import { silentLogger } from "../common/logger.js";

/**
 * Registers the clean-up and returns a maker of scratch folders named `PREFIX…` under the temp folder,
 * removed after each test (`"each"`) or after the file's tests (`"all"`).
 */
export function useTempDirs(prefix: string, removeAfter: "each" | "all" = "each"): () => string {
  const dirs: string[] = [];
  (removeAfter === "each" ? afterEach : afterAll)(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/**
 * A spool on `dir` bounded at 1 MiB (room for everything a test appends, unless it sets a smaller
 * `maxBytes` to reach the bound) that logs nothing; `options` override any of that.
 */
export function openSpool(dir: string, options: Partial<Omit<SpoolOptions, "dir">> = {}): Spool {
  return new Spool({ dir, maxBytes: 1024 * 1024, logger: silentLogger, ...options });
}

/** Replays a whole spool as the writer does: every segment's records in order, each segment removed. */
export function replayAll(spool: Spool): unknown[] {
  const out: unknown[] = [];
  for (const segment of spool.segments()) {
    out.push(...spool.read(segment).records);
    spool.remove(segment);
  }
  return out;
}

/** The records a spool in `spoolDir` set aside in `rejected/records.spool`, in order. */
export function rejectedRecords(spoolDir: string): unknown[] {
  return readFileSync(join(spoolDir, "rejected", "records.spool"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => parseLine(line)?.value);
}

/** A pid no live process has (a child that has exited): segments named after it belong to nobody. */
export function pidOfExitedProcess(): number {
  return spawnSync("true").pid!;
}
