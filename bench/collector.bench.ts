/**
 * Collector CPU per tick: 50 task processes tracked on a host with 1,000 processes (950 plain
 * `sleep`s + 50 tasks with RIGHTSIZE_* env, each its own task execution: python loops waking every
 * 250 ms, or with COLLECTOR_BENCH_TASKS=idle `sleep`s), side by side in one run with
 * pidusage and systeminformation's processes() over the same 50 pids, and `pidstat` (sysstat). Target:
 * ≤ 5 ms CPU per tick. Then the real loop (1 s ticks, 10 ms polls) for a few minutes: CPU per second
 * and the collector's RSS at start and at the end.
 *
 * CPU is process.cpuUsage() for in-process readers, and the bench's own cutime+cstime (reaped children,
 * /proc/self/stat) for tools that spawn (systeminformation's `ps`, pidstat). Rows go to a counting sink:
 * this measures the collector's eyes, not the database (see the ingest benchmark).
 *
 * `--soak-minutes N` (node dist/bench/collector.bench.js --soak-minutes 30): the soak alone, see {@link soak}.
 * Minutes of the real loop: `--minutes N` when run directly (node dist/bench/collector.bench.js
 * --minutes 10) or COLLECTOR_BENCH_MINUTES=N under `npm run bench`; default 1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import pidusage from "pidusage";
import postgres from "postgres";
import si from "systeminformation";
import { startSamplerLoop } from "../collector/tracking/loop.js";
import { Sampler, type SampleSink } from "../collector/tracking/sampler.js";
import { silentLogger } from "../common/logger.js";
import { procStatFields } from "../common/process-alive.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";

const TASKS = 50;
const HOST_PROCESSES = 1000;
const TICKS = 50;
const POLLS = 400;

function childCpuMs(): number {
  // Fields after the comm's ')' : cutime is index 13, cstime 14 (man 5 proc), in 1/100 s.
  const fields = procStatFields("self")!;
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function rssMiB(): number {
  return process.memoryUsage().rss / 1024 ** 2;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function spawnHost(forkEveryMs?: number): Promise<{ tasks: ChildProcess[]; all: ChildProcess[] }> {
  const all: ChildProcess[] = [];
  const tasks: ChildProcess[] = [];
  for (let i = 0; i < HOST_PROCESSES; i++) {
    const task = i < TASKS;
    const env = task
      ? {
          PATH: process.env.PATH,
          RIGHTSIZE_PIPELINE: "bench",
          RIGHTSIZE_TASK: `task-${i}`,
          RIGHTSIZE_RUN: `run-${process.pid}`,
        }
      : { PATH: process.env.PATH };
    // Waking tasks run a little every 250 ms, so every tick reads all their files (the worst case for
    // the sampler, which skips a process that was not scheduled since the last tick); idle ones sleep.
    const child =
      task && forkEveryMs !== undefined
        ? // A BashOperator-like tree: a short-lived child every forkEveryMs.
          spawn("/bin/bash", ["-c", `while :; do /bin/true; sleep ${forkEveryMs / 1000}; done`], {
            stdio: "ignore",
            env,
          })
        : task && taskKind() === "waking"
          ? spawn("python3", ["-c", "import time\nwhile True: time.sleep(0.25)"], { stdio: "ignore", env })
          : spawn("sleep", ["3600"], { stdio: "ignore", env });
    all.push(child);
    if (task) tasks.push(child);
    // Spawning in bursts keeps the event loop (and fork rate) sane on a 2-core machine.
    if (i % 50 === 49) await sleep(20);
  }
  await sleep(500);
  return { tasks, all };
}

function countingSink(): SampleSink & { rows: number } {
  const sink = {
    rows: 0,
    execution() {},
    samples(rows: unknown[]) {
      sink.rows += rows.length;
    },
    processes() {},
  };
  return sink;
}

/** COLLECTOR_BENCH_TASKS=idle (sleeping) or waking (default: the sampler reads them fully each tick). */
function taskKind(): "idle" | "waking" {
  const kind = process.env.COLLECTOR_BENCH_TASKS ?? "waking";
  if (kind !== "idle" && kind !== "waking")
    throw new Error(`COLLECTOR_BENCH_TASKS: '${kind}' is not idle or waking`);
  return kind;
}

function minutesWanted(): number {
  const flag = process.argv.indexOf("--minutes");
  const text = flag >= 0 ? process.argv[flag + 1] : process.env.COLLECTOR_BENCH_MINUTES;
  const minutes = text === undefined ? 1 : Number(text);
  if (!Number.isFinite(minutes) || minutes < 0)
    throw new Error(`--minutes: '${text}' is not a number of minutes`);
  return minutes;
}

export async function run(): Promise<void> {
  const minutes = minutesWanted();
  const { tasks, all } = await spawnHost();
  const pids = tasks.map((child) => child.pid!);
  try {
    const sink = countingSink();
    const rssBefore = rssMiB();
    const sampler = new Sampler({
      procRoot: "/proc",
      cgroupRoot: "/sys/fs/cgroup",
      hostId: "bench",
      sink,
      logger: silentLogger,
      redact: (argv) => argv,
      intervalMs: 1000,
    });
    // First discovery reads every pid of the host once; each new pid is looked at in its first 3 ticks.
    let before = ownCpuMs();
    sampler.discover();
    sampler.tick();
    const firstTickMs = ownCpuMs() - before;
    for (let i = 0; i < 3; i++) {
      sampler.discover();
      sampler.tick();
      await sleep(50);
    }
    const tracked = sampler.openExecutions().length;

    let cpu = 0;
    for (let i = 0; i < TICKS; i++) {
      await sleep(20);
      before = ownCpuMs();
      sampler.discover();
      sampler.tick();
      cpu += ownCpuMs() - before;
    }
    const tickMs = cpu / TICKS;

    cpu = 0;
    for (let i = 0; i < POLLS; i++) {
      before = ownCpuMs();
      sampler.poll();
      cpu += ownCpuMs() - before;
    }
    const pollMs = cpu / POLLS;

    // On a busy host something forks between most polls: every tree's children lists are read.
    cpu = 0;
    for (let i = 0; i < POLLS; i++) {
      before = ownCpuMs();
      sampler.poll(true);
      cpu += ownCpuMs() - before;
    }
    const busyPollMs = cpu / POLLS;

    cpu = 0;
    await pidusage(pids);
    for (let i = 0; i < TICKS; i++) {
      await sleep(20);
      before = ownCpuMs();
      await pidusage(pids);
      cpu += ownCpuMs() - before;
    }
    pidusage.clear();
    const pidusageMs = cpu / TICKS;

    // systeminformation spawns `ps` and helpers per call: few calls, own CPU + reaped children.
    const siCalls = 3;
    const wanted = new Set(pids);
    before = ownCpuMs() + childCpuMs();
    let siSeen = 0;
    for (let i = 0; i < siCalls; i++) {
      const list = await si.processes();
      siSeen = list.list.filter((entry) => wanted.has(entry.pid)).length;
    }
    const siMs = (ownCpuMs() + childCpuMs() - before) / siCalls;

    // pidstat reporting CPU, memory and disk of the same pids, 10 one-second reports.
    const reports = 10;
    const childBefore = childCpuMs();
    await new Promise<void>((resolve, reject) => {
      const pidstat = spawn("pidstat", ["-h", "-u", "-r", "-d", "-p", pids.join(","), "1", String(reports)], {
        stdio: "ignore",
      });
      pidstat.on("error", reject);
      pidstat.on("exit", () => resolve());
    });
    const pidstatMs = (childCpuMs() - childBefore) / reports;

    const plain = { style: { head: [], border: [] } };
    const table = new Table({
      ...plain,
      head: [
        `reader (50 ${taskKind()} task pids, 1,000 on host)`,
        "CPU ms / tick",
        "× rightsize",
        "what it reads",
      ],
    });
    const row = (name: string, ms: number, what: string) =>
      table.push([name, ms.toFixed(2), (ms / tickMs).toFixed(2), what]);
    row(
      "rightsize sampler tick (discover + tick)",
      tickMs,
      `stat, io, schedstat, syscall, children; ${tracked} executions`,
    );
    row("rightsize poll, nothing forked", pollMs, "/proc/loadavg (last pid unchanged)");
    row("rightsize poll, every tree read", busyPollMs, "task/TID/children of the 50 trees");
    row("pidusage(pids)", pidusageMs, "/proc/PID/stat only");
    row("systeminformation processes()", siMs, `ps + helpers for every process (${siSeen}/50 pids found)`);
    row("pidstat -u -r -d -p PIDS 1", pidstatMs, "stat, status, io (C)");
    process.stdout.write(`${table.toString()}\n`);
    process.stdout.write(
      `first tick (discovering all ${HOST_PROCESSES}+ pids): ${firstTickMs.toFixed(1)} ms CPU; 100 polls a second (10 ms) cost ${(100 * pollMs).toFixed(2)} ms CPU/s on a quiet host and at most ${(100 * busyPollMs).toFixed(1)} ms CPU/s when every tree is read every poll (busy trees are; quiet ones every 200 ms, and with no busy tree polls run every 50 ms)\n`,
    );

    // The real loop as `collect` runs it: 1 s ticks, 10 ms polls, discovery every tick.
    if (minutes > 0) {
      const rssStart = rssMiB();
      const cpuStart = ownCpuMs();
      const loop = startSamplerLoop(sampler, { intervalMs: 1000, discover: true, logger: silentLogger });
      const seconds = minutes * 60;
      await sleep(seconds * 1000);
      loop.stop();
      const cpuPerSecond = (ownCpuMs() - cpuStart) / seconds;
      const loopTable = new Table({ ...plain, head: ["real loop", "value"] });
      loopTable.push(
        ["minutes", String(minutes)],
        ["ticks", String(loop.ticks())],
        ["CPU ms per second (ticks + 100 polls)", cpuPerSecond.toFixed(2)],
        ["share of one core", `${(cpuPerSecond / 10).toFixed(2)} %`],
        ["RSS before the sampler (MiB)", rssBefore.toFixed(1)],
        ["RSS at loop start (MiB)", rssStart.toFixed(1)],
        [`RSS after ${minutes} min (MiB)`, rssMiB().toFixed(1)],
        ["sample rows produced", String(sink.rows)],
      );
      process.stdout.write(`${loopTable.toString()}\n`);
    }
    sampler.close();
  } finally {
    for (const child of all) child.kill("SIGKILL");
  }
}

/** Own utime+stime of another process, ms (/proc/PID/stat fields 14 and 15, 1/100 s). */
function processCpuMs(pid: number): number {
  const fields = procStatFields(pid);
  if (fields === null) throw new Error(`process ${pid} is gone`);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function forkSecondsWanted(): number {
  const flag = process.argv.indexOf("--fork-seconds");
  const text = flag >= 0 ? process.argv[flag + 1] : (process.env.COLLECTOR_BENCH_FORK_SECONDS ?? "600");
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`--fork-seconds: '${text}' is not a number`);
  return seconds;
}

/**
 * VmRSS, VmHWM (peak) and RssAnon of another process, MiB. RSS less its anonymous part is mostly the node
 * binary's pages (file-backed, clean: shared with every Node process of the host and reclaimable).
 */
function processRssMiB(pid: number): { rss: number; peak: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024, anon: kib("RssAnon") / 1024 };
}

/** RSS as the fork-rate table shows it: now (peak) and the anonymous part. */
function formatRss(memory: { rss: number; peak: number; anon: number }): string {
  return `${memory.rss.toFixed(1)} (${memory.peak.toFixed(1)}), anonymous ${memory.anon.toFixed(1)}`;
}

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const cliMain = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/** Node's flags as the deployment files run the collector (deploy/systemd, compose, DaemonSet). */
const DEPLOYED_NODE_OPTIONS = "--max-semi-space-size=1";

/**
 * A third collector, with exits from accounting, beside this build's over the same host, so a change is
 * measured against what it changes in the same run: another build's CLI
 * (`COLLECTOR_BENCH_BASELINE_CLI=/path/to/dist/cli/main.js`), more flags for Node on its command line
 * (`COLLECTOR_BENCH_BASELINE_NODE_FLAGS="--max-old-space-size=32"`; some, such as `--optimize-for-size`,
 * Node refuses in NODE_OPTIONS), or both.
 */
const baselineCli = process.env.COLLECTOR_BENCH_BASELINE_CLI;
const baselineNodeFlags = process.env.COLLECTOR_BENCH_BASELINE_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
const profileDir = process.env.COLLECTOR_BENCH_PROFILE_DIR;

/** A real `rightsize collect` on its own scratch Postgres database, exits from `accounting`. */
async function startCollector(
  accounting: "acct" | "poll",
  folder: string,
  cli = cliMain,
  label: string = accounting,
  nodeFlags: string[] = [],
) {
  const database = await createScratchDatabase(adminUrl, `rightsize_bench_${label}`);
  // COLLECTOR_BENCH_PROFILE_DIR=DIR writes each collector's `--cpu-prof` there when it stops (node refuses
  // the flag in NODE_OPTIONS).
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, label)}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...profile, cli, "--db", database.url, "collect"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      LOG_LEVEL: "info",
      RIGHTSIZE_ACCOUNTING: accounting,
      RIGHTSIZE_STATE_DIR: join(folder, `state-${label}`),
      RIGHTSIZE_SPOOL_DIR: join(folder, `spool-${label}`),
      RIGHTSIZE_HOST_ID: `bench-${label}`,
      NODE_OPTIONS: DEPLOYED_NODE_OPTIONS,
    },
  });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    if (log.length < 100_000) log += chunk.toString();
  });
  return {
    child,
    label:
      (cli === cliMain ? "" : ` (baseline build ${cli})`) +
      (nodeFlags.length === 0 ? "" : ` (node ${nodeFlags.join(" ")})`),
    /** The method the collector said it uses (its start-up log line). */
    method: () => /exited processes: ([^"]*)"/.exec(log)?.[1] ?? "?",
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `the ${label} collector exited early (${child.exitCode ?? child.signalCode}):\n${log}`,
        );
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
    /** Executions found and sample rows written, from its database. */
    async counts(): Promise<{ executions: number; samples: number }> {
      const sql = postgres(database.url, { max: 1, onnotice: () => {}, fetch_types: false });
      try {
        const [row] = await sql<{ executions: number; samples: number }[]>`
          select (select count(*)::int from task_executions) as executions,
                 (select count(*)::int from samples) as samples`;
        return row!;
      } finally {
        await sql.end();
      }
    },
    drop: () => database.drop(),
  };
}

/**
 * The loop's cost as tasks start children: 50 task trees among 1,000 processes, each starting a
 * short-lived child every 2 s and every 0.3 s, for `--fork-seconds` (COLLECTOR_BENCH_FORK_SECONDS,
 * default 600: 10 minutes per rate). Side by side, at the same time over the same host: a real
 * `rightsize collect` with exits from BSD process accounting, another with the poll (each writing to its
 * own Postgres database), pidstat over the 50 task pids, and netdata's apps.plugin (every process of the
 * host, every second). Each one's CPU is its own utime+stime over the window, after a 20-s warm-up (the
 * collectors' first discovery reads every process once).
 */
export async function forkRates(): Promise<void> {
  const seconds = forkSecondsWanted();
  if (seconds === 0) return;
  const plain = { style: { head: [], border: [] } };
  const table = new Table({
    ...plain,
    head: [
      `reader (50 forking trees, 1,000 on host, ${seconds} s, all at once)`,
      "child every",
      "% of a core",
      "RSS MiB (peak), anonymous",
      "executions / samples",
    ],
  });
  // Each row is printed as it is measured too, so a run cut short keeps what it measured.
  const push = (row: string[]) => {
    table.push(row);
    process.stdout.write(`${row.join(" | ")}\n`);
  };
  const warmUpMs = 20_000;
  for (const forkEveryMs of (process.env.COLLECTOR_BENCH_FORK_MS ?? "2000,300").split(",").map(Number)) {
    const { tasks, all } = await spawnHost(forkEveryMs);
    const pids = tasks.map((child) => child.pid!);
    const every = `${forkEveryMs / 1000} s`;
    const folder = mkdtempSync(join(tmpdir(), "rightsize-bench-collect-"));
    const collectors = [await startCollector("acct", folder), await startCollector("poll", folder)];
    if (baselineCli || baselineNodeFlags.length > 0) {
      collectors.push(
        await startCollector("acct", folder, baselineCli ?? cliMain, "baseline", baselineNodeFlags),
      );
    }
    // Node's own floor: an idle Node process with the collector's flags, whose RSS any collector in Node
    // stands on.
    const idleNode = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      stdio: "ignore",
      env: { ...process.env, NODE_OPTIONS: DEPLOYED_NODE_OPTIONS },
    });
    const pidstat = spawn(
      "pidstat",
      ["-h", "-u", "-r", "-d", "-p", pids.join(","), "1", String(Math.ceil(warmUpMs / 1000 + seconds + 5))],
      { stdio: "ignore" },
    );
    // apps.plugin speaks netdata's plugin protocol: it stops when its stdin closes, so it gets a pipe.
    const apps = spawn("/usr/lib/netdata/plugins.d/apps.plugin", ["1"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    try {
      await sleep(warmUpMs);
      const readers = [
        ...collectors.map((collector) => ({ name: "", pid: collector.child.pid!, collector })),
        { name: "pidstat -u -r -d -p PIDS 1", pid: pidstat.pid!, collector: null },
        { name: "netdata apps.plugin 1", pid: apps.pid!, collector: null },
        { name: "node, idle (Node's own floor)", pid: idleNode.pid!, collector: null },
      ];
      const cpuOf = (pid: number) => {
        try {
          return processCpuMs(pid);
        } catch {
          return NaN; // it exited
        }
      };
      const before = readers.map((reader) => cpuOf(reader.pid));
      await sleep(seconds * 1000);
      const after = readers.map((reader) => cpuOf(reader.pid));
      for (const [index, reader] of readers.entries()) {
        const share = (after[index]! - before[index]!) / seconds / 10;
        const shown = Number.isFinite(share) ? share.toFixed(2) : "exited early";
        if (reader.collector) {
          const memory = processRssMiB(reader.pid);
          const counts = await reader.collector.counts();
          push([
            `rightsize collect, exits from ${reader.collector.method()}${reader.collector.label}`,
            every,
            shown,
            formatRss(memory),
            `${counts.executions} / ${counts.samples}`,
          ]);
        } else {
          push([
            reader.name,
            every,
            shown,
            reader.pid === idleNode.pid ? formatRss(processRssMiB(reader.pid)) : "-",
            "-",
          ]);
        }
      }
    } finally {
      idleNode.kill("SIGKILL");
      apps.kill("SIGKILL");
      pidstat.kill("SIGKILL");
      // The host goes first: a collector that exited early throws from stop(), and must not leave 1,000
      // processes behind to load the next run.
      for (const child of all) child.kill("SIGKILL");
      const stopped = await Promise.allSettled(
        collectors.map(async (collector) => {
          try {
            await collector.stop();
          } finally {
            await collector.drop();
          }
        }),
      );
      rmSync(folder, { recursive: true, force: true });
      await sleep(500);
      const failed = stopped.find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
    }
  }
  process.stdout.write(`${table.toString()}\n`);
}

/** Open fds of another process: the collector keeps one per file it re-reads, so its maps show here. */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Bytes under a folder (the spool), 0 when it does not exist. */
function folderBytes(folder: string): number {
  try {
    return readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .reduce((sum, entry) => sum + statSync(join(entry.parentPath, entry.name)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * No growth over time: one real `rightsize collect` (exits from process accounting) for `--soak-minutes`
 * (default 30) under the fork-rate workload (50 trees among 1,000 processes, a child every 0.3 s), read
 * once a minute: its CPU over the minute, RSS, open fds (the kept-fd map) and spool bytes. Prints every
 * minute and the first five minutes against the last five.
 */
export async function soak(minutes: number): Promise<void> {
  const { all } = await spawnHost(300);
  const folder = mkdtempSync(join(tmpdir(), "rightsize-bench-soak-"));
  const collector = await startCollector("acct", folder);
  const pid = collector.child.pid!;
  const rows: Array<{ minute: number; cpu: number; rss: number; peak: number; fds: number; spool: number }> =
    [];
  try {
    await sleep(20_000);
    let before = processCpuMs(pid);
    process.stdout.write("minute | % of a core | RSS MiB (peak) | open fds | spool bytes\n");
    for (let minute = 1; minute <= minutes; minute++) {
      await sleep(60_000);
      const now = processCpuMs(pid);
      const memory = processRssMiB(pid);
      const row = {
        minute,
        cpu: (now - before) / 600,
        rss: memory.rss,
        peak: memory.peak,
        fds: openFds(pid),
        spool: folderBytes(join(folder, "spool-acct")),
      };
      before = now;
      rows.push(row);
      process.stdout.write(
        `${minute} | ${row.cpu.toFixed(2)} | ${row.rss.toFixed(1)} (${row.peak.toFixed(1)}) | ${row.fds} | ${row.spool}\n`,
      );
    }
    const mean = (part: typeof rows, key: "cpu" | "rss" | "fds") =>
      part.reduce((sum, row) => sum + row[key], 0) / Math.max(part.length, 1);
    const first = rows.slice(0, 5);
    const last = rows.slice(-5);
    const counts = await collector.counts();
    process.stdout.write(
      `first 5 min: ${mean(first, "cpu").toFixed(2)} % of a core, RSS ${mean(first, "rss").toFixed(1)} MiB, ${mean(first, "fds").toFixed(0)} fds; ` +
        `last 5 min: ${mean(last, "cpu").toFixed(2)} %, RSS ${mean(last, "rss").toFixed(1)} MiB, ${mean(last, "fds").toFixed(0)} fds; ` +
        `peak RSS ${Math.max(...rows.map((row) => row.peak)).toFixed(1)} MiB; ${counts.executions} executions, ${counts.samples} samples\n`,
    );
  } finally {
    await collector.stop();
    await collector.drop();
    for (const child of all) child.kill("SIGKILL");
    rmSync(folder, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const soakFlag = process.argv.indexOf("--soak-minutes");
  if (soakFlag >= 0) {
    const minutes = Number(process.argv[soakFlag + 1]);
    if (!(Number.isInteger(minutes) && minutes >= 10))
      throw new Error(
        `--soak-minutes: '${process.argv[soakFlag + 1]}' is not a whole number of minutes, 10 or more`,
      );
    await soak(minutes);
  } else {
    if (!process.argv.includes("--fork-only")) await run();
    await forkRates();
  }
}
