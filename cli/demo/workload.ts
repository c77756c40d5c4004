/**
 * The demo's task bodies: real work of one kind each, so the real collector sees real CPU, memory, disk,
 * network and process churn. Started by cli/demo/pipeline.ts in the shape of an orchestrator's task
 * process (see there); the kind of work comes from DEMO_WORKLOAD, its length from DEMO_SECONDS.
 *
 * Kept free of imports from the rest of the project: it runs as a short-lived child many times.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, Worker, workerData } from "node:worker_threads";

const seconds = Number(process.env.DEMO_SECONDS ?? "4");
const deadline = Date.now() + seconds * 1000;

function burn(until: number): number {
  let x = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 100_000; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
  }
  return x;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function cpuThreads(threads: number): Promise<void> {
  const workers = Array.from(
    { length: threads },
    () => new Worker(new URL(import.meta.url), { workerData: { until: deadline } }),
  );
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve))));
}

async function memory(megabytes: number): Promise<void> {
  const chunks: Buffer[] = [];
  // Touch one byte per 4 KiB page, a chunk at a time: RSS really grows, at a fraction of the CPU that
  // filling every byte would cost, so holding the memory stays the task's story.
  for (let i = 0; i < megabytes / 16; i++) {
    const chunk = Buffer.allocUnsafeSlow(16 * 1024 * 1024);
    for (let offset = 0; offset < chunk.length; offset += 4096) chunk[offset] = i % 251;
    chunks.push(chunk);
    await sleep(10);
  }
  while (Date.now() < deadline) await sleep(100);
  if (chunks.length === 0) throw new Error("nothing allocated");
}

function disk(): void {
  const file = join(tmpdir(), `rightsize-demo-${process.pid}.dat`);
  // 64 KiB per fsync: the thread spends some 80 % of its time blocked on the device here, against 30 %
  // with 1 MiB writes, where copying the data into the page cache takes the rest.
  const block = Buffer.alloc(64 * 1024, 7);
  const fd = openSync(file, "w");
  try {
    while (Date.now() < deadline) {
      writeSync(fd, block);
      fsyncSync(fd);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

async function httpWait(url: string): Promise<void> {
  while (Date.now() < deadline) {
    await new Promise<void>((resolve, reject) => {
      get(url, (response) => {
        response.resume();
        response.on("end", resolve);
      }).on("error", reject);
    });
  }
}

function spawnMany(): void {
  // Hundreds of short-lived children, as shell-heavy tasks do (gzip per file, psql per table…).
  let children = 0;
  while (Date.now() < deadline) {
    // Each child computes for some 20 ms, like a small gzip or a psql one-liner: long enough that the
    // scheduler's latency in starting each new process stays a small part of its time.
    spawnSync("sh", ["-c", "i=0; while [ $i -lt 12000 ]; do i=$((i+1)); done"]);
    children++;
  }
  process.stdout.write(`spawned ${children} children\n`);
}

async function main(): Promise<void> {
  const kind = process.env.DEMO_WORKLOAD ?? "sleep";
  switch (kind) {
    case "cpu":
      burn(deadline);
      break;
    case "threads":
      await cpuThreads(Number(process.env.DEMO_THREADS ?? "2"));
      break;
    case "memory":
      await memory(Number(process.env.DEMO_MEGABYTES ?? "400"));
      break;
    case "disk":
      disk();
      break;
    case "http":
      await httpWait(process.env.DEMO_URL ?? "http://127.0.0.1:1/");
      break;
    case "spawn":
      spawnMany();
      break;
    case "sleep":
      await sleep(seconds * 1000);
      break;
    default:
      throw new Error(`unknown DEMO_WORKLOAD ${kind}`);
  }
}

/**
 * Airflow 3's task supervisor keeps the task's log file open and starts the task runner, which retitles
 * itself `airflow worker -- <ti id>` (apache/airflow task-sdk `execution_time/supervisor.py` `supervise`,
 * `task_runner.py` `startup`). The collector takes the task from the supervisor's open log and makes the
 * runner, not the supervisor, the execution.
 */
async function supervise(logFile: string): Promise<void> {
  const fd = openSync(logFile, "a");
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_RUNNER_TITLE: `airflow worker -- ${randomUUID()}` };
    delete env.DEMO_LOG_FILE;
    // Node writes a new title into the memory argv came in (libuv `uv_set_process_title`): the filler
    // argument makes room for the runner's title.
    const room = "-".repeat(64);
    const child = spawn(process.execPath, [process.argv[1]!, room], { env, stdio: "inherit" });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    writeSync(fd, `task exited with ${code}\n`);
    process.exitCode = code ?? 1;
  } finally {
    closeSync(fd);
  }
}

if (isMainThread) {
  if (process.env.DEMO_LOG_FILE) await supervise(process.env.DEMO_LOG_FILE);
  else {
    if (process.env.DEMO_RUNNER_TITLE) process.title = process.env.DEMO_RUNNER_TITLE;
    await main();
  }
} else {
  burn((workerData as { until: number }).until);
}
