/**
 * Exact accounting against real processes, checked against what the kernel says (bash's `times`, which
 * is getrusage of the shell and of its reaped children). The Sampler runs in this process with its real
 * loop (tick and poll) over /proc, with BSD process accounting into a private folder, or with the poll.
 *
 * The machine these run on is shared and loaded: the CPU-time comparisons hold under load (CPU time is
 * not wall time), the wall-clock shares are compared as "on a CPU or waiting for one".
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyBottleneck } from "../analyzer/classify.js";
import { silentLogger } from "../common/logger.js";
import type { NewExecution } from "../db/queries/executions.js";
import type { NewProcess } from "../db/queries/processes.js";
import type { NewSample } from "../db/queries/samples.js";
import { startSamplerLoop } from "./loop.js";
import type { AccountingMode } from "./process-accounting.js";
import { reapedChildrenTicks } from "./run-command.js";
import { CLOCK_TICKS_PER_SECOND, Sampler } from "./sampler.js";

const python = execFileSync("/usr/bin/python3", ["-c", "import sys; print(sys.executable)"], {
  encoding: "utf8",
}).trim();
const isRoot = process.geteuid?.() === 0;

let folder: string;
let input: string;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "rightsize-acct-test-"));
  input = join(folder, "input");
  // 200 KB of text: gzip -9 takes a few ms to tens of ms on it (each child < 50 ms).
  const line = "the quick brown fox jumps over the lazy dog 0123456789\n";
  let text = "";
  for (let index = 0; text.length < 200_000; index++) text += `${index} ${line}`;
  writeFileSync(input, text);
});

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

interface Watched {
  samples: NewSample[];
  /** The last row of each process. */
  processes: NewProcess[];
  stdout: string;
  method: string;
}

/** Runs `command` under a Sampler and its loop; `lateMs` delays the collector's first look. */
async function watch(command: string[], mode: AccountingMode, lateMs = 0): Promise<Watched> {
  const samples: NewSample[] = [];
  const processes = new Map<string, NewProcess>();
  const sampler = new Sampler({
    procRoot: "/proc",
    cgroupRoot: join(folder, "no-cgroup"),
    hostId: "acct-test",
    sink: {
      execution: (_row: NewExecution) => {},
      samples: (rows) => samples.push(...rows),
      processes: (rows) => {
        for (const row of rows) processes.set(`${row.pid}/${row.startTicks}`, row);
      },
    },
    logger: silentLogger,
    redact: (argv) => argv,
    intervalMs: 500,
    accounting: { mode, stateDir: join(folder, "state") },
  });
  try {
    const reapedBefore = reapedChildrenTicks()!;
    const startedAtMs = Date.now();
    const child: ChildProcess = spawn(command[0]!, command.slice(1), {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    if (lateMs > 0) await new Promise((resolve) => setTimeout(resolve, lateMs));
    const id = sampler.track({
      pid: child.pid!,
      attribution: {
        orchestrator: "generic",
        pipeline: "p",
        task: "t",
        runId: "r",
        tryNumber: null,
        mapIndex: null,
        source: "wrapper",
      },
      startedAtMs,
    });
    const loop = startSamplerLoop(sampler, { intervalMs: 500, discover: false, logger: silentLogger });
    await exited;
    loop.stop();
    // As `run` does: the command's exact final CPU from this process's reaped children.
    sampler.settleRoot(id, (reapedChildrenTicks()! - reapedBefore) / CLOCK_TICKS_PER_SECOND);
    sampler.tick();
    sampler.end(id, { exitCode: 0, status: "succeeded" });
    return { samples, processes: [...processes.values()], stdout, method: sampler.exits.method };
  } finally {
    sampler.close();
  }
}

/** bash `times`: the shell's own user/sys, then its reaped children's. */
function parseTimes(stdout: string): { own: number; children: number } {
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
  return { own: own!, children: children! };
}

const total = (samples: NewSample[]) => samples.at(-1)?.cpuSecondsTotal ?? 0;
const cpuOf = (rows: NewProcess[], command?: string) =>
  rows
    .filter((row) => command === undefined || row.command === command)
    .reduce((sum, row) => sum + (row.cpuSeconds ?? 0), 0);

const shortChildren = () => [
  "/bin/bash",
  "-c",
  `for ((i = 0; i < 300; i++)); do /bin/gzip -9 -c < '${input}' > /dev/null; done; times`,
];

describe.skipIf(!isRoot)("exit accounting with BSD process accounting", () => {
  it("counts 300 short children of a shell, splits their CPU by command and adds up to the total", async () => {
    const watched = await watch(shortChildren(), "acct");
    expect(watched.method).toBe("acct");
    const kernel = parseTimes(watched.stdout);
    const gzip = watched.processes.filter((row) => row.command === "gzip");
    const commands = new Map<string, number>();
    for (const row of watched.processes)
      commands.set(row.command ?? "", (commands.get(row.command ?? "") ?? 0) + 1);
    expect(gzip.length).toBeGreaterThanOrEqual(297);
    // The task's total is the tree's own counters: the shell and its reaped children.
    expect(total(watched.samples)).toBeGreaterThan(0);
    expect(
      Math.abs(total(watched.samples) - (kernel.own + kernel.children)) / (kernel.own + kernel.children),
    ).toBeLessThan(0.02);
    // The children are all gzip: their CPU is the shell's children's.
    expect(Math.abs(cpuOf(gzip) - kernel.children) / kernel.children).toBeLessThan(0.05);
    // Every command's rows together are the task.
    expect(Math.abs(cpuOf(watched.processes) - total(watched.samples)) / total(watched.samples)).toBeLessThan(
      0.02,
    );
    const started = watched.samples.reduce((sum, sample) => sum + (sample.processesStarted ?? 0), 0);
    expect(started).toBeGreaterThanOrEqual(297);
  });

  it("keeps the CPU of a ~3-s task whose children started before the collector's first look", async () => {
    // 40 children at once, then about 3 s of the shell's own CPU on an idle machine (a fixed amount of
    // work, not of wall time, so a loaded host does not shrink it).
    const script = `for ((i = 0; i < 40; i++)); do /bin/gzip -9 -c < '${input}' > /dev/null & done; wait
      for ((i = 0; i < 1000000; i++)); do :; done; times`;
    const watched = await watch(["/bin/bash", "-c", script], "acct", 300);
    const kernel = parseTimes(watched.stdout);
    const rusage = kernel.own + kernel.children;
    expect(
      Math.abs(total(watched.samples) - rusage) / rusage,
      `collector ${total(watched.samples)} s, kernel ${JSON.stringify(kernel)}`,
    ).toBeLessThan(0.02);
    expect(watched.processes.filter((row) => row.command === "gzip").length).toBeGreaterThanOrEqual(40);
  });
});

describe("exit accounting with the poll (accounting not used)", () => {
  it("still gets the task's total within 2 % of the kernel's; per-command CPU of children is not held", async () => {
    // The poll's known limits: children that live and die between two polls (~10 ms) are never seen
    // (counted from the pid counter instead), and a child's CPU after its last look is in its parent's
    // cutime only, so per-command CPU and counts are lower bounds. The total comes from cutime: exact.
    const watched = await watch(shortChildren(), "poll");
    expect(watched.method).toBe("poll");
    const kernel = parseTimes(watched.stdout);
    const rusage = kernel.own + kernel.children;
    expect(Math.abs(total(watched.samples) - rusage) / rusage).toBeLessThan(0.02);
    expect(cpuOf(watched.processes, "gzip")).toBeLessThanOrEqual(kernel.children * 1.05);
  });
});

describe("wall-clock shares of real tasks", () => {
  const sums = (samples: NewSample[]) => {
    const add = (pick: (sample: NewSample) => number | null | undefined) =>
      samples.reduce((sum, sample) => sum + (pick(sample) ?? 0), 0);
    return {
      interval: add((s) => s.intervalSeconds),
      cpuSeconds: add((s) => (s.cpuCores ?? 0) * s.intervalSeconds),
      thread: {
        cpu: add((s) => s.onCpuSeconds),
        cpuWait: add((s) => s.cpuWaitSeconds),
        diskWait: add((s) => s.diskWaitSeconds),
        networkWait: add((s) => s.netWaitSeconds),
        childWait: add((s) => s.childWaitSeconds),
        idle: add((s) => s.idleSeconds),
      },
      wall: {
        cpu: add((s) => s.wallOnCpuSeconds),
        cpuWait: add((s) => s.wallCpuWaitSeconds),
        diskWait: add((s) => s.wallDiskWaitSeconds),
        networkWait: add((s) => s.wallNetWaitSeconds),
        childWait: add((s) => s.wallChildWaitSeconds),
        idle: add((s) => s.wallIdleSeconds),
      },
    };
  };
  const classify = (samples: NewSample[]) => {
    const s = sums(samples);
    return classifyBottleneck({
      runs: 1,
      ticks: samples.length,
      threadSeconds: s.thread,
      wallSeconds: s.wall,
      sampledSeconds: s.interval,
      cpuSeconds: s.cpuSeconds,
      throttledShare: null,
      oomKills: 0,
      oomRuns: 0,
      peakMemoryBytes: 0,
      memoryLimitBytes: null,
      hostLoadAvg: null,
      hostCores: null,
      endpoints: [],
      diskReadBytesPerRun: 0,
      diskWriteBytesPerRun: 0,
    });
  };

  it("a single-threaded burner beside 8 idle threads is on a CPU by the wall clock, class cpu", async () => {
    const script = `
import threading, time
for _ in range(8):
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
end = time.time() + 6
while time.time() < end:
    pass
`;
    const watched = await watch([python, "-c", script], "poll");
    // Samples of ticks with a live thread: the last one, after the process exited, has no wall split.
    const s = sums(watched.samples.filter((sample) => sample.wallOnCpuSeconds != null));
    // On a loaded host the burner also queues for a CPU: on one or waiting for one is ≥ 90 % of its
    // wall clock (thread time would say 1 in 9 threads, 11 %).
    expect((s.wall.cpu + s.wall.cpuWait) / s.interval).toBeGreaterThanOrEqual(0.9);
    expect(s.thread.idle / (s.thread.cpu + s.thread.cpuWait + s.thread.idle)).toBeGreaterThan(0.5);
    expect(["cpu", "cpu-contention"]).toContain(classify(watched.samples).bottleneck);
    if (s.wall.cpuWait / s.interval < 0.1) expect(classify(watched.samples).bottleneck).toBe("cpu");
    // Where it hardly queued, the issue's own bound: on a CPU ≥ 90 % of the wall clock.
    if (s.wall.cpuWait / s.interval < 0.05) expect(s.wall.cpu / s.interval).toBeGreaterThanOrEqual(0.9);
  });

  it("a process that touches 600 MB and sleeps is idle", { timeout: 180_000 }, async () => {
    const script = `
import time
start = time.time()
block = bytearray(600 * 1024 * 1024)
for offset in range(0, len(block), 4096):
    block[offset] = 1
# Most of its wall time asleep however long a loaded host took to touch the pages.
time.sleep(max(8, 3 * (time.time() - start)))
`;
    const watched = await watch([python, "-c", script], "poll");
    expect(classify(watched.samples).bottleneck).toBe("idle");
  });
});
