/**
 * `rightsize demo`: runs the sample pipeline of cli/demo/scenario.ts under the real collector, then the
 * real scan, analysis, reports and patches — each step the same `rightsize` command a user would run,
 * started as a child process with the demo's global flags.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AnalysisDocument, analysisDocumentSchema } from "../../common/analysis-document.js";
import type { Logger } from "../../common/logger.js";
import { codePath } from "../../common/package-root.js";
import { type DemoTask, demoTasks, taskSeconds } from "./scenario.js";

const cliMain = codePath("cli", "main.js");
const workloadScript = codePath("cli", "demo", "workload.js");

/** How long the slow API of the network-bound task takes to answer: long enough to dominate its time. */
const SLOW_API_DELAY_MS = 400;

export interface DemoOptions {
  /** Global flags passed to every step (--db, --redis, --config). */
  globalArgs: string[];
  /** Extra environment for every step. */
  env?: NodeJS.ProcessEnv;
  examplesDir: string;
  outDir: string;
  runs: number;
  secondsPerTask: number;
  intervalMs: number;
  tasks?: DemoTask[];
  /** Analyze through BullMQ workers (started by the demo) instead of inline: needs Redis and Postgres. */
  queue: boolean;
  logger: Logger;
  /** Progress lines for people. */
  progress(line: string): void;
}

export interface DemoResult {
  document: AnalysisDocument;
  analysisFile: string;
  reportDir: string;
  patchDir: string;
}

/** Fails with the step's stderr when a `rightsize` step exits non-zero. */
export class DemoStepError extends Error {
  override name = "DemoStepError";
}

function runStep(options: DemoOptions, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...options.globalArgs, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else
        reject(
          new DemoStepError(
            `rightsize ${args.join(" ")} exited ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
          ),
        );
    });
  });
}

/** Starts a long-running `rightsize` command (collector, worker); keeps the tail of its log for errors. */
function startRightsize(options: DemoOptions, args: string[]): { child: ChildProcess; log(): string } {
  const child = spawn(process.execPath, [cliMain, ...options.globalArgs, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk) => {
    log = (log + chunk).slice(-4000);
  });
  return { child, log: () => log.trim() };
}

function startSlowApi(): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => {
    setTimeout(() => response.end(JSON.stringify({ orders: [] })), SLOW_API_DELAY_MS);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}/orders` });
    }),
  );
}

interface LaunchContext {
  binDir: string;
  logsDir: string;
  apiUrl: string;
  secondsPerTask: number;
  /** This run's number (from 1) among the demo's runs. */
  run: number;
  runs: number;
}

/** Starts one try of one task in its orchestrator's process shape; resolves with its exit code. */
function launchTask(task: DemoTask, runId: string, context: LaunchContext): Promise<number | null> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...task.env,
    DEMO_WORKLOAD: task.workload,
    DEMO_SECONDS: String(taskSeconds(task, context.run, context.runs, context.secondsPerTask)),
    DEMO_URL: context.apiUrl,
  };
  let args: string[];
  if (task.shape === "airflow-argv") {
    // The real thing is `python /usr/local/bin/airflow tasks run …`: an interpreter, then a script named airflow.
    args = [join(context.binDir, "airflow"), "tasks", "run", task.pipeline, task.task, runId, "--raw"];
    env.AIRFLOW_CTX_TRY_NUMBER = "1";
  } else if (task.shape === "airflow-log") {
    const folder = join(
      context.logsDir,
      `dag_id=${task.pipeline}`,
      `run_id=${runId}`,
      `task_id=${task.task}`,
    );
    mkdirSync(folder, { recursive: true });
    env.DEMO_LOG_FILE = join(folder, "attempt=1.log");
    // A Celery worker's supervisor: its argv says `airflow celery worker`, only the open log file says
    // which task it runs; it starts the runner (cli/demo/workload.ts `supervise`), which is the task.
    args = [join(context.binDir, "airflow"), "celery", "worker"];
  } else {
    // What a Prefect worker puts in a flow run's environment (3.6.17+: the names as well as the run id).
    const [flow, deployment] = task.pipeline.split("/");
    env.PREFECT__FLOW_RUN_ID = randomUUID();
    env.PREFECT__FLOW_NAME = flow;
    if (deployment) env.PREFECT__DEPLOYMENT_NAME = deployment;
    args = [workloadScript];
  }
  const child = spawn(process.execPath, args, { env, stdio: "ignore" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const tasks = options.tasks ?? demoTasks;
  const started = Date.now();
  const elapsed = () => `${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s`;
  const step = (line: string) => options.progress(`[${elapsed()}] ${line}`);
  const scratch = mkdtempSync(join(tmpdir(), "rightsize-demo-"));
  const binDir = join(scratch, "bin");
  mkdirSync(binDir);
  symlinkSync(workloadScript, join(binDir, "airflow"));
  mkdirSync(options.outDir, { recursive: true });

  step(`scanning ${options.examplesDir} for declared requests`);
  await runStep(options, ["scan", "--repo", options.examplesDir]);

  step(`starting the collector (tick ${options.intervalMs} ms)`);
  const { child: collector, log: collectorLog } = startRightsize(options, [
    "collect",
    "--interval",
    `${options.intervalMs}ms`,
  ]);
  const api = await startSlowApi();
  let failure: unknown;
  try {
    // Let the collector open the database and take its first look before the first task starts.
    await sleep(3000);
    if (collector.exitCode !== null) {
      throw new DemoStepError(`the collector exited ${collector.exitCode}: ${collectorLog()}`);
    }
    const context: LaunchContext = {
      binDir,
      logsDir: join(scratch, "logs"),
      apiUrl: api.url,
      secondsPerTask: options.secondsPerTask,
      run: 1,
      runs: options.runs,
    };
    const total = options.runs * tasks.length;
    let done = 0;
    for (let run = 1; run <= options.runs; run++) {
      const runId = `manual__${new Date(started + run).toISOString().replace("Z", "+00:00")}`;
      for (const task of tasks) {
        done++;
        const name = `${task.orchestrator} ${task.pipeline}.${task.task}`;
        step(`run ${run}/${options.runs}  ${String(done).padStart(2)}/${total}  ${name} — ${task.story}`);
        const code = await launchTask(task, runId, { ...context, run });
        if (code !== 0) throw new DemoStepError(`demo task ${name} exited ${code}`);
      }
    }
    // Two ticks for the collector to see the last task end.
    await sleep(options.intervalMs * 2 + 500);
  } catch (error) {
    failure = error;
  }
  api.server.close();
  collector.kill("SIGTERM");
  const collectorCode = await waitForExit(collector);
  rmSync(scratch, { recursive: true, force: true });
  if (failure) throw failure;
  // A collector that did not flush and exit cleanly leaves the analysis without its data.
  if (collectorCode !== 0) {
    throw new DemoStepError(`the collector exited ${collectorCode} on SIGTERM: ${collectorLog()}`);
  }

  const analysisFile = join(options.outDir, "analysis.json");
  // The window ends on the next whole minute, so the runs that ended this minute are in it.
  const windowEnd = new Date(Math.ceil(Date.now() / 60_000) * 60_000).toISOString();
  if (options.queue) {
    step("analyzing through the nightly job flow on BullMQ, with two workers");
    const workers = [1, 2].map(() => startRightsize(options, ["worker"]));
    try {
      await runStep(options, ["analyze", "--enqueue", "--window-end", windowEnd, "--json", analysisFile]);
    } finally {
      for (const worker of workers) worker.child.kill("SIGTERM");
      await Promise.all(workers.map((worker) => waitForExit(worker.child)));
    }
  } else {
    step("analyzing");
    await runStep(options, ["analyze", "--window-end", windowEnd, "--json", analysisFile]);
  }
  const document = analysisDocumentSchema.parse(JSON.parse(readFileSync(analysisFile, "utf8")));

  step("rendering reports");
  const reportDir = options.outDir;
  // From the database's analysis (the one just stored), not the JSON file: only there are the samples
  // the report's timelines are drawn from.
  await runStep(options, ["report", "--out", reportDir, "--format", "html,md"]);

  step("writing patches for the DAG and prefect.yaml");
  const patchDir = join(options.outDir, "patches");
  await runStep(options, [
    "patch",
    "--repo",
    options.examplesDir,
    "--recommendations",
    analysisFile,
    "--out",
    patchDir,
  ]);

  step("done");
  return { document, analysisFile, reportDir, patchDir };
}
