/**
 * What `rightsize run` costs around a short task, side by side with the bare command (the floor), each
 * under GNU `/usr/bin/time` (user + system CPU of the whole tree, and the largest peak RSS among its
 * processes: the wrapper's, as the task here is a `sleep`). Cases: Postgres; the embedded default with
 * an owner running (a `collect` daemon, so `run` writes through its socket); the embedded default with no
 * owner (`run` starts no database and spools its rows for the next reader). Then the embedded daemon's own
 * peak memory (VmHWM) once it serves a new folder (its first start) and after it served those runs, and its
 * CPU. Median of `WRAPPER_BENCH_RUNS` (default 5) runs each. With `WRAPPER_BENCH_BASELINE=DIST` (another
 * build's dist/, e.g. the previous commit built in a scratch folder) that build's `run` takes turns with
 * this one's on Postgres, and its daemon serves the same runs of its own CLI right after this build's, for
 * a side by side in the same run.
 *
 * `node --expose-gc dist/bench/run.js wrapper`; `BENCH_DATABASE_URL` names the Postgres server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import { OWNER_SOCKET_NAME } from "../db/embedded.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const runs = Number(process.env.WRAPPER_BENCH_RUNS ?? 5);
const cli = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const task = ["sleep", "2"];

interface Usage {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

/** One command under `/usr/bin/time -f`, its stdout and stderr discarded. */
function timed(argv: string[], env: NodeJS.ProcessEnv): Usage {
  const result = spawnSync("/usr/bin/time", ["-f", "TIME %e %U %S %M", ...argv], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    encoding: "utf8",
  });
  const line = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(result.stderr);
  if (!line || result.status !== 0) throw new Error(`failed: ${argv.join(" ")}\n${result.stderr}`);
  return {
    wallSeconds: Number(line[1]),
    cpuSeconds: Number(line[2]) + Number(line[3]),
    // GNU time reports ru_maxrss in KiB.
    maxRssBytes: Number(line[4]) * 1024,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function medianUsage(samples: Usage[]): Usage {
  return {
    wallSeconds: median(samples.map((sample) => sample.wallSeconds)),
    cpuSeconds: median(samples.map((sample) => sample.cpuSeconds)),
    maxRssBytes: median(samples.map((sample) => sample.maxRssBytes)),
  };
}

function wrapped(db: string, index: number, cliPath: string = cli): string[] {
  return [
    process.execPath,
    cliPath,
    "--db",
    db,
    "run",
    "--pipeline",
    "bench",
    "--task",
    `t${index}`,
    "--",
    ...task,
  ];
}

function vmHwm(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** User + system CPU seconds of a live process, from /proc/PID/stat (proc(5): fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function untilServing(folder: string, daemon: ChildProcess, cliPath: string): Promise<void> {
  // The daemon listens first and answers once PGlite is open and migrated: a status through it waits.
  while (!existsSync(join(folder, OWNER_SOCKET_NAME))) {
    if (daemon.exitCode !== null) throw new Error("the collect daemon exited before serving");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  timed([process.execPath, cliPath, "--db", folder, "status"], {});
}

interface DaemonUsage {
  firstStartPeakBytes: number;
  firstStartCpuSeconds: number;
  peakBytes: number;
  cpuSeconds: number;
}

/**
 * A `collect` daemon of `cliPath` on a new embedded folder: its peak RSS and CPU once it serves (the first
 * start: the folder created and migrated), then after `serve` ran the wrapped commands through it.
 */
async function daemonOnNewFolder(
  cliPath: string,
  folder: string,
  env: NodeJS.ProcessEnv,
  serve: () => void,
): Promise<DaemonUsage> {
  const daemon = spawn(process.execPath, [cliPath, "--db", folder, "collect"], {
    env: { ...process.env, ...env, LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  try {
    await untilServing(folder, daemon, cliPath);
    const firstStartPeakBytes = vmHwm(daemon.pid!);
    const firstStartCpuSeconds = cpuSeconds(daemon.pid!);
    serve();
    return {
      firstStartPeakBytes,
      firstStartCpuSeconds,
      peakBytes: vmHwm(daemon.pid!),
      cpuSeconds: cpuSeconds(daemon.pid!),
    };
  } finally {
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
  }
}

export async function run(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "rightsize-bench-wrapper-"));
  const env = { RIGHTSIZE_SPOOL_DIR: join(home, "spool") };
  const scratch = await createScratchDatabase(adminUrl, "rightsize_bench_wrapper");
  const rows: Array<[string, Usage]> = [];
  const daemons: Array<[string, DaemonUsage]> = [];
  const baseline = process.env.WRAPPER_BENCH_BASELINE;
  try {
    /** Each command `runs` times, the commands taking turns so that a drift of the load hits them alike. */
    const measure = (...commands: Array<[label: string, argv: (index: number) => string[]]>) => {
      const samples = commands.map((): Usage[] => []);
      for (let index = 0; index < runs; index++) {
        commands.forEach(([, argv], which) => samples[which]!.push(timed(argv(index), env)));
      }
      commands.forEach(([label], which) => rows.push([label, medianUsage(samples[which]!)]));
    };
    measure([`bare: ${task.join(" ")}`, () => task]);
    // What any wrapper written for Node pays before its first line runs.
    measure(["node -e 0 (Node's own start)", () => [process.execPath, "-e", "0"]]);
    // Migrated once first, as a deployed database is: the runs measure the wrapper, not the schema.
    timed([process.execPath, cli, "--db", scratch.url, "db", "migrate"], env);
    if (baseline) {
      const baselineCli = join(baseline, "cli/main.js");
      measure(
        ["run, Postgres", (index) => wrapped(scratch.url, index)],
        [`run, Postgres, ${baseline}`, (index) => wrapped(scratch.url, index + runs, baselineCli)],
      );
    } else {
      measure(["run, Postgres", (index) => wrapped(scratch.url, index)]);
    }

    const owned = join(home, "owned");
    daemons.push([
      "this build",
      await daemonOnNewFolder(cli, owned, env, () =>
        measure(["run, embedded, owner running", (index) => wrapped(owned, index)]),
      ),
    ]);
    if (baseline) {
      const baselineCli = join(baseline, "cli/main.js");
      const folder = join(home, "baseline");
      daemons.push([
        baseline,
        await daemonOnNewFolder(baselineCli, folder, env, () => {
          for (let index = 0; index < runs; index++) timed(wrapped(folder, index, baselineCli), env);
        }),
      ]);
    }

    const alone = join(home, "alone");
    timed([process.execPath, cli, "--db", alone, "db", "migrate"], env);
    measure(["run, embedded, no owner (run spools)", (index) => wrapped(alone, index)]);
  } finally {
    await scratch.drop();
    rmSync(home, { recursive: true, force: true });
  }

  const floor = rows[0]![1];
  // On a loaded machine CPU seconds inflate with contention: the ratio to Node's own start, taken in the
  // same run, is the figure that compares across runs.
  const nodeStart = rows[1]![1];
  const table = new Table({
    head: [
      "command (median of runs)",
      "wall s",
      "CPU s",
      "CPU s over bare",
      "CPU × node -e 0",
      "peak RSS MiB",
      "× bare RSS",
    ],
  });
  for (const [label, usage] of rows) {
    table.push([
      label,
      usage.wallSeconds.toFixed(2),
      usage.cpuSeconds.toFixed(2),
      (usage.cpuSeconds - floor.cpuSeconds).toFixed(2),
      nodeStart.cpuSeconds > 0 ? (usage.cpuSeconds / nodeStart.cpuSeconds).toFixed(1) : "–",
      (usage.maxRssBytes / 1024 ** 2).toFixed(0),
      (usage.maxRssBytes / floor.maxRssBytes).toFixed(0),
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
  const daemonTable = new Table({
    head: [
      "collect daemon on a new embedded folder",
      "first start: peak RSS MiB",
      "CPU s",
      `after serving ${runs} runs: peak RSS MiB`,
      "CPU s",
    ],
  });
  for (const [label, usage] of daemons) {
    daemonTable.push([
      label,
      (usage.firstStartPeakBytes / 1024 ** 2).toFixed(0),
      usage.firstStartCpuSeconds.toFixed(2),
      (usage.peakBytes / 1024 ** 2).toFixed(0),
      usage.cpuSeconds.toFixed(2),
    ]);
  }
  process.stdout.write(`${daemonTable.toString()}\n`);
}
