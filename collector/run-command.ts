/**
 * `rightsize run … -- CMD`: starts CMD with inherited stdio (in a cgroup of its own where one can be
 * made), forwards SIGINT/SIGTERM/SIGHUP, samples its whole tree, records the execution and returns CMD's
 * exit code (128 + signal number when a signal killed it, as shells report it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { coerceError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Attribution } from "./attribution/attribution.js";
import { observeSink } from "./export/observe-sink.js";
import { createOwnCgroup, type OwnCgroup } from "./procfs/cgroup.js";
import { takeHostInventory } from "./procfs/host-inventory.js";
import type { AccountingMode } from "./procfs/process-accounting.js";
import { parseIo, parseProcCgroup, parseStat } from "./procfs/procfs-parse.js";
import { CLOCK_TICKS_PER_SECOND } from "./procfs/procfs-parse.js";
import { redactArgv } from "./storage/redact.js";
import type { SampleWriter } from "./storage/writer.js";
import { startSamplerLoop } from "./tracking/loop.js";
import { MIN_SAMPLE_GAP_MS } from "./tracking/sample-math.js";
import type { RootIo } from "./tracking/process-tree.js";
import { type SampleSink, Sampler } from "./tracking/sampler.js";

export interface RunOptions {
  command: string[];
  attribution: Attribution;
  requests: { cpuCores: number | null; memoryBytes: number | null };
  intervalMs: number;
  procRoot: string;
  cgroupRoot: string;
  hostId: string;
  /** May still be opening (an embedded database takes seconds): the command does not wait for it. */
  writer: SampleWriter | Promise<SampleWriter>;
  logger: Logger;
  /** Poll of the tree's children lists; 0 turns it off. */
  pollMs?: number;
  /** Sees every row the writer gets: live per-task metrics export (collector/export/task-metrics.ts). */
  metrics?: SampleSink | null;
  /** Exited processes from BSD process accounting or the poll (process-accounting.ts); omitted: poll. */
  accounting?: { mode: AccountingMode; stateDir: string };
}

/** Buffers rows until the writer is ready, then hands them over in order and forwards the rest. */
class DeferredSink {
  private writer: SampleWriter | null = null;
  private queue: Array<(writer: SampleWriter) => void> = [];
  private discarding = false;

  attach(writer: SampleWriter): void {
    this.writer = writer;
    for (const call of this.queue) call(writer);
    this.queue = [];
  }

  /** The writer could not be opened: rows are dropped from now on instead of piling up in memory. */
  discard(): void {
    this.discarding = true;
    this.queue = [];
  }

  private send(call: (writer: SampleWriter) => void): void {
    if (this.writer) call(this.writer);
    else if (!this.discarding) this.queue.push(call);
  }

  host(row: Parameters<SampleWriter["host"]>[0]): void {
    this.send((writer) => writer.host(row));
  }
  execution(row: Parameters<SampleWriter["execution"]>[0]): void {
    this.send((writer) => writer.execution(row));
  }
  samples(rows: Parameters<SampleWriter["samples"]>[0]): void {
    this.send((writer) => writer.samples(rows));
  }
  processes(rows: Parameters<SampleWriter["processes"]>[0]): void {
    this.send((writer) => writer.processes(rows));
  }
}

/** The child joins the cgroup(s) before it execs CMD, so nothing CMD starts escapes them. */
const TRAMPOLINE =
  'IFS=:; for f in $RIGHTSIZE_CGROUP_PROCS; do echo $$ > "$f"; done 2>/dev/null; unset IFS RIGHTSIZE_CGROUP_PROCS; exec "$@"';

/** Exit code of a command a signal ended: 128 + the signal's number (POSIX shells). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return 128 + (number ?? 0);
}

export function statusOf(
  code: number | null,
  signal: NodeJS.Signals | null,
): "succeeded" | "failed" | "killed" {
  if (signal !== null) return "killed";
  return code === 0 ? "succeeded" : "failed";
}

function waitForExit(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolve) => {
    child.once("error", (error) => resolve({ code: 127, signal: null, error }));
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function forwardSignals(child: ChildProcess): () => void {
  const handlers = FORWARDED.map((signal) => {
    const handler = () => {
      child.kill(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** Waits (briefly) until the child is in the cgroup, or has exec'd without joining it. */
async function joinedCgroup(
  procRoot: string,
  pid: number,
  own: OwnCgroup,
  sampler: Sampler,
): Promise<boolean> {
  const name = own.cgroup.path.split("/").pop() ?? "";
  // The trampoline joins within a few ms; 2 s covers a loaded machine.
  for (let waited = 0; waited < 2000; waited += 5) {
    const text = sampler.reader.read(`${procRoot}/${pid}/cgroup`);
    if (text === undefined) return false;
    if (parseProcCgroup(text).some((entry) => entry.path.endsWith(`/${name}`))) return true;
    const comm = sampler.reader.read(`${procRoot}/${pid}/comm`)?.trim();
    if (comm !== undefined && comm !== "sh" && comm !== "dash" && comm !== "bash") return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

export async function runCommand(options: RunOptions): Promise<number> {
  if (process.platform !== "linux") return runWithPidusage(options);
  const { logger } = options;
  const writer = new DeferredSink();
  const ready = Promise.resolve(options.writer).then(
    (opened) => {
      writer.attach(opened);
      return opened;
    },
    () => {
      // The caller reports why; the command runs on unrecorded.
      writer.discard();
      return null;
    },
  );
  const sampler = new Sampler({
    procRoot: options.procRoot,
    cgroupRoot: options.cgroupRoot,
    hostId: options.hostId,
    sink: observeSink(writer, options.metrics ?? null, logger),
    logger,
    redact: redactArgv,
    intervalMs: options.intervalMs,
    accounting: options.accounting,
  });
  const executionId = randomUUID();
  const own = createOwnCgroup(
    sampler.reader,
    options.procRoot,
    sampler.cgroupLayout,
    `rightsize-${executionId}`,
  );
  if (!own) logger.info("no cgroup of its own could be made: CPU and I/O come from the process tree");
  const [file, ...args] = options.command as [string, ...string[]];
  const env = { ...process.env, RIGHTSIZE_WRAPPED: executionId };
  const reapedBefore = reapedChildrenTicks();
  const reapedIoBefore = reapedChildrenIo();
  const startedAtMs = Date.now();
  const child = own
    ? spawn("/bin/sh", ["-c", TRAMPOLINE, "rightsize-run", file, ...args], {
        stdio: "inherit",
        env: { ...env, RIGHTSIZE_CGROUP_PROCS: own.procsFiles.join(":") },
      })
    : spawn(file, args, { stdio: "inherit", env });
  const exited = waitForExit(child);
  const stopForwarding = forwardSignals(child);
  const inventory = takeHostInventory(options.hostId, sampler.cgroupLayout)
    .then((host) => writer.host(host))
    .catch((error) => logger.warn({ err: coerceError(error) }, "host inventory failed"));
  let loop: ReturnType<typeof startSamplerLoop> | null = null;
  let tracked = false;
  if (child.pid !== undefined) {
    const inCgroup = own ? await joinedCgroup(options.procRoot, child.pid, own, sampler) : false;
    if (own && !inCgroup)
      logger.info("the command did not join its cgroup: CPU and I/O come from the process tree");
    sampler.track({
      pid: child.pid,
      attribution: options.attribution,
      startedAtMs,
      ownCgroup: inCgroup ? own!.cgroup : null,
      requests: options.requests,
      executionId,
    });
    tracked = true;
    loop = startSamplerLoop(sampler, {
      intervalMs: options.intervalMs,
      pollMs: options.pollMs,
      discover: false,
      logger,
    });
  }
  const result = await exited;
  stopForwarding();
  const exitCode = exitCodeOf(result.code, result.signal);
  // From here on nothing that goes wrong in rightsize may change the exit code or keep the cgroups.
  try {
    loop?.stop();
    if (result.error) process.stderr.write(`rightsize: cannot start ${file}: ${result.error.message}\n`);
    if (tracked) {
      try {
        // Reaped by now: its whole CPU and storage bytes, own and its children's, are this process's
        // children's.
        const reapedAfter = reapedChildrenTicks();
        const reapedIoAfter = reapedChildrenIo();
        if (reapedBefore !== null && reapedAfter !== null)
          sampler.settleRoot(
            executionId,
            (reapedAfter - reapedBefore) / CLOCK_TICKS_PER_SECOND,
            reapedIoBefore &&
              reapedIoAfter && {
                readBytes: reapedIoAfter.readBytes - reapedIoBefore.readBytes,
                writeBytes: reapedIoAfter.writeBytes - reapedIoBefore.writeBytes,
              },
          );
        // A tick closer than this to the loop's last one makes no sample (sample-math.ts), and what
        // settling added would land in none.
        await new Promise((resolve) => setTimeout(resolve, MIN_SAMPLE_GAP_MS));
        sampler.tick(); // the last partial tick: the cgroup still holds the final counters
      } catch (error) {
        logger.error({ err: coerceError(error) }, "final tick failed");
      }
      sampler.end(executionId, { exitCode, status: statusOf(result.code, result.signal) });
    }
    sampler.close();
    await inventory;
    await (await ready)?.close();
  } catch (error) {
    logger.error({ err: coerceError(error) }, "recording the execution failed");
  } finally {
    if (own) {
      const left = own.remove();
      if (left.length > 0)
        logger.warn({ cgroups: left }, "cgroup not removed: processes of the command still run in it");
    }
  }
  return exitCode;
}

/**
 * This process's reaped children's CPU (cutime + cstime), ticks. The wrapper starts no other child while
 * the command runs (process accounting's `accton` runs before), so the difference is the command's own.
 */
export function reapedChildrenTicks(): number | null {
  try {
    const stat = parseStat(readFileSync("/proc/self/stat", "utf8"));
    return stat ? stat.cutimeTicks + stat.cstimeTicks : null;
  } catch {
    return null;
  }
}

/**
 * The storage bytes this process's reaped children read and wrote, themselves and what they had reaped:
 * the kernel folds a child's io into its parent's on wait, and /proc/self/io sums those with every live
 * thread's, which /proc/self/task/TID/io give one by one. Null when a file cannot be read. A thread of
 * this process that exited would count as a child: the wrapper's threads live as long as it does.
 */
export function reapedChildrenIo(): RootIo | null {
  try {
    const whole = parseIo(readFileSync("/proc/self/io", "utf8"));
    let readBytes = whole.readBytes;
    let writeBytes = whole.writeBytes;
    for (const tid of readdirSync("/proc/self/task")) {
      const thread = parseIo(readFileSync(`/proc/self/task/${tid}/io`, "utf8"));
      readBytes = readBytes === null || thread.readBytes === null ? null : readBytes - thread.readBytes;
      writeBytes = writeBytes === null || thread.writeBytes === null ? null : writeBytes - thread.writeBytes;
    }
    return readBytes === null || writeBytes === null ? null : { readBytes, writeBytes };
  } catch {
    return null;
  }
}

/**
 * Outside Linux there is no /proc: pidusage gives the root process's CPU and memory only (it spawns `ps`
 * per call on macOS, so this path is for trying rightsize out, not for production hosts).
 */
async function runWithPidusage(options: RunOptions): Promise<number> {
  const { logger } = options;
  // No writer (the caller reports why): the command still runs and its exit code is returned.
  const writer = await Promise.resolve(options.writer).catch(() => null);
  // Loaded here only: on Linux (every production `run`) /proc serves, and the import is CPU each run pays.
  const { default: pidusage } = await import("pidusage");
  logger.warn(
    `on ${process.platform} only the command's own CPU and memory are measured: no children, disk, network, thread states or cgroup limits`,
  );
  const executionId = randomUUID();
  const startedAt = new Date();
  const [file, ...args] = options.command as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: "inherit",
    env: { ...process.env, RIGHTSIZE_WRAPPED: executionId },
  });
  const exited = waitForExit(child);
  const stopForwarding = forwardSignals(child);
  const base = {
    id: executionId,
    orchestrator: options.attribution.orchestrator,
    pipeline: options.attribution.pipeline,
    task: options.attribution.task,
    runId: options.attribution.runId ?? startedAt.toISOString(),
    tryNumber: options.attribution.tryNumber ?? 1,
    mapIndex: options.attribution.mapIndex ?? -1,
    hostId: options.hostId,
    attribution: options.attribution.source,
    rootPid: child.pid ?? null,
    startedAt,
    requestCpuCores: options.requests.cpuCores,
    cpuSource: options.requests.cpuCores === null ? null : "flag",
    requestMemoryBytes: options.requests.memoryBytes,
    memorySource: options.requests.memoryBytes === null ? null : "flag",
  };
  writer?.execution(base);
  let cpuSecondsTotal = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    if (child.pid === undefined) return;
    pidusage(child.pid)
      .then((stat) => {
        const now = Date.now();
        const intervalSeconds = (now - last) / 1000;
        last = now;
        cpuSecondsTotal = stat.ctime / 1000;
        writer?.samples([
          {
            executionId,
            ts: new Date(now),
            intervalSeconds,
            cpuCores: stat.cpu / 100,
            cpuSecondsTotal,
            rssBytes: stat.memory,
          },
        ]);
      })
      .catch((error) => logger.debug({ err: coerceError(error) }, "pidusage failed"));
  }, options.intervalMs);
  const result = await exited;
  clearInterval(timer);
  stopForwarding();
  const exitCode = exitCodeOf(result.code, result.signal);
  writer?.execution({ ...base, endedAt: new Date(), exitCode, status: statusOf(result.code, result.signal) });
  await writer
    ?.close()
    .catch((error) => logger.error({ err: coerceError(error) }, "closing the writer failed"));
  return exitCode;
}
