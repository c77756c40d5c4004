/**
 * `rightsize explain` on runs whose cause is known: real workloads (test-support/slowdown-workloads.py)
 * under the real `rightsize run` wrapper into a Postgres database of this file's own, a few quick usual
 * runs of each task first, then one run slowed on purpose, then the built CLI's `explain --format json`.
 *
 * The machine is shared and loaded by other work, so every effect is made several times the usual run
 * and the assertions are on the named cause and the ranking, never on exact seconds; each also says
 * which wrong causes must not come first.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Explanation } from "./explain.js";
import { runCli, type CliResult } from "../test-support/cli.js";
import { createPostgresTestDatabase, type TestDatabase } from "../test-support/databases.js";
import { python } from "../test-support/process-workloads.js";

const workloads = fileURLToPath(new URL("../test-support/slowdown-workloads.py", import.meta.url));
/** Every run of this file on one host of its own: the neighbours are this file's runs only. */
const hostId = `explain-scenarios-${process.pid}`;
/** Usual runs before the slowed one: one more than the diagnosis needs (analyzer/diagnosis.ts DIAGNOSIS_MIN_RUNS). */
const USUAL_RUNS = 6;
/** Five ticks a second: a run of one or two seconds still has the ten ticks a correlation needs. */
const INTERVAL = "200ms";

let database: TestDatabase;
let folder: string;
/** A fresh pipeline per attempt: vitest's retry of a test must not add runs to the first attempt's tasks. */
let attempt = 0;

beforeAll(async () => {
  database = await createPostgresTestDatabase();
  folder = mkdtempSync(join(tmpdir(), "rightsize-explain-scenarios-"));
});

afterAll(async () => {
  await database?.drop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** `rightsize run` of `argv` as `generic/PIPELINE/TASK`, run id `run`, on this file's host. */
function track(pipeline: string, task: string, run: string, argv: string[]): Promise<CliResult> {
  return runCli(
    [
      "--db",
      database.url,
      "run",
      "--pipeline",
      pipeline,
      "--task",
      task,
      "--run",
      run,
      "--interval",
      INTERVAL,
      "--",
      ...argv,
    ],
    { cwd: folder, env: { REDIS_URL: "", RIGHTSIZE_HOST_ID: hostId }, timeoutMs: 120_000 },
  );
}

async function tracked(pipeline: string, task: string, run: string, argv: string[]): Promise<void> {
  const result = await track(pipeline, task, run, argv);
  expect(result.code, `${task} ${run}: ${result.stderr}`).toBe(0);
}

/** The usual runs, one after the other (each alone on the host but for the machine's other work). */
async function usualRuns(pipeline: string, task: string, argv: (index: number) => string[]) {
  for (let index = 0; index < USUAL_RUNS; index++)
    await tracked(pipeline, task, `usual-${index}`, argv(index));
}

async function explain(pipeline: string, task: string): Promise<Explanation> {
  const result = await runCli(
    ["--db", database.url, "explain", `generic/${pipeline}/${task}`, "--latest", "--format", "json"],
    { cwd: folder, env: { REDIS_URL: "" }, timeoutMs: 120_000 },
  );
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Explanation;
}

/** A word for `sh -c`: single-quoted (the test's own paths and arguments hold no single quote). */
function shellWord(word: string): string {
  if (word.includes("'")) throw new Error(`no single quotes in shell words: ${word}`);
  return `'${word}'`;
}

/** The victim's argv, marking its start in \`marker\` (for the neighbours of its slowed run to wait for). */
function marking(marker: string, argv: string[]): string[] {
  return ["sh", "-c", `: > ${shellWord(marker)}; exec ${argv.map(shellWord).join(" ")}`];
}

interface Neighbour {
  task: string;
  run: string;
  /** Seconds after the victim's start. */
  delay: number;
  /** What it runs then, a \`sh -c\` script. */
  script: string;
}

/** A neighbour that burns core 1 from the victim's start for four seconds: busy, but not on its core. */
const steady: Neighbour = {
  task: "steady",
  run: "other-core",
  delay: 0,
  script: `exec taskset -c 1 ${python} ${workloads} hog 4`,
};

async function waitForFiles(files: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!files.every((file) => existsSync(file))) {
    if (Date.now() > deadline) throw new Error(`neighbours not started within a minute: ${files.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How long the disk scenario waits for the machine to run no more threads than it has cores. */
const QUIET_WAIT_MS = 180_000;

/** Threads runnable on the machine, other than the reader: /proc/stat's `procs_running`. */
function runnableThreads(): number {
  const line = readFileSync("/proc/stat", "utf8").match(/^procs_running (\d+)$/m);
  if (!line) throw new Error("/proc/stat has no procs_running line");
  return Number(line[1]) - 1;
}

/**
 * Waits until the runnable threads, averaged over 5 s (50 reads), are no more than the cores; null then,
 * or the last average when `timeoutMs` passed first. The instantaneous count, not the load average, whose
 * minute-long decay would keep the scenario waiting long after the tests before it ended.
 */
async function untilCoresSuffice(timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let total = 0;
    for (let read = 0; read < 50; read++) {
      total += runnableThreads();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const average = total / 50;
    if (average <= availableParallelism()) return null;
    if (Date.now() > deadline) return average;
  }
}

/**
 * The victim's slowed run beside its neighbours, each a tracked run of its own. \`rightsize run\` takes a
 * second or more to start its command on the loaded test machine, as long as a usual run lasts: so the
 * neighbours start first and say so, the victim starts once they all have, and each neighbour's work
 * begins its \`delay\` after the victim's own start (\`marker\`, written by its argv, see {@link marking}).
 */
async function slowedBeside(
  pipeline: string,
  marker: string,
  victim: { task: string; argv: string[] },
  neighbours: Neighbour[],
): Promise<void> {
  rmSync(marker, { force: true });
  const ready = neighbours.map((_, index) => `${marker}.ready-${index}`);
  const started = neighbours.map((neighbour, index) =>
    track(pipeline, neighbour.task, neighbour.run, [
      "sh",
      "-c",
      `: > ${shellWord(ready[index]!)}; while [ ! -e ${shellWord(marker)} ]; do sleep 0.02; done; sleep ${neighbour.delay}; ${neighbour.script}`,
    ]),
  );
  await waitForFiles(ready);
  const results = await Promise.all([track(pipeline, victim.task, "slowed", victim.argv), ...started]);
  for (const result of results) expect(result.code, result.stderr).toBe(0);
}

function pipelineOf(name: string): string {
  attempt++;
  return `${name}-${attempt}`;
}

/** The states no run of `cause` may be blamed on first. */
function expectMainCause(explanation: Explanation, cause: string): void {
  const { diagnosis } = explanation;
  expect(diagnosis.verdict, diagnosis.sentences.join("\n")).toBe("slower");
  expect(diagnosis.mainCause, diagnosis.sentences.join("\n")).toBe(cause);
  // The parts still add up to the difference, and the largest growing part is the cause.
  const sum = diagnosis.components.reduce((total, component) => total + component.deltaSeconds, 0);
  expect(sum).toBeCloseTo(diagnosis.deltaSeconds, 6);
}

describe("explain names the known cause of a slowed real run", () => {
  it("a CPU hog pinned to the same core: waiting for a CPU, the hog's task key first", async () => {
    const pipeline = pipelineOf("cpu");
    // About a second of one core's work alone (more on the loaded machine), so the waiting the hogs add
    // is well above the tick explain looks for neighbours from (analyzer/explain.ts
    // waitsBeyondBaseline); the hogs and the run share core 0.
    const marker = join(folder, `${pipeline}.started`);
    const victim = marking(marker, ["taskset", "-c", "0", python, workloads, "burn", "30000000"]);
    await usualRuns(pipeline, "crunch", () => victim);
    // Three hogs (three tracked runs) each give their own cgroup the CPU weight a 10-core request would
    // (cpu.shares 10240 against the 1024 of every other task and cgroup): while they spin, the run gets a
    // few times less of its core than before, however many other threads the machine runs (a weight high
    // enough to starve it for a whole tick makes the collector see the tick as idle: schedstat's run delay
    // only moves when the thread runs, docs/collector.md). They spin in step, 0.75 s of
    // every second of the wall clock, and start 0.4 s after the run, so its waiting rises and falls with
    // their use; a steady burner on the other core overlaps the whole run without taking its core.
    const hog = (run: string): Neighbour => ({
      task: "cpu-hog",
      run,
      delay: 0.4,
      script: `exec taskset -c 0 ${python} ${workloads} pulse 6 10240`,
    });
    await slowedBeside(pipeline, marker, { task: "crunch", argv: victim }, [
      hog("hog-1"),
      hog("hog-2"),
      hog("hog-3"),
      steady,
    ]);

    const explanation = await explain(pipeline, "crunch");
    expectMainCause(explanation, "cpuWait");
    const cpu = explanation.neighbours.find((finding) => finding.resource === "cpu");
    expect(cpu, JSON.stringify(explanation.neighbours)).toBeDefined();
    expect(cpu!.ranks[0]!.label, cpu!.sentences.join("\n")).toBe(`generic/${pipeline}/cpu-hog`);
    expect(cpu!.ranks[0]!.runIds).toEqual(["hog-1", "hog-2", "hog-3"]);
    // First by evidence when their use lines up with the run's waiting, else by the CPU they took while it
    // waited (analyzer/neighbours.ts rankNeighbours): either way more than the burner on the other core.
    const other = cpu!.ranks.find((rank) => rank.label === `generic/${pipeline}/steady`);
    if (other && cpu!.ranks[0]!.strength === other.strength)
      expect(cpu!.ranks[0]!.cpuSeconds).toBeGreaterThan(other.cpuSeconds);
  });

  // A disk wait shows as one only where the disk is slower than the wait for a CPU: on a machine running
  // more threads than it has cores, an O_DIRECT read or an fsync returns within a tick and the run then
  // waits for a CPU, flood or no flood (measured on the 2-core test machine at load 18: every usual run
  // already spent most of its time waiting for a CPU, and the flooded one 3.3 times as long, all of it
  // for a CPU). So the scenario waits until the machine runs no more threads than it has cores (the tests
  // before it end busy), and says so and is skipped only if that never happens, rather than blaming the
  // disk for the cores.
  it("a neighbour writing with O_DSYNC to the same disk: blocked on disk, the writer's task key first", async (context) => {
    const busy = await untilCoresSuffice(QUIET_WAIT_MS);
    if (busy !== null)
      context.skip(
        `the machine ran ${busy.toFixed(1)} threads on ${availableParallelism()} cores for ${QUIET_WAIT_MS / 60_000} minutes`,
      );
    const pipeline = pipelineOf("disk");
    // An index lookup: random 4 KiB reads with O_DIRECT, each one a real request to the disk.
    const table = join(folder, `${pipeline}.table`);
    execFileSync("dd", ["if=/dev/urandom", `of=${table}`, "bs=1M", "count=128", "conv=fsync", "status=none"]);
    const marker = join(folder, `${pipeline}.started`);
    const victim = marking(marker, [python, workloads, "direct-reader", table, "20000"]);
    await usualRuns(pipeline, "lookup", () => victim);
    // 0.3 s after the run starts, a neighbour writes 4 MiB at a time with O_DIRECT and O_DSYNC to the same
    // disk from two processes: every read of the run queues behind their writes at the device. Measured
    // on the 2-core test machine, quiet: 20,000 such reads took 0.97 s, 0.49 s of it blocked on disk;
    // beside the two writers 4.2 s, 3.4 s of it on disk and 0.3 s waiting for a CPU (schedstat). Written
    // through the page cache instead (O_DSYNC alone), the writers mostly cost CPU: 0.4 s more on disk.
    const flood = (index: number) =>
      `timeout 6 dd if=/dev/zero of=${join(folder, `flood-${index}`)} bs=4M count=100000 oflag=direct,dsync status=none`;
    await slowedBeside(pipeline, marker, { task: "lookup", argv: victim }, [
      { task: "dsync-writer", run: "flood", delay: 0.3, script: `${flood(1)} & ${flood(2)}; wait; true` },
      steady,
    ]);
    for (const index of [1, 2]) rmSync(join(folder, `flood-${index}`), { force: true });

    rmSync(table, { force: true });
    const explanation = await explain(pipeline, "lookup");
    expectMainCause(explanation, "diskWait");
    const disk = explanation.neighbours.find((finding) => finding.resource === "disk");
    expect(disk, JSON.stringify(explanation.neighbours)).toBeDefined();
    expect(disk!.ranks[0]!.label, disk!.sentences.join("\n")).toBe(`generic/${pipeline}/dsync-writer`);
  });

  it("three times the usual input: more work at the usual pace with three times the bytes read, not waiting", async () => {
    const pipeline = pipelineOf("input");
    const usual = join(folder, `${pipeline}-usual.txt`);
    const triple = join(folder, `${pipeline}-triple.txt`);
    writeText(usual, 8);
    writeText(triple, 24);
    await usualRuns(pipeline, "compress", () => [python, workloads, "compress", usual]);
    await tracked(pipeline, "compress", "slowed", [python, workloads, "compress", triple]);

    const explanation = await explain(pipeline, "compress");
    expectMainCause(explanation, "work");
    const read = explanation.diagnosis.volumes.find((volume) => volume.metric === "diskReadBytes")!;
    expect(read.ratio).toBeGreaterThan(2.5);
    expect(read.ratio).toBeLessThan(3.5);
    const cpu = explanation.diagnosis.volumes.find((volume) => volume.metric === "cpuSeconds")!;
    expect(cpu.ratio).toBeGreaterThan(2);
    expect(explanation.diagnosis.sentences.join("\n")).toMatch(
      /read against a median of .* \((2\.\d|3(\.\d)?)×\)/,
    );
  });

  it("a slower remote endpoint: the network wait on that endpoint, not the one that kept its pace", async () => {
    const pipeline = pipelineOf("endpoint");
    const steady = await delayedServer(300);
    const slowing = await delayedServer(300);
    try {
      const victim = [python, workloads, "fetch", steady.url, slowing.url, steady.url, slowing.url];
      await usualRuns(pipeline, "fetch-rates", () => victim);
      slowing.delayMs = 2000;
      await tracked(pipeline, "fetch-rates", "slowed", victim);
    } finally {
      await Promise.all([steady.close(), slowing.close()]);
    }

    const explanation = await explain(pipeline, "fetch-rates");
    expectMainCause(explanation, "networkWait");
    expect(explanation.diagnosis.mainEndpoint).toBe(`127.0.0.1:${slowing.port}`);
    // No CPU or disk wait beyond the usual: no neighbour is looked for.
    expect(explanation.neighbours).toEqual([]);
  });

  it("a task whose duration follows its input size: the inconsistency sentence names bytes read", async () => {
    const pipeline = pipelineOf("growth");
    // Inputs from 4 to 44 MiB: the work they bring (some 30 ms of CPU a MiB) outgrows what the loaded
    // machine's waits for a CPU add to a run at random.
    const sizes = [4, 28, 8, 36, 12, 44, 16, 40, 20];
    for (const [index, mib] of sizes.entries()) {
      const input = join(folder, `${pipeline}-${index}.txt`);
      writeText(input, mib);
      await tracked(pipeline, "compress", `day-${index}`, [python, workloads, "compress", input]);
    }

    const { inconsistency } = await explain(pipeline, "compress");
    expect(inconsistency.runs).toBe(sizes.length);
    expect(
      inconsistency.explainedBy?.factor,
      `${inconsistency.sentence}\n${JSON.stringify(inconsistency.factors)}`,
    ).toBe("diskReadBytes");
    expect(inconsistency.explainedBy!.r).toBeGreaterThan(0.8);
    expect(inconsistency.sentence).toMatch(
      new RegExp(`^Duration follows bytes read: r = [01]\\.\\d\\d over ${sizes.length} runs`),
    );
  });
});

/** `mib` MiB of text that compresses slowly (base64 of random bytes), written to `file`. */
function writeText(file: string, mib: number): void {
  writeFileSync(file, randomBytes((mib * 1024 * 1024 * 3) / 4).toString("base64"));
}

/** An HTTP server on 127.0.0.1 that answers every request after `delayMs` (which the test may change). */
async function delayedServer(delayMs: number) {
  const server: Server = createServer((_request, response) => {
    setTimeout(() => response.end("ok\n"), state.delayMs);
  });
  const state = {
    delayMs,
    port: 0,
    url: "",
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}/rates`;
  return state;
}
