/**
 * `rightsize collect`: the host daemon. Discovers attributed task roots host-wide, samples them until
 * stopped (SIGINT/SIGTERM, or the optional duration), then flushes and returns. Executions a crashed
 * collector left open are resumed when their root still runs, and reported "lost" otherwise.
 */
import type { Server } from "node:http";
import type { Logger } from "../common/logger.js";
import type { ExecutionRow } from "../db/queries/executions.js";
import type { LogTemplate } from "./attribution/airflow-log-template.js";
import type { Attribution } from "./attribution/attribution.js";
import type { PodSource } from "./attribution/kubernetes-client.js";
import type { TrustPolicy } from "./attribution/trust.js";
import type { CollectorHealth } from "./export/health-metrics.js";
import { observeSink } from "./export/observe-sink.js";
import { takeHostInventory } from "./procfs/host-inventory.js";
import type { AccountingMode } from "./procfs/process-accounting.js";
import { redactArgv } from "./storage/redact.js";
import type { NewExecution, SampleWriter } from "./storage/writer.js";
import { startSamplerLoop } from "./tracking/loop.js";
import { type SampleSink, Sampler } from "./tracking/sampler.js";

export interface CollectOptions {
  intervalMs: number;
  /** Stop after this long; null: until a signal. */
  durationMs: number | null;
  procRoot: string;
  cgroupRoot: string;
  hostId: string;
  writer: SampleWriter;
  logger: Logger;
  /** Executions this host left open (ended_at null), with the time of their last sample. */
  openExecutions: Array<{ row: ExecutionRow; lastSampleAt: Date | null }>;
  pollMs?: number;
  /** Exited processes from BSD process accounting or the poll (process-accounting.ts); omitted: poll. */
  accounting?: { mode: AccountingMode; stateDir: string };
  /** Resolves when the daemon should stop (tests); signals work as well. */
  stop?: Promise<void>;
  /** `collector.airflowLogTemplate`, compiled (collector/attribution/airflow-log-template.ts). */
  logTemplates?: readonly LogTemplate[];
  /** Pod metadata for Kubernetes nodes; its first listing is awaited at start. */
  pods?: PodSource | null;
  /** Whose processes may be attributed (collector/attribution/trust.ts); absent: everyone's. */
  trust?: TrustPolicy;
  /** HOST:PORT of the metrics endpoint (collector/export/health-metrics.ts); null or absent: off. */
  metricsListen?: string | null;
  /** Sees every row the writer gets: live per-task metrics export (collector/export/task-metrics.ts). */
  metrics?: SampleSink | null;
}

export interface CollectSummary {
  ticks: number;
  resumed: number;
  lost: number;
  executions: number;
}

function attributionOf(row: ExecutionRow): Attribution {
  return {
    orchestrator: row.orchestrator,
    pipeline: row.pipeline,
    task: row.task,
    runId: row.runId,
    tryNumber: row.tryNumber,
    mapIndex: row.mapIndex < 0 ? null : row.mapIndex,
    source: row.attribution,
  };
}

/**
 * Resumes open executions whose root still runs; the others were lost with the collector that died.
 * An execution `rightsize run` recorded belongs to its wrapper: while its root runs it is left alone (the
 * wrapper samples it and records its end; its root carries RIGHTSIZE_WRAPPED, so discovery skips it
 * too), and once its root is gone it is marked lost only if nobody recorded an end (the "lost" write
 * never overwrites an end, db/queries/executions.ts), so a wrapper's own end always wins.
 */
export function reconcileOpenExecutions(
  sampler: Sampler,
  open: CollectOptions["openExecutions"],
): { resumed: string[]; lost: NewExecution[]; wrapped: string[] } {
  const resumed: string[] = [];
  const lost: NewExecution[] = [];
  const wrapped: string[] = [];
  for (const { row, lastSampleAt } of open) {
    if (row.attribution === "wrapper") {
      const rootAlive =
        row.rootPid !== null &&
        row.rootStartTicks !== null &&
        sampler.isAlive(row.rootPid, row.rootStartTicks);
      if (rootAlive) {
        wrapped.push(row.id);
        continue;
      }
    }
    const alive =
      row.rootPid !== null &&
      row.rootStartTicks !== null &&
      sampler.resume({
        id: row.id,
        attribution: attributionOf(row),
        rootPid: row.rootPid,
        rootStartTicks: row.rootStartTicks,
        startedAt: row.startedAt,
        podUid: row.podUid,
      });
    if (alive) resumed.push(row.id);
    else lost.push({ ...row, status: "lost", endedAt: lastSampleAt ?? row.startedAt });
  }
  return { resumed, lost, wrapped };
}

export async function runCollector(options: CollectOptions): Promise<CollectSummary> {
  const { logger, writer } = options;
  // Signal handlers go in first: a SIGTERM during start-up (inventory, reconciliation) also stops cleanly.
  const stopped = new Promise<void>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.off(signal, done);
      for (const timer of timers) clearTimeout(timer);
      resolve();
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, done);
    if (options.durationMs !== null) timers.push(setTimeout(done, options.durationMs));
    options.stop?.then(done);
  });
  // prom-client takes about 0.45 s to load on this machine (`node -e 'import("prom-client")'`): only
  // when the endpoint is asked for.
  let health: CollectorHealth | null = null;
  let server: Server | null = null;
  const sampler = new Sampler({
    procRoot: options.procRoot,
    cgroupRoot: options.cgroupRoot,
    hostId: options.hostId,
    sink: observeSink(writer, options.metrics ?? null, logger),
    logger,
    redact: redactArgv,
    intervalMs: options.intervalMs,
    attribution: { logTemplates: options.logTemplates, pods: options.pods },
    trust: options.trust,
    accounting: options.accounting,
    hostSamples: { sysRoot: "/sys" },
    onCpuCheck: (check) => health?.observeCpuCheck(check),
  });
  // The first pod listing (or the one line saying no Kubernetes API answers) before the first tick.
  await options.pods?.start();
  if (options.metricsListen) {
    const { CollectorHealth } = await import("./export/health-metrics.js");
    health = new CollectorHealth(
      {
        writer: () => writer.stats(),
        openExecutions: () => sampler.openExecutions().length,
        untrustedRoots: () => sampler.untrustedRoots(),
        spoolSegments: () => writer.stats().spoolSegments,
        spoolQuarantined: () => writer.stats().spoolQuarantined,
      },
      options.intervalMs,
    );
    health.setAccountingMethod(sampler.exits.method);
    try {
      server = await health.listen(options.metricsListen, logger);
    } catch (error) {
      sampler.close();
      await writer.close();
      throw new Error(`cannot serve metrics on ${options.metricsListen}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const { resumed, lost } = reconcileOpenExecutions(sampler, options.openExecutions);
  for (const row of lost) writer.execution(row);
  if (resumed.length + lost.length > 0)
    logger.info({ resumed: resumed.length, lost: lost.length }, "open executions reconciled");
  try {
    writer.host(await takeHostInventory(options.hostId, sampler.cgroupLayout));
  } catch (error) {
    logger.warn({ err: error }, "host inventory failed");
  }
  let executions = 0;
  const seen = new Set<string>();
  const loop = startSamplerLoop(sampler, {
    intervalMs: options.intervalMs,
    pollMs: options.pollMs,
    discover: true,
    logger,
    tickCpu: health ? (micros) => health!.tick(micros) : undefined,
    afterTick: () => {
      for (const id of sampler.openExecutions()) {
        if (!seen.has(id)) {
          seen.add(id);
          executions++;
        }
      }
      sampler.endFinished();
    },
  });
  logger.info({ intervalMs: options.intervalMs, hostId: options.hostId }, "collector started");
  await stopped;
  loop.stop();
  // Tasks still running stay open: a collector started later resumes them (same root pid and start).
  sampler.tick();
  sampler.writeLiveProcesses();
  sampler.close();
  await writer.close();
  if (server) await new Promise((resolve) => server.close(resolve));
  logger.info({ ticks: loop.ticks(), executions }, "collector stopped");
  return { ticks: loop.ticks(), resumed: resumed.length, lost: lost.length, executions };
}
