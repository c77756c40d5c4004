/**
 * `rightsize run` against real processes and the real Postgres: the numbers it stores are checked
 * against what the workload did and what the kernel told the workload (test-support/process-workloads.ts).
 * Needs `npm run build` (runs dist/cli/main.js).
 *
 * `run` reads the CPU of its own cgroup where it can make one, and settles its root's final CPU from
 * its reaped children's rusage: neither says whether the process-tree walk saw the tree. So the tree
 * shows itself through what only it makes (the per-process split), and each shape runs once more
 * without a cgroup (RIGHTSIZE_CGROUP_ROOT at a missing folder), where every tick is the tree's arithmetic.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listExecutionsOfTask } from "../db/queries/executions.js";
import { listProcesses } from "../db/queries/processes.js";
import { listSamples } from "../db/queries/samples.js";
import { runCli } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import {
  expectBurnerRow,
  median,
  parseBashTimes,
  readBurnerReport,
  readRusageReport,
  relativeError,
  rusageTotal,
  waitingMiddles,
  waitingTreeArgv,
} from "../test-support/process-workloads.js";

/** The interpreter itself, not a version-manager shim that would add short-lived bash processes. */
const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
  encoding: "utf8",
}).trim();
const MiB = 1024 ** 2;

let database: TestDatabase;
let folder: string;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  // On the root file system (ext4), not tmpfs: write_bytes counts only block-device writes.
  folder = mkdtempSync(join(process.cwd(), ".rightsize-run-test-"));
});

afterAll(async () => {
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
});

async function run(task: string, command: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const result = await runCli(
    [
      "--db",
      database.url,
      "run",
      "--pipeline",
      "collector-test",
      "--task",
      task,
      "--interval",
      "500ms",
      ...extra,
      "--",
      ...command,
    ],
    { env: { RIGHTSIZE_SPOOL_DIR: join(folder, "spool"), RIGHTSIZE_HOST_ID: "run-test-host", ...env } },
  );
  const [execution] = await listExecutionsOfTask(database.handle.db, {
    orchestrator: "generic",
    pipeline: "collector-test",
    task,
  });
  if (!execution) throw new Error(`no execution stored for ${task}: ${result.stderr}`);
  const samples = await listSamples(database.handle.db, execution.id);
  const processes = await listProcesses(database.handle.db, execution.id);
  return { result, execution, samples, processes };
}

/** Ticks of the full interval (500 ms): not the short last one after the command exited. */
const fullTicks = <T extends { intervalSeconds: number }>(samples: T[]) =>
  samples.filter((sample) => sample.intervalSeconds > 0.3);

describe("rightsize run", () => {
  it("measures a single-threaded CPU burner at one core", async () => {
    // The burner prints the CPU seconds the kernel charged it (process_time).
    const script = "import time\nt=time.time()\nwhile time.time()-t<4: pass\nprint(time.process_time())";
    const { result, execution, samples } = await run("burn", [python, "-c", script]);
    expect(result.code).toBe(0);
    expect(execution.status).toBe("succeeded");
    expect(execution.exitCode).toBe(0);
    const full = fullTicks(samples);
    expect(full.length).toBeGreaterThanOrEqual(6);
    // On an idle host the burner gets its core: cores ≈ 1.0 tick after tick. On a shared CI host other
    // jobs take turns on the CPU, so what is checked is the burner's demand — time on a CPU plus time
    // runnable but waiting for one — which is one core whatever the load, and the CPU total against the
    // kernel's. Medians: most ticks must hold, not the best one.
    const demand = full.map((s) => (s.onCpuSeconds! + s.cpuWaitSeconds!) / s.intervalSeconds);
    expect(Math.abs(median(demand) - 1)).toBeLessThanOrEqual(0.1);
    const cores = full.map((s) => s.cpuCores!);
    const onCpu = full.map((s) => s.onCpuSeconds! / s.intervalSeconds);
    expect(Math.abs(median(cores) - median(onCpu))).toBeLessThanOrEqual(0.1);
    const kernelSeconds = Number(result.stdout.trim());
    expect(samples.length, result.stderr).toBeGreaterThan(3);
    const measured = samples[samples.length - 1]!.cpuSecondsTotal!;
    expect(Math.abs(measured - kernelSeconds) / kernelSeconds).toBeLessThanOrEqual(0.05);
    // The thread-time columns add up to the tick for one thread.
    const sample = samples[3]!;
    const threadSeconds =
      sample.onCpuSeconds! +
      sample.cpuWaitSeconds! +
      sample.diskWaitSeconds! +
      sample.netWaitSeconds! +
      sample.childWaitSeconds! +
      sample.idleSeconds!;
    expect(threadSeconds).toBeCloseTo(sample.intervalSeconds, 1);
  });

  it("sees the peak of 300 MB allocated and touched", async () => {
    const script = `import time
b = bytearray(300 * 1024 * 1024)
for i in range(0, len(b), 4096): b[i] = 1
time.sleep(2)`;
    const { result, samples } = await run("memory", [python, "-c", script]);
    expect(result.code).toBe(0);
    const peak = Math.max(...samples.map((s) => s.rssBytes ?? 0));
    expect(Math.abs(peak - 300 * MiB) / (300 * MiB)).toBeLessThanOrEqual(0.05);
  });

  it("counts 200 MB written with fsync", async () => {
    const script = `import os
f = open(${JSON.stringify(join(folder, "written.bin"))}, "wb")
chunk = b"x" * (1024 * 1024)
for _ in range(200): f.write(chunk)
f.flush(); os.fsync(f.fileno()); f.close()`;
    const { result, samples } = await run("write", [python, "-c", script]);
    expect(result.code).toBe(0);
    const written = samples.reduce((sum, s) => sum + (s.diskWriteBytes ?? 0), 0);
    expect(Math.abs(written - 200 * MiB) / (200 * MiB)).toBeLessThanOrEqual(0.05);
  });

  it.each(["its own cgroup", "the process tree"] as const)(
    "counts 100 MB written in the command's last moments, after its last poll, from %s",
    async (source) => {
      // The bytes are counted as the page cache takes them, mostly after the root's last poll, and the
      // process leaves at once, without closing: only the wrapper's settling of the root has them all.
      const script = `import os, time
time.sleep(0.5)
f = open(${JSON.stringify(join(folder, `last-${source.replaceAll(" ", "-")}.bin`))}, "wb", buffering=0)
chunk = b"x" * (1024 * 1024)
for _ in range(100): f.write(chunk)
os._exit(0)`;
      const env = source === "the process tree" ? { RIGHTSIZE_CGROUP_ROOT: join(folder, "no-cgroup") } : {};
      const { result, samples, processes } = await run(
        `last-write-${source.replaceAll(" ", "-")}`,
        [python, "-c", script],
        [],
        env,
      );
      expect(result.code).toBe(0);
      const written = samples.reduce((sum, s) => sum + (s.diskWriteBytes ?? 0), 0);
      expect(relativeError(written, 100 * MiB), `${written} bytes`).toBeLessThanOrEqual(0.05);
      const root = processes.find((p) => p.command === "python3");
      expect(relativeError(root?.writeBytes ?? 0, 100 * MiB)).toBeLessThanOrEqual(0.05);
    },
  );

  it("keeps the CPU of 200 short-lived children and lists their command with its count", async () => {
    // Each awk lives ~50 ms (docs/collector.md "Short-lived subprocesses"); `times` prints the kernel's account of the shell and its reaped children.
    const script = `i=0; while [ $i -lt 200 ]; do awk 'BEGIN{for(i=0;i<1000000;i++)s+=i}'; i=$((i+1)); done; times`;
    const { result, samples, processes } = await run("children", ["/bin/sh", "-c", script]);
    expect(result.code).toBe(0);
    const kernel = parseBashTimes(result.stdout);
    const kernelSeconds = kernel.own + kernel.children;
    expect(kernelSeconds).toBeGreaterThan(1);
    expect(samples.length, result.stderr).toBeGreaterThan(3);
    const measured = samples[samples.length - 1]!.cpuSecondsTotal!;
    expect(Math.abs(measured - kernelSeconds) / kernelSeconds).toBeLessThanOrEqual(0.05);
    const awk = processes.filter((p) => p.command === "awk");
    expect(awk.length).toBeGreaterThanOrEqual(190);
    expect(awk.length).toBeLessThanOrEqual(200);
    expect(awk.every((p) => p.exited)).toBe(true);
    // The shell's only children are the awk: the per-command split holds their CPU as the kernel does.
    const awkCpu = awk.reduce((sum, p) => sum + (p.cpuSeconds ?? 0), 0);
    expect(
      relativeError(awkCpu, kernel.children),
      `awk ${awkCpu} s, kernel ${kernel.children} s`,
    ).toBeLessThan(0.05);
    const started = samples.reduce((sum, s) => sum + (s.processesStarted ?? 0), 0);
    expect(started).toBeGreaterThanOrEqual(200);
  });

  it("charges a read blocked on a local TCP server to network wait and records the endpoint", async () => {
    const server: Server = createServer((socket) => {
      // Answer after 3 s: until then the client sits in recv().
      setTimeout(() => socket.end("done"), 3000);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const script = `import socket
s = socket.create_connection(("127.0.0.1", ${port}))
s.recv(10)`;
      const { result, execution, samples } = await run("network", [python, "-c", script]);
      expect(result.code).toBe(0);
      const total = (
        key:
          | "onCpuSeconds"
          | "cpuWaitSeconds"
          | "diskWaitSeconds"
          | "netWaitSeconds"
          | "childWaitSeconds"
          | "idleSeconds",
      ) => samples.reduce((sum, s) => sum + (s[key] ?? 0), 0);
      const all =
        total("onCpuSeconds") +
        total("cpuWaitSeconds") +
        total("diskWaitSeconds") +
        total("netWaitSeconds") +
        total("childWaitSeconds") +
        total("idleSeconds");
      expect(total("netWaitSeconds") / all).toBeGreaterThan(0.8);
      expect(execution.endpoints?.[0]?.endpoint).toBe(`127.0.0.1:${port}`);
    } finally {
      server.close();
    }
  });

  it("exits with the command's code, 128 + signal when killed, and records requests from flags", async () => {
    const failed = await run(
      "fails",
      ["/bin/sh", "-c", "exit 3"],
      ["--request-cpu", "500m", "--request-memory", "1Gi"],
    );
    expect(failed.result.code).toBe(3);
    expect(failed.execution).toMatchObject({
      status: "failed",
      exitCode: 3,
      requestCpuCores: 0.5,
      cpuSource: "flag",
      requestMemoryBytes: 1024 ** 3,
      memorySource: "flag",
    });
    const killed = await run("killed", ["/bin/sh", "-c", "kill -TERM $$"]);
    expect(killed.result.code).toBe(128 + 15);
    expect(killed.execution.status).toBe("killed");
  });

  it("exits 2 with one line for a bad flag", async () => {
    const result = await runCli([
      "--db",
      database.url,
      "run",
      "--pipeline",
      "p",
      "--task",
      "t",
      "--request-cpu",
      "lots",
      "--",
      "true",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--request-cpu");
  });
});

describe("rightsize run, work below a waiting parent", () => {
  /** The burner's CPU: some 6 ticks at 500 ms on a free core, more on a loaded host. */
  const BURN_SECONDS = 3;
  const cases = Object.keys(waitingMiddles).flatMap((middle) =>
    (["its own cgroup", "the process tree"] as const).map((source) => ({ middle, source })),
  );

  it.each(cases)("$middle, CPU from $source", async ({ middle, source }) => {
    const tree = waitingTreeArgv(folder, middle, BURN_SECONDS);
    const task = `waiting-${middle.replace(/\W+/g, "-")}-${source.replace(/\W+/g, "-")}`;
    const env = source === "the process tree" ? { RIGHTSIZE_CGROUP_ROOT: join(folder, "no-cgroup") } : {};
    const { result, samples, processes } = await run(task, tree.argv, [], env);
    expect(result.code, result.stderr).toBe(0);
    const burner = readBurnerReport(tree.burnerReport);
    const kernel = rusageTotal(readRusageReport(tree.rusageReport));
    const stored = samples.at(-1)?.cpuSecondsTotal ?? 0;
    expect.soft(relativeError(stored, kernel), `stored ${stored} s, wait4 ${kernel} s`).toBeLessThan(0.02);
    // Tick by tick, the cores the burner got (its own CPU over its wall clock): the ticks' mean weighted by
    // their length, since the share a loaded host leaves it changes from tick to tick (a median of 0.56
    // against a mean share of 0.46 under the whole suite's load).
    const ticks = fullTicks(samples);
    const cores =
      ticks.reduce((sum, sample) => sum + (sample.cpuCores ?? 0) * sample.intervalSeconds, 0) /
      ticks.reduce((sum, sample) => sum + sample.intervalSeconds, 0);
    expect
      .soft(relativeError(cores, burner.cores), `mean ${cores} cores, burner ${burner.cores}`)
      .toBeLessThan(0.2);
    if (source === "the process tree") {
      // Before the final tick `run` settled from its reaped children, the tree's own arithmetic: short
      // by what the chain used after the last tick (one 500-ms tick of one core, 20 % more for a late
      // timer), never more than the kernel's.
      const before = samples.at(-2)?.cpuSecondsTotal ?? 0;
      expect
        .soft(before, `tree ${before} s before the last tick, wait4 ${kernel} s`)
        .toBeGreaterThanOrEqual(kernel - 0.5 * 1.2);
      expect
        .soft(before, `tree ${before} s before the last tick, wait4 ${kernel} s`)
        .toBeLessThanOrEqual(kernel * 1.02);
    }
    // The per-process split: the burner's row against its own getrusage. With the cgroup's counter the
    // tree is seen only here.
    expectBurnerRow(processes, burner);
  });
});
