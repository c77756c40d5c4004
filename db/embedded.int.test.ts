/**
 * The embedded database under concurrent use, with real `rightsize` processes (dist/cli/main.js, built by
 * `npm run build`): many `run`s at once (which never own the folder: without an owner they spool), a
 * `collect` daemon owning the folder, an owner killed -9, the socket's permissions and a lock held by
 * some other program.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { cliPath, runCli } from "../test-support/cli.js";
import { openDatabase, queryRows } from "./client.js";
import {
  EmbeddedDatabaseInUseError,
  MAX_SOCKET_PATH_BYTES,
  OWNER_SOCKET_NAME,
  removeEmbeddedDatabase,
} from "./embedded.js";

const folders: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A scratch home: the database folder and the spool inside it, the processes' cwd. */
function scratch(name: string) {
  const home = mkdtempSync(join(tmpdir(), `rightsize-${name}-`));
  folders.push(home);
  const env = {
    RIGHTSIZE_SPOOL_DIR: join(home, "spool"),
    RIGHTSIZE_HOST_ID: `${name}-host`,
    LOG_LEVEL: "warn",
  };
  return { home, db: join(home, "db"), spool: join(home, "spool"), env };
}

function spoolSegments(spool: string): string[] {
  return existsSync(spool) ? readdirSync(spool).filter((name) => name.endsWith(".spool")) : [];
}

function startDaemon(db: string, env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  const child = spawn(process.execPath, [cliPath, "--db", db, "collect", "--interval", "500ms"], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  return child;
}

/** Waits until the owner's socket answers a `status` (the daemon has opened and migrated the folder). */
async function untilServing(db: string, env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  for (let attempt = 0; attempt < 600 && !existsSync(join(db, OWNER_SOCKET_NAME)); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const status = await runCli(["--db", db, "status"], { env, cwd });
  expect(status.stderr).toBe("");
  expect(status.stdout).toMatch(/database {5}pglite .* \(through process \d+\)/);
}

async function tenRunsAtOnce(db: string, env: NodeJS.ProcessEnv, cwd: string) {
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, index) =>
      runCli(
        [
          "--db",
          db,
          "run",
          "--pipeline",
          "concurrent",
          "--task",
          `task-${index}`,
          "--interval",
          "200ms",
          "--",
          "sleep",
          "1",
        ],
        { env, cwd, timeoutMs: 300_000 },
      ),
    ),
  );
  for (const result of results) {
    expect(result.code).toBe(0);
    // Nothing printed at all at the default warn level: no lock error, no "spooling" warning.
    expect(result.stderr).toBe("");
  }
}

/**
 * Every one of the ten executions is visible to `status` and `analyze`, with samples. A `collect` daemon
 * also records whatever else runs on the host (other suites' tasks on a shared machine): only this
 * test's pipeline is counted.
 */
async function expectTenVisible(db: string, env: NodeJS.ProcessEnv, home: string) {
  // The first reader of a new folder creates and migrates it (40 s on a loaded 2-core host).
  const status = await runCli(["--db", db, "status"], { env, cwd: home, timeoutMs: 300_000 });
  expect(status.code).toBe(0);
  expect(status.stderr).toBe("");
  const executions = Number(/executions {3}(\d+) /.exec(status.stdout)?.[1]);
  expect(executions).toBeGreaterThanOrEqual(10);
  const json = join(home, "analysis.json");
  const analyze = await runCli(["--db", db, "analyze", "--json", json], {
    env,
    cwd: home,
    timeoutMs: 300_000,
  });
  expect(analyze.stderr).toBe("");
  expect(analyze.code).toBe(0);
  const document = JSON.parse(readFileSync(json, "utf8")) as {
    tasks: Array<{ pipeline: string; task: string; runs: number }>;
  };
  const ours = document.tasks.filter((task) => task.pipeline === "concurrent");
  expect(ours.map((task) => task.task).sort()).toEqual(
    Array.from({ length: 10 }, (_, index) => `task-${index}`).sort(),
  );
  for (const task of ours) expect(task.runs).toBe(1);
}

async function samplesPerExecution(db: string): Promise<number[]> {
  const handle = await openDatabase(db);
  try {
    const rows = await queryRows<{ n: number }>(
      handle.db,
      sql`select count(s.ts)::int as n from task_executions e left join samples s on s.execution_id = e.id
          where e.pipeline = 'concurrent' group by e.id`,
    );
    return rows.map((row) => row.n);
  } finally {
    await handle.close();
  }
}

/**
 * A new PGlite folder took 40 s to create and migrate on a 2-core host at load 20 (BENCHMARKS.md
 * "wrapper"); a test here creates one and starts a dozen processes.
 */
const SLOW = { timeout: 900_000 };

describe("embedded database shared by concurrent processes", () => {
  it(
    "ten runs started at once on a new folder, no daemon: none starts a database, all ten spool, the next reader stores all ten, nothing printed",
    SLOW,
    async () => {
      const { home, db, spool, env } = scratch("ten-runs");
      await tenRunsAtOnce(db, env, home);
      // No run became the owner: no folder, no lock; every run's rows wait in the spool.
      expect(existsSync(db)).toBe(false);
      expect(existsSync(`${db}.lock`)).toBe(false);
      expect(spoolSegments(spool).length).toBeGreaterThanOrEqual(10);
      // The next command that opens the database (status, as owner) replays them.
      await expectTenVisible(db, env, home);
      expect(spoolSegments(spool)).toEqual([]);
      const samples = await samplesPerExecution(db);
      expect(samples).toHaveLength(10);
      for (const count of samples) expect(count).toBeGreaterThan(0);
      // The owner handed over and left: no lock, no socket.
      expect(existsSync(`${db}.lock`)).toBe(false);
      expect(existsSync(join(db, OWNER_SOCKET_NAME))).toBe(false);
    },
  );

  it(
    "ten runs beside a collect daemon that owns the folder write through it; its socket is 0600",
    SLOW,
    async () => {
      const { home, db, spool, env } = scratch("daemon-owner");
      const daemon = startDaemon(db, env, home);
      await untilServing(db, env, home);
      const socket = statSync(join(db, OWNER_SOCKET_NAME));
      expect(socket.isSocket()).toBe(true);
      expect(socket.mode & 0o777).toBe(0o600);
      // Nobody else may create or replace files (a socket) in the folder.
      expect(statSync(db).mode & 0o022).toBe(0);
      expect(Number(readFileSync(`${db}.lock`, "utf8").split(" ")[0])).toBe(daemon.pid);
      await tenRunsAtOnce(db, env, home);
      expect(spoolSegments(spool)).toEqual([]);
      // Read while the daemon still owns the folder: through its socket.
      await expectTenVisible(db, env, home);
      const exited = new Promise((resolve) => daemon.once("exit", resolve));
      daemon.kill("SIGTERM");
      await exited;
      expect(daemon.exitCode).toBe(0);
      const samples = await samplesPerExecution(db);
      expect(samples).toHaveLength(10);
      for (const count of samples) expect(count).toBeGreaterThan(0);
    },
  );

  it(
    "an owner killed -9 is detected and replaced by the next reader, which stores the run's spooled rows",
    SLOW,
    async () => {
      const { home, db, env } = scratch("stale-owner");
      const daemon = startDaemon(db, env, home);
      await untilServing(db, env, home);
      const exited = new Promise((resolve) => daemon.once("exit", resolve));
      daemon.kill("SIGKILL");
      await exited;
      // What the dead owner left: its lock and its socket.
      expect(existsSync(`${db}.lock`)).toBe(true);
      expect(existsSync(join(db, OWNER_SOCKET_NAME))).toBe(true);
      const run = await runCli(
        ["--db", db, "run", "--pipeline", "after-crash", "--task", "t", "--", "true"],
        {
          env,
          cwd: home,
          timeoutMs: 300_000,
        },
      );
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const status = await runCli(["--db", db, "status"], { env, cwd: home });
      expect(status.code).toBe(0);
      // The daemon may have stored a task of another test running on the host before it was killed: the
      // run's own execution is counted by its pipeline.
      const handle = await openDatabase(db);
      try {
        const rows = await queryRows<{ status: string }>(
          handle.db,
          sql`select status from task_executions where pipeline = 'after-crash'`,
        );
        expect(rows).toEqual([{ status: "succeeded" }]);
      } finally {
        await handle.close();
      }
    },
  );

  it(
    "refuses a folder whose lock a live process holds without serving it, naming folder and process",
    SLOW,
    async () => {
      const { home, db, env } = scratch("foreign-lock");
      const other = spawn("sleep", ["60"], { stdio: "ignore" });
      children.push(other);
      writeFileSync(`${db}.lock`, String(other.pid));
      const status = await runCli(["--db", db, "status"], { env, cwd: home });
      other.kill("SIGKILL");
      expect(status.code).toBe(1);
      expect(status.stderr).toContain(`embedded database ${db} is in use by process ${other.pid}`);
    },
  );
});

describe("embedded database folders in odd places", () => {
  it(
    "a folder whose socket path is over sun_path's limit is served to other processes, and demo --reset refuses it while open",
    SLOW,
    async () => {
      const { home, env } = scratch("long-path");
      const db = join(home, "a-deep-workspace-folder".repeat(4), "db");
      expect(Buffer.byteLength(join(db, OWNER_SOCKET_NAME))).toBeGreaterThan(MAX_SOCKET_PATH_BYTES);
      const owner = await openDatabase(db);
      try {
        expect(owner.embedded?.role).toBe("owner");
        // The socket is still in the folder itself, with the same permissions as under a short path.
        const socket = statSync(join(db, OWNER_SOCKET_NAME));
        expect(socket.isSocket()).toBe(true);
        expect(socket.mode & 0o777).toBe(0o600);
        const run = await runCli(
          ["--db", db, "run", "--pipeline", "long-path", "--task", "t", "--", "true"],
          { env, cwd: home, timeoutMs: 300_000 },
        );
        expect(run.stderr).toBe("");
        expect(run.code).toBe(0);
        const status = await runCli(["--db", db, "status"], { env, cwd: home });
        expect(status.stderr).toBe("");
        expect(status.stdout).toContain(`(through process ${process.pid})`);
        const rows = await queryRows<{ n: number }>(
          owner.db,
          sql`select count(*)::int as n from task_executions where pipeline = 'long-path'`,
        );
        expect(rows[0]?.n).toBe(1);

        const reset = await runCli(["--db", db, "demo", "--reset"], { env, cwd: home });
        expect(reset.code).toBe(2);
        expect(reset.stderr).toBe(
          `rightsize: demo --reset: the embedded database at ${db} is open in process ${process.pid} (a rightsize collect, run or other command): stop it first, or leave out --reset to add to it\n`,
        );
        expect(existsSync(join(db, "PG_VERSION"))).toBe(true);
      } finally {
        await owner.close();
      }
      expect(existsSync(join(db, OWNER_SOCKET_NAME))).toBe(false);
      expect(existsSync(`${db}.lock`)).toBe(false);
    },
  );

  it("removing a folder takes over a dead owner's lock and refuses a live owner's", () => {
    const { db } = scratch("remove");
    mkdirSync(db);
    writeFileSync(join(db, "PG_VERSION"), "17\n");
    const dead = spawnSync("true").pid;
    writeFileSync(`${db}.lock`, `${dead} 1`);
    removeEmbeddedDatabase(db);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(`${db}.lock`)).toBe(false);

    mkdirSync(db);
    const other = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(other);
    writeFileSync(`${db}.lock`, String(other.pid));
    try {
      expect(() => removeEmbeddedDatabase(db)).toThrow(EmbeddedDatabaseInUseError);
      expect(existsSync(db)).toBe(true);
      expect(readFileSync(`${db}.lock`, "utf8")).toBe(String(other.pid));
    } finally {
      other.kill("SIGKILL");
    }
  });
});
