/**
 * The truth suite's shared pieces (collector/truth-*.e2e.test.ts): the workloads of
 * test-support/truth-workloads/, the kernel's own figures for them (os.wait4 rusage taken by a parent
 * outside the task, or the root's getrusage at its very end), the numbers the collector stored, and the
 * tolerance checks whose failure message names the shape, the engine, both figures and the tolerance.
 *
 * Nothing here feeds the collector: the references come from the kernel, through processes the collector
 * never reads them from.
 */
import { type ChildProcess, execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { type AnalysisDocument, analysisDocumentSchema } from "../common/analysis-document.js";
import { type Db, queryRows } from "../db/client.js";
import { runCli } from "./cli.js";
import type { CollectorTestBed } from "./collector-tests.js";

/** Debian's interpreter: the one python3-setproctitle, python3-celery and python3-redis are installed for. */
export const python = "/usr/bin/python3";
export const workloadsDir = fileURLToPath(new URL("./truth-workloads/", import.meta.url));
export const workloadScript = join(workloadsDir, "workload.py");
const launcherScript = join(workloadsDir, "launch.py");

/** The tolerances of the truth suite: task CPU ±2 %, per-command CPU and memory peaks ±5 %. */
export const TOLERANCE = { taskCpu: 0.02, commandCpu: 0.05, memory: 0.05 } as const;

const execFileAsync = promisify(execFile);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A task key as the explicit-environment resolver reads it (collector/attribution/attribution.ts fromExplicitEnv). */
export interface TaskKey {
  orchestrator: string;
  pipeline: string;
  task: string;
  run: string;
}

export function explicitEnv(key: TaskKey): Record<string, string> {
  return {
    RIGHTSIZE_ORCHESTRATOR: key.orchestrator,
    RIGHTSIZE_PIPELINE: key.pipeline,
    RIGHTSIZE_TASK: key.task,
    RIGHTSIZE_RUN: key.run,
  };
}

/** What the root of a workload wrote at its end (workload.py `finish`). */
export interface WorkloadReport {
  pid: number;
  self: { cpuSeconds: number; maxrssBytes: number };
  /** os.wait4 of the root's direct children, summed per command name. */
  children: Record<string, { count: number; cpuSeconds: number; maxrssBytes: number }>;
  /** getrusage SELF + CHILDREN at the root's end. */
  total: { cpuSeconds: number };
  orphans?: Array<{ pid: number; cpuSeconds: number }>;
  cpuAtGo?: number;
  /** /usr/bin/time's own account (wait4) of the grandchild it ran (workload.py `timed`). */
  timed?: { cpuSeconds: number; maxrssBytes: number };
}

/** What the outside parent got from os.wait4 (launch.py). */
export interface LauncherReport {
  root: { pid: number; exitCode: number; cpuSeconds: number; maxrssBytes: number; wallSeconds: number };
  orphans: Array<{ pid: number; exitCode: number; cpuSeconds: number; maxrssBytes: number }>;
}

export interface Launched {
  process: ChildProcess;
  /** Both reports, once the launcher reaped everything; rejects when the task failed. */
  done: Promise<{ launcher: LauncherReport; workload: WorkloadReport | null }>;
}

/**
 * Starts `argv` as a task root below launch.py (outside the task), with exactly `env` (plus PATH and
 * TRUTH_REPORT). Files go to `folder/name.*`.
 */
export function launch(
  bed: CollectorTestBed,
  folder: string,
  name: string,
  argv: string[],
  env: Record<string, string>,
): Launched {
  mkdirSync(folder, { recursive: true });
  const out = join(folder, `${name}.launcher.json`);
  const report = join(folder, `${name}.report.json`);
  const spec = join(folder, `${name}.spec.json`);
  writeFileSync(
    spec,
    JSON.stringify({ argv, env: { PATH: "/usr/bin:/bin", TRUTH_REPORT: report, ...env }, out }),
  );
  const child = bed.start(python, [launcherScript, spec], {});
  const done = new Promise<{ launcher: LauncherReport; workload: WorkloadReport | null }>(
    (resolve, reject) => {
      child.once("exit", (code) => {
        if (code !== 0 || !existsSync(out)) {
          reject(new Error(`the launcher of ${name} exited ${code} without its report`));
          return;
        }
        const launcher = JSON.parse(readFileSync(out, "utf8")) as LauncherReport;
        if (launcher.root.exitCode !== 0) {
          reject(new Error(`${name}: the task's root exited ${launcher.root.exitCode}`));
          return;
        }
        const workload = existsSync(report)
          ? (JSON.parse(readFileSync(report, "utf8")) as WorkloadReport)
          : null;
        resolve({ launcher, workload });
      });
    },
  );
  return { process: child, done };
}

/**
 * A bin folder with `burst5` and `burst60`, copies of awk: a process's command name is its executable's
 * file name, so the two kinds of short child are told apart in execution_processes.
 */
export function prepareBurstBin(folder: string): string {
  const bin = join(folder, "burst-bin");
  mkdirSync(bin, { recursive: true });
  const awk = realpathSync("/usr/bin/awk");
  for (const name of ["burst5", "burst60"]) copyFileSync(awk, join(bin, name));
  return bin;
}

/** The execution stored for a task key on a host, with its samples' maxima. */
export type StoredTask = {
  id: string;
  orchestrator: string;
  pipeline: string;
  task: string;
  run_id: string;
  try_number: number;
  attribution: string;
  status: string;
  root_pid: number | null;
  samples: number;
  /** max(cpu_seconds_total): the cumulative series never goes back, so its maximum is its last value. */
  cpu: number | null;
  /** max(rss_bytes) over the samples: the tree's peak as sampled. */
  peak_rss: number | null;
  /** Seconds from the root's start to the first sample: a root first seen older than two ticks is
   * counted from then on (collector/tracking/sampler.ts countFromZero), which a failure message should show. */
  first_sample_after: number | null;
};

export async function storedTasks(
  db: Db,
  hostId: string,
  where: { pipeline: string; task?: string },
): Promise<StoredTask[]> {
  return queryRows<StoredTask>(
    db,
    sql`select e.id, e.orchestrator, e.pipeline, e.task, e.run_id, e.try_number, e.attribution, e.status,
               e.root_pid,
               (select count(*)::int from samples s where s.execution_id = e.id) as samples,
               (select max(cpu_seconds_total) from samples s where s.execution_id = e.id)::float8 as cpu,
               (select max(rss_bytes) from samples s where s.execution_id = e.id)::float8 as peak_rss,
               extract(epoch from (select min(ts) from samples s where s.execution_id = e.id) - e.started_at)::float8
                 as first_sample_after
          from task_executions e
         where e.host_id = ${hostId} and e.pipeline = ${where.pipeline}
           and (${where.task ?? null}::text is null or e.task = ${where.task ?? null})
         order by e.started_at`,
  );
}

/** An execution's processes (execution_processes) per command: rows, CPU seconds, peak RSS summed. */
export type StoredCommand = {
  command: string;
  count: number;
  cpu: number;
  peak_rss: number;
};

export async function storedCommands(db: Db, executionId: string): Promise<Map<string, StoredCommand>> {
  const rows = await queryRows<StoredCommand>(
    db,
    sql`select command, count(*)::int as count, sum(cpu_seconds)::float8 as cpu,
               sum(peak_rss_bytes)::float8 as peak_rss
          from execution_processes where execution_id = ${executionId} group by command`,
  );
  return new Map(rows.map((row) => [row.command, row]));
}

export interface Check {
  /** The workload shape, e.g. "grandchild under /usr/bin/time". */
  shape: string;
  /** postgres, pglite, or the wrapper's database. */
  engine: string;
  /** What is compared, e.g. "task CPU seconds". */
  what: string;
  stored: number | null | undefined;
  reference: number;
  /** Where the reference comes from, e.g. "wait4 of the root by its launcher". */
  source: string;
  /** Relative, both sides: 0.02 is ±2 %. */
  tolerance: number;
  unit: "s" | "MiB";
  /** More of what the collector stored, to tell why a check failed. */
  note?: string;
}

function figure(value: number, unit: Check["unit"]): string {
  return unit === "MiB" ? `${(value / 1024 ** 2).toFixed(1)} MiB` : `${value.toFixed(3)} s`;
}

/** The line a check prints, failed or not: shape, engine, stored and reference figures, tolerance. */
export function describeCheck(check: Check): string {
  const stored = check.stored ?? null;
  const off =
    stored === null
      ? "nothing stored"
      : `${(((stored - check.reference) / check.reference) * 100).toFixed(1)} % off`;
  return (
    `${check.shape} [${check.engine}]: ${check.what} stored ${stored === null ? "null" : figure(stored, check.unit)}, ` +
    `kernel reference ${figure(check.reference, check.unit)} (${check.source}), ${off}, ` +
    `tolerance ±${(check.tolerance * 100).toFixed(0)} %${check.note ? ` (${check.note})` : ""}`
  );
}

/** Fails the test (softly: the other checks still run) unless `stored` is within `tolerance` of `reference` on both sides. */
export function expectWithin(check: Check): void {
  const message = describeCheck(check);
  console.log(message);
  expect.soft(check.reference, `${message} (the reference itself must be positive)`).toBeGreaterThan(0);
  if (check.stored === null || check.stored === undefined) {
    expect.soft(check.stored ?? null, message).not.toBeNull();
    return;
  }
  expect
    .soft(Math.abs(check.stored - check.reference) / check.reference, message)
    .toBeLessThanOrEqual(check.tolerance);
}

/** Fails unless each command's stored row count equals what the workload started. */
export function expectCounts(
  context: { shape: string; engine: string },
  stored: Map<string, StoredCommand>,
  expected: Record<string, number>,
): void {
  const seen = Object.fromEntries([...stored.values()].map((row) => [row.command, row.count]));
  const message = `${context.shape} [${context.engine}]: processes per command stored ${JSON.stringify(seen)}, started ${JSON.stringify(expected)} (exact)`;
  console.log(message);
  expect.soft(seen, message).toEqual(expected);
}

/**
 * The checks both `collect` and `run` make after the task's CPU and process counts: each command's CPU the
 * shape names, and the tree's peak RSS where it names one.
 */
export function expectCommandCpuAndMemory(
  context: { shape: string; engine: string },
  shape: Pick<TruthShape, "commandCpu" | "memory">,
  stored: { commands: Map<string, StoredCommand>; peakRss: number | null },
  workload: WorkloadReport,
  launcher: LauncherReport | null,
): void {
  const perCommand = JSON.stringify(
    Object.fromEntries([...stored.commands].map(([name, row]) => [name, Number(row.cpu.toFixed(3))])),
  );
  for (const [command, { reference, source }] of Object.entries(shape.commandCpu ?? {})) {
    expectWithin({
      ...context,
      what: `CPU of the ${command} processes (sum of execution_processes.cpu_seconds)`,
      stored: stored.commands.get(command)?.cpu ?? null,
      reference: reference(workload),
      source,
      tolerance: TOLERANCE.commandCpu,
      unit: "s",
      note: `stored per command: ${perCommand}`,
    });
  }
  if (shape.memory) {
    expectWithin({
      ...context,
      what: "peak tree RSS (max rss_bytes)",
      stored: stored.peakRss,
      reference: shape.memory.reference(workload, launcher),
      source: shape.memory.source,
      tolerance: TOLERANCE.memory,
      unit: "MiB",
    });
  }
}

/** The root's own CPU plus its direct children's of `commands` (their whole subtrees, from wait4). */
function rootAnd(report: WorkloadReport, ...commands: string[]): number {
  return commands.reduce(
    (sum, command) => sum + (report.children[command]?.cpuSeconds ?? 0),
    report.self.cpuSeconds,
  );
}

/** Runs `rightsize analyze --json` on a database and returns the analysis document. */
export async function analyze(dbUrl: string, jsonFile: string): Promise<AnalysisDocument> {
  const result = await runCli(["--db", dbUrl, "analyze", "--json", jsonFile], { timeoutMs: 180_000 });
  if (result.code !== 0) throw new Error(`rightsize analyze exited ${result.code}:\n${result.stderr}`);
  return analysisDocumentSchema.parse(JSON.parse(readFileSync(jsonFile, "utf8")));
}

/**
 * The kernel's account of how long a class workload's threads waited for a CPU: /proc/PID/schedstat
 * (run time, run delay), written by each of its processes at its end to `prefix.PID`. Returns the share
 * of runnable time spent waiting.
 */
export function kernelQueueShare(folder: string, prefix: string): number | null {
  let run = 0;
  let delay = 0;
  for (const file of readdirSync(folder)) {
    if (!file.startsWith(`${prefix}.`) || file.endsWith(".tmp")) continue;
    const figures = JSON.parse(readFileSync(join(folder, file), "utf8")) as {
      runNs: number;
      delayNs: number;
    };
    run += figures.runNs;
    delay += figures.delayNs;
  }
  return run + delay > 0 ? delay / (run + delay) : null;
}

/** Makes a FIFO (a late-starting task blocks opening it, using no CPU, until something writes). */
export async function makeFifo(path: string): Promise<void> {
  await execFileAsync("mkfifo", [path]);
}

/**
 * CPU amounts are 3 s: /proc gives each process's utime and stime truncated to the 10-ms clock tick, so
 * a tree's total reads up to 40 ms low at its end (the root's own two fields and its reaped children's
 * two), which must stay well inside ±2 %.
 *
 * The task shapes whose numbers both `collect` and `run` are checked on: workload.py arguments, the
 * processes they start per command (the root included), and which commands' CPU is checked per command
 * (those of at least a second: below that the 10-ms clock tick is too coarse for 5 %).
 */
export interface TruthShape {
  name: string;
  /** What a failure message calls it. */
  label: string;
  args: string[];
  commands: Record<string, number>;
  /** Per-command CPU references (seconds) from the workload's report, and where they come from. */
  commandCpu?: Record<string, { reference: (report: WorkloadReport) => number; source: string }>;
  /** The tree's peak RSS reference from the reports, and where it comes from. */
  memory?: { reference: (report: WorkloadReport, launcher: LauncherReport | null) => number; source: string };
}

export const rootAndChildren = (...commands: string[]) => ({
  reference: (report: WorkloadReport) => rootAnd(report, ...commands),
  source: `getrusage of the root plus wait4 of its ${commands.join(" and ")} children`,
});

export const truthShapes: TruthShape[] = [
  { name: "root", label: "work in the root", args: ["root", "3"], commands: { python3: 1 } },
  {
    name: "child",
    label: "work in a child",
    args: ["child", "3"],
    commands: { python3: 2 },
    commandCpu: { python3: rootAndChildren("python3") },
  },
  {
    name: "grandchild-time",
    label: "work in a grandchild under a waiting /usr/bin/time",
    args: ["grandchild-time", "3"],
    commands: { python3: 2, time: 1 },
    commandCpu: {
      python3: {
        reference: (report) => report.self.cpuSeconds + report.timed!.cpuSeconds,
        source: "getrusage of the root plus /usr/bin/time's wait4 of the burner",
      },
    },
  },
  {
    name: "grandchild-run",
    label: "work in a grandchild under a waiting python subprocess.run",
    args: ["grandchild-run", "3"],
    commands: { python3: 3 },
    commandCpu: { python3: rootAndChildren("python3") },
  },
  {
    name: "pipeline",
    label: "work in an sh -c 'a | b' pipeline",
    args: ["pipeline", "1.5"],
    commands: { python3: 3, sh: 1 },
    // sh's own few milliseconds are in its subtree's wait4: far inside 5 % of 3 s.
    commandCpu: { python3: rootAndChildren("sh") },
  },
  {
    name: "pool",
    label: "a multiprocessing pool of 2",
    args: ["pool", "4", "0.75"],
    commands: { python3: 3 },
  },
  {
    name: "fork",
    label: "two forks without exec",
    args: ["fork", "2", "1.5"],
    commands: { python3: 3 },
    commandCpu: { python3: rootAndChildren("python3") },
  },
  {
    name: "bursts",
    label: "bursts of 300 5-ms and 30 60-ms children",
    args: ["bursts", "300", "30"],
    commands: { python3: 1, burst5: 300, burst60: 30 },
    commandCpu: {
      burst5: { reference: (report) => report.children.burst5!.cpuSeconds, source: "wait4 of each burst5" },
      burst60: {
        reference: (report) => report.children.burst60!.cpuSeconds,
        source: "wait4 of each burst60",
      },
    },
  },
  {
    name: "double-fork",
    label: "a double-forked grandchild outliving its parent",
    args: ["double-fork", "3", "1.5"],
    commands: { python3: 3 },
  },
  {
    name: "memory",
    label: "one process touching 700 MiB",
    args: ["memory", "700", "2"],
    commands: { python3: 1 },
    memory: {
      reference: (report, launcher) => launcher?.root.maxrssBytes ?? report.self.maxrssBytes,
      source: "ru_maxrss of the root (wait4 by its parent, else its own getrusage)",
    },
  },
  {
    name: "memory-grandchild",
    label: "300 MiB held by a grandchild under a waiting /usr/bin/time",
    args: ["memory-grandchild", "300", "2", "2"],
    commands: { python3: 2, time: 1 },
    memory: {
      // /usr/bin/time's own RSS (about 2 MiB) is left out: inside 5 % of the sum.
      reference: (report) => report.self.maxrssBytes + report.timed!.maxrssBytes,
      source: "the root's ru_maxrss plus /usr/bin/time's account of the holder's, held at once",
    },
  },
  {
    name: "memory-three",
    label: "three processes holding 200 MiB each at once",
    args: ["memory-three", "200", "2", "3"],
    commands: { python3: 4 },
    memory: {
      reference: (report) => report.self.maxrssBytes + report.children.python3!.maxrssBytes,
      source: "the root's ru_maxrss plus each holder's from wait4, all held at once",
    },
  },
];

/**
 * The class workloads (workload.py class-*) and the class each is built to show. Run alone: the
 * classes judge where time went, which other load on the cores would change. The CPU burner has core 1
 * and the contending pair core 0 (`taskset`), so neither disturbs the other.
 */
export interface ClassWorkload {
  task: string;
  label: string;
  /** argv, given the folder for the disk writer and the slow server's port. */
  argv: (context: { diskFolder: string; port: number }) => string[];
  expected: AnalysisDocument["tasks"][number]["bottleneck"];
  /**
   * Whether its own work can queue for a CPU long enough to change its class when other load crowds the
   * host (all but the plain sleeper, whose few microseconds of CPU never make a share of its time).
   */
  queues: boolean;
}

export const classWorkloads: ClassWorkload[] = [
  {
    task: "burner",
    label: "a CPU burner",
    argv: () => ["/usr/bin/taskset", "-c", "1", python, workloadScript, "class-burn", "5"],
    expected: "cpu",
    queues: true,
  },
  {
    task: "contended",
    label: "two burners sharing core 0 (taskset -c 0)",
    argv: () => ["/usr/bin/taskset", "-c", "0", python, workloadScript, "class-contend", "5"],
    expected: "cpu-contention",
    queues: true,
  },
  {
    task: "dsync-writer",
    label: "a writer with O_DSYNC",
    argv: ({ diskFolder }) => [python, workloadScript, "class-dsync", diskFolder, "5"],
    expected: "disk-io",
    queues: true,
  },
  {
    task: "socket-reader",
    label: "a socket reader of a slow local TCP server",
    argv: ({ port }) => [python, workloadScript, "class-socket", String(port), "5"],
    expected: "network-wait",
    queues: true,
  },
  {
    task: "sleeper",
    label: "a sleeper",
    argv: () => [python, workloadScript, "class-sleep", "5"],
    expected: "idle",
    queues: false,
  },
  {
    task: "memory-sleeper",
    label: "a sleeper holding 150 MiB",
    argv: () => [python, workloadScript, "class-hold", "150", "5"],
    expected: "idle",
    queues: true,
  },
  {
    task: "startup-then-sleep",
    label: "a task sleeping after a 0.5 s start-up",
    argv: () => [python, workloadScript, "class-startup", "0.5", "5"],
    expected: "idle",
    queues: true,
  },
];
