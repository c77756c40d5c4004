/**
 * The set-up shared by the tests that run the built `rightsize collect` (`npm run build`) against real
 * processes and the real Postgres: a migrated database and a scratch folder per test file, workload
 * processes in process groups of their own (killed with every descendant when the file ends, so no
 * orphan outlives the test), and the collector run for a while, or started and stopped by SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll } from "vitest";
import { queryRows } from "../db/client.js";
import { type CliResult, cliPath, runCli } from "./cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "./databases.js";

export interface CollectOptions {
  /** RIGHTSIZE_HOST_ID: tells this test's executions from those of other tests on the same database. */
  hostId: string;
  /** @defaultValue "500ms" */
  interval?: string;
  /** The spool folder, under the file's scratch folder. @defaultValue "spool" */
  spool?: string;
  /** More environment (RIGHTSIZE_* settings). */
  env?: NodeJS.ProcessEnv;
  /** More flags after `collect`. */
  args?: string[];
}

/** How `startCollector` starts `collect`. */
export interface StartCollectorOptions extends CollectOptions {
  /**
   * Resolve once it logged "collector started" (it logs at info level for that), or else as soon as it
   * is spawned (at warn level), for a test that reads its workload before the collector's first look.
   * @defaultValue true
   */
  awaitStart?: boolean;
}

export interface RunningCollector {
  /** What it logged so far (at info level, or warn when not awaited). */
  stderr(): string;
  /** Sends SIGTERM and resolves with its exit code (a signal's name when a signal ended it). */
  stop(): Promise<number | string | null>;
}

/** An execution as the collector stored it, with its sample count and its last CPU total. */
export type StoredExecution = {
  orchestrator: string;
  pipeline: string;
  task: string;
  run_id: string;
  try_number: number;
  map_index: number;
  attribution: string;
  status: string;
  root_pid: number;
  samples: number;
  cpu: number | null;
};

export interface CollectorTestBed {
  /** The file's database, migrated (set in beforeAll). */
  readonly database: TestDatabase;
  /** The file's scratch folder (set in beforeAll), removed when the file ends. */
  readonly folder: string;
  /**
   * Starts a workload process in a process group of its own, killed with its descendants at the end.
   * `env` is its whole environment besides PATH (this process's unless given).
   */
  start(
    file: string,
    args: string[],
    env?: Record<string, string>,
    options?: { uid?: number; gid?: number; cwd?: string },
  ): ChildProcess;
  /**
   * Writes `text` to `path` under the folder (making the folders it needs), makes it executable and
   * returns its full path: a stand-in for a command a task is started with, such as `airflow`.
   */
  executable(path: string, text: string): string;
  /** Runs `collect --duration DURATION` to its end. */
  collect(duration: string, options: CollectOptions): Promise<CliResult>;
  /**
   * Starts `collect` (without a duration unless `args` give one); resolves once it logged "collector
   * started", or at once when `awaitStart` is false.
   */
  startCollector(options: StartCollectorOptions): Promise<RunningCollector>;
  /** The executions stored for `hostId`, in run id order. */
  executions(hostId: string): Promise<StoredExecution[]>;
}

/** Registers the file's beforeAll/afterAll and returns its test bed. */
export function useCollectorTestBed(folderPrefix: string): CollectorTestBed {
  let database: TestDatabase | undefined;
  let folder: string | undefined;
  const groups: ChildProcess[] = [];
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the collector test bed's ${what} is set in beforeAll`);
    return value;
  };

  beforeAll(async () => {
    database = await createPostgresTestDatabase();
    folder = mkdtempSync(join(tmpdir(), folderPrefix));
  });
  afterAll(async () => {
    for (const child of groups) {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await database?.drop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const collectArgs = (options: CollectOptions, duration: string[]) => [
    "--db",
    ready(database, "database").url,
    "collect",
    "--interval",
    options.interval ?? "500ms",
    ...duration,
    ...(options.args ?? []),
  ];
  const collectEnv = (options: CollectOptions): NodeJS.ProcessEnv => ({
    RIGHTSIZE_HOST_ID: options.hostId,
    RIGHTSIZE_SPOOL_DIR: join(ready(folder, "folder"), options.spool ?? "spool"),
    ...options.env,
  });

  return {
    get database() {
      return ready(database, "database");
    },
    get folder() {
      return ready(folder, "folder");
    },
    start(file, args, env = {}, options = {}) {
      const child = spawn(file, args, {
        detached: true,
        stdio: "ignore",
        ...options,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      });
      groups.push(child);
      return child;
    },
    executable(path, text) {
      const file = join(ready(folder, "folder"), path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      chmodSync(file, 0o755);
      return file;
    },
    collect(duration, options) {
      return runCli(collectArgs(options, ["--duration", duration]), { env: collectEnv(options) });
    },
    async startCollector(options) {
      const awaitStart = options.awaitStart ?? true;
      const child = spawn(process.execPath, [cliPath, ...collectArgs(options, [])], {
        env: { ...process.env, ...collectEnv(options), LOG_LEVEL: awaitStart ? "info" : "warn" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      groups.push(child);
      child.stdout.resume();
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<number | string | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(code ?? signal)),
      );
      if (awaitStart)
        await new Promise<void>((resolve, reject) => {
          child.stderr.on("data", () => {
            if (stderr.includes("collector started")) resolve();
          });
          void exited.then((code) =>
            reject(new Error(`collect exited (${code}) before it started:\n${stderr}`)),
          );
        });
      return {
        stderr: () => stderr,
        stop: () => {
          child.kill("SIGTERM");
          return exited;
        },
      };
    },
    executions(hostId) {
      return queryRows<StoredExecution>(
        ready(database, "database").handle.db,
        sql`select orchestrator, pipeline, task, run_id, try_number, map_index, attribution, status, root_pid,
                   (select count(*)::int from samples s where s.execution_id = e.id) as samples,
                   (select max(cpu_seconds_total) from samples s where s.execution_id = e.id)::float8 as cpu
              from task_executions e where host_id = ${hostId} order by run_id`,
      );
    },
  };
}

/**
 * Calls `probe` every 50 ms until `done` holds for its answer or `timeoutMs` passes; returns its last
 * answer.
 */
export async function waitUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await probe();
  }
  return value;
}
