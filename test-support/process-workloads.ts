/**
 * Workloads whose CPU the collector tests know without asking the collector: a burner that burns a fixed
 * amount of its own CPU time and says what the kernel charged it (burner.py), and a waiting parent that
 * runs commands to their end and keeps each child's os.wait4 rusage (rusage-parent.py). Both write their
 * figures to a file, so a test compares what the collector stored with what the kernel told the workload,
 * never with a figure the collector was handed (the `run` wrapper's reaped rusage settles its root).
 *
 * The shapes put the work below a parent that forks and then waits, the tree a collector loses when it
 * skips a quiet parent's children (docs/collector.md).
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { CLOCK_TICKS_PER_SECOND } from "../collector/procfs/procfs-parse.js";
import { procStatFields } from "../common/process-alive.js";

/** Debian's interpreter: python3-celery, -redis and -setproctitle are installed for it. */
export const python = "/usr/bin/python3";
const burnerFile = fileURLToPath(new URL("./burner.py", import.meta.url));
const rusageParentFile = fileURLToPath(new URL("./rusage-parent.py", import.meta.url));

/** burner.py's report: its pid, the CPU the kernel charged it, and the cores it got while burning. */
export interface BurnerReport {
  pid: number;
  cpu: number;
  cores: number;
}

/** rusage-parent.py's report: each child's wait4 CPU (its own and its reaped descendants'), and its own. */
export interface RusageReport {
  children: Array<{ command: string; pid: number; cpu: number; code: number }>;
  own: number;
  wall: number;
}

/** argv of a burner of `cpuSeconds` of its own CPU time that writes its report to `out`. */
export function burnerArgv(cpuSeconds: number, out: string): string[] {
  return [python, burnerFile, String(cpuSeconds), out];
}

/** argv of a waiting parent that runs `commands` `repeat` times, one at a time, and reports to `out`. */
export function rusageParentArgv(out: string, commands: string[][], repeat = 1): string[] {
  return [python, rusageParentFile, out, String(repeat), ...commands.map((argv) => JSON.stringify(argv))];
}

export function readBurnerReport(file: string): BurnerReport {
  return JSON.parse(readFileSync(file, "utf8")) as BurnerReport;
}

export function readRusageReport(file: string): RusageReport {
  return JSON.parse(readFileSync(file, "utf8")) as RusageReport;
}

/** What each child costs a Node parent that starts it with spawnSync (see nodeSpawnCost). */
const NODE_SPAWN_SCRIPT = `
const { spawnSync } = require("node:child_process");
const { readFileSync } = require("node:fs");
const [argv, repeat, ticksPerSecond] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])];
const reaped = () => {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
};
const cpuBefore = reaped();
const wallBefore = performance.now();
for (let index = 0; index < repeat; index++) spawnSync(argv[0], argv.slice(1));
const wall = (performance.now() - wallBefore) / 1000;
process.stdout.write(JSON.stringify({ cpu: (reaped() - cpuBefore) / repeat, wall: wall / repeat }));
`;

/**
 * What `argv` costs when a small Node process starts it with spawnSync `repeat` times, one after the
 * other, as the demo's spawner does (cli/demo/workload.ts spawnMany): each child's CPU by the kernel (the
 * parent's reaped-children times, /proc/self/stat cutime + cstime) and wall clock with its spawn, on
 * average. A fork of Node costs its child more than a fork of Python (the copied address space is torn
 * down at its exec: 14.8 against 13.2 ms for the demo's `sh` on the 2-core test machine), so the
 * reference comes from the same kind of parent.
 */
export function nodeSpawnCost(
  argv: string[],
  repeat: number,
  options: { busyLoops?: number } = {},
): { cpu: number; wall: number } {
  // A child's own CPU rises when every core is busy (its caches and TLB are shared): 17 against 24 ms for
  // the demo's `sh` with two busy loops on the 2-core test machine. `busyLoops` measures it so.
  const loops = Array.from({ length: options.busyLoops ?? 0 }, () =>
    spawn(process.execPath, ["-e", "for (;;);"], { stdio: "ignore" }),
  );
  try {
    if (loops.length > 0) execFileSync("sleep", ["0.3"]);
    const output = execFileSync(
      process.execPath,
      ["-e", NODE_SPAWN_SCRIPT, JSON.stringify(argv), String(repeat), String(CLOCK_TICKS_PER_SECOND)],
      { encoding: "utf8" },
    );
    return JSON.parse(output) as { cpu: number; wall: number };
  } finally {
    for (const loop of loops) loop.kill("SIGKILL");
  }
}

/** The whole tree's CPU by the kernel: the parent's own and every child's wait4 rusage. */
export function rusageTotal(report: RusageReport): number {
  return report.own + report.children.reduce((sum, child) => sum + child.cpu, 0);
}

/** A quoted word for `bash -c` / `sh -c` (single quotes; none of ours contains one). */
function shellWord(word: string): string {
  if (word.includes("'")) throw new Error(`no single quotes in shell words: ${word}`);
  return `'${word}'`;
}

/**
 * Depth-3 shapes under a waiting root (rusage-parent.py): a middle process that forks the burner and
 * waits for it, as `time`, a shell running a pipeline and Python's subprocess.run do under a task.
 * Each takes the burner's argv and gives the middle's.
 */
export const waitingMiddles: Record<string, (burner: string[]) => string[]> = {
  "/usr/bin/time": (burner) => ["/usr/bin/time", "-f", "%U %S", ...burner],
  "bash -c with a pipeline": (burner) => [
    "/bin/bash",
    "-c",
    `${burner.map(shellWord).join(" ")} | /bin/cat; true`,
  ],
  "python subprocess.run": (burner) => [
    python,
    "-c",
    "import subprocess, sys; subprocess.run(sys.argv[1:], check=True)",
    ...burner,
  ],
};

/** argv of the root of a depth-3 shape: the waiting parent, the waiting middle, the burner. */
export function waitingTreeArgv(
  folder: string,
  middle: string,
  cpuSeconds: number,
): { argv: string[]; burnerReport: string; rusageReport: string } {
  const shape = waitingMiddles[middle];
  if (!shape) throw new Error(`unknown middle '${middle}': ${Object.keys(waitingMiddles).join(", ")}`);
  const tag = middle.replace(/\W+/g, "-");
  const burnerReport = join(folder, `burner-${tag}.json`);
  const rusageReport = join(folder, `rusage-${tag}.json`);
  return {
    argv: rusageParentArgv(rusageReport, [shape(burnerArgv(cpuSeconds, burnerReport))]),
    burnerReport,
    rusageReport,
  };
}

/** bash `times`: the shell's own user + system, then its reaped children's, seconds. */
export function parseBashTimes(stdout: string): { own: number; children: number } {
  const seconds = (text: string) => {
    const match = /^(\d+)m([\d.]+)s$/.exec(text);
    if (!match) throw new Error(`unexpected times field '${text}'`);
    return Number(match[1]) * 60 + Number(match[2]);
  };
  const lines = stdout.trim().split("\n").slice(-2);
  const [own, children] = lines.map((line) =>
    line
      .trim()
      .split(/\s+/)
      .map(seconds)
      .reduce((a, b) => a + b, 0),
  );
  if (own === undefined || children === undefined) throw new Error(`no times lines in '${stdout}'`);
  return { own, children };
}

/** The median (the mean of the two middle values for an even count); NaN for no values. */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** |measured − reference| / reference. */
export function relativeError(measured: number, reference: number): number {
  return Math.abs(measured - reference) / reference;
}

/**
 * The burner's process row against the CPU its own getrusage reported: the row is there, and its CPU
 * within 5 % (soft, so the test's other checks still report).
 */
export function expectBurnerRow(
  processes: ReadonlyArray<{ pid: number; cpuSeconds?: number | null }>,
  burner: BurnerReport,
): void {
  const row = processes.find((process) => process.pid === burner.pid);
  expect(row, "the burner's process row").toBeDefined();
  expect
    .soft(
      relativeError(row?.cpuSeconds ?? 0, burner.cpu),
      `burner row ${row?.cpuSeconds} s, getrusage ${burner.cpu} s`,
    )
    .toBeLessThan(0.05);
}

/** A process's user + system CPU now, seconds, from /proc/PID/stat (null once it is gone). */
export function procCpuSeconds(pid: number): number | null {
  const fields = procStatFields(pid);
  // utime and stime are fields 14 and 15.
  return fields === null ? null : (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A process's resident set now, bytes, from /proc/PID/status VmRSS (null once it is gone). */
export function procRssBytes(pid: number): number | null {
  try {
    const match = /\nVmRSS:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** `pid` and its live descendants, from the kernel's children lists. */
export function processTree(pid: number): number[] {
  const found = [pid];
  for (let index = 0; index < found.length; index++) {
    const parent = found[index]!;
    let tids: string[];
    try {
      // The children lists are per thread (man 5 proc, /proc/PID/task/TID/children).
      tids = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const text = readFileSync(`/proc/${parent}/task/${tid}/children`, "utf8").trim();
        if (text) found.push(...text.split(" ").map(Number));
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return found;
}
