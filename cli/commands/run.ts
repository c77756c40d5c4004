import { type Command, InvalidArgumentError, Option } from "commander";
import { runCommand } from "../../collector/run-command.js";
import { describeError, UsageError } from "../../common/errors.js";
import { parseCores as parseKubernetesCores } from "../../common/units.js";
import { openCollectorDatabase } from "../collector-database.js";
import { startMetricsExport } from "../metrics-export.js";
import { flagParsers, runtimeOf } from "../runtime.js";

/** "2", "0.5" or Kubernetes millicores "500m" → cores. */
export function parseCores(value: string): number {
  const cores = parseKubernetesCores(value);
  // 1,048,576 cores: far past any machine, well inside a double precision column.
  if (!Number.isFinite(cores) || cores <= 0 || cores > 1_048_576)
    throw new InvalidArgumentError("expected cores such as 2, 0.5 or 500m");
  return cores;
}

interface RunFlags {
  orchestrator: string;
  pipeline: string;
  task: string;
  run?: string;
  try?: number;
  mapIndex?: number;
  requestCpu?: number;
  requestMemory?: number;
  interval?: number;
}

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "start a command, sample its whole process tree (CPU, memory, disk, network, where the time goes) and record it as one task execution; exits with the command's exit code",
    )
    .usage("--pipeline P --task T [options] -- CMD [ARGS…]")
    .addOption(new Option("--orchestrator <name>", "airflow, prefect or generic").default("generic"))
    .requiredOption("--pipeline <name>", "the DAG, deployment or pipeline label")
    .requiredOption("--task <name>", "the task label")
    .option("--run <id>", "run id (default: the start time)")
    .option("--try <n>", "try number (default 1)", (value: string) => flagParsers.int4(value, 1))
    .option("--map-index <n>", "map index of a mapped task", (value: string) => flagParsers.int4(value, 0))
    .option(
      "--request-cpu <cores>",
      'the CPU the task asked for (2, 0.5, 500m); stored with source "flag"',
      parseCores,
    )
    .option(
      "--request-memory <size>",
      'the memory the task asked for (512Mi, 2GiB); stored with source "flag"',
      flagParsers.bytes,
    )
    .option(
      "--interval <duration>",
      "sampling tick (default: collector.interval, 1s)",
      flagParsers.intervalMs,
    )
    .argument("<command...>", "the command and its arguments, after --")
    .addHelpText(
      "after",
      `
The command runs with this terminal's stdin/stdout/stderr; SIGINT, SIGTERM and SIGHUP are passed on
to it. rightsize exits with its exit code (128 + the signal number when a signal ended it).
As root on Linux the command gets a cgroup of its own (v2, or v1 cpu/cpuacct/memory/blkio), so CPU of
every subprocess is counted exactly; otherwise the process tree is summed. Samples go to the database,
or to the spool (collector.spoolDir) while it is unreachable. On macOS/Windows only the command's own
CPU and memory are sampled (pidusage). See docs/collector.md.

Examples:
  rightsize run --pipeline nightly --task export -- ./export.sh --full
  rightsize run --orchestrator airflow --pipeline etl_daily --task load_orders \\
      --run manual__2024-05-01 --try 2 --request-cpu 2 --request-memory 4Gi -- python load.py
  rightsize --db postgres://rightsize@db:5432/rightsize run --pipeline p --task t -- gzip -9 big.csv`,
    )
    .action(async (command: string[], flags: RunFlags, self: Command) => {
      if (command.length === 0) throw new UsageError("run: no command given (put it after --)");
      const runtime = runtimeOf(self);
      const { logger } = runtime;
      // The command starts at once; the database (an embedded one takes seconds) opens meanwhile. Whatever
      // happens to rightsize's own storage (no spool folder, no database), the command still runs and its
      // exit code is the one returned: rightsize only watches.
      const database = openCollectorDatabase(runtime, { clientOnly: true });
      database.catch((error) =>
        logger.error(
          { err: describeError(error) },
          "cannot store this execution: the command runs unrecorded",
        ),
      );
      // Live metrics, when OTLP or StatsD is configured (docs/metrics.md); never in the command's way.
      const metrics = await startMetricsExport(runtime).catch((error: unknown) => {
        logger.warn({ err: describeError(error) }, "metrics export not started");
        return null;
      });
      const exitCode = await runCommand({
        command,
        attribution: {
          orchestrator: flags.orchestrator,
          pipeline: flags.pipeline,
          task: flags.task,
          runId: flags.run ?? null,
          tryNumber: flags.try ?? null,
          mapIndex: flags.mapIndex ?? null,
          source: "wrapper",
        },
        requests: { cpuCores: flags.requestCpu ?? null, memoryBytes: flags.requestMemory ?? null },
        intervalMs: flags.interval ?? runtime.config.collector.intervalMs,
        procRoot: runtime.config.collector.procRoot,
        cgroupRoot: runtime.config.collector.cgroupRoot,
        hostId: runtime.config.collector.hostId,
        accounting: {
          mode: runtime.config.collector.accounting,
          stateDir: runtime.config.collector.stateDir,
        },
        writer: database.then((opened) => opened.writer),
        logger,
        metrics: metrics?.sink,
      });
      try {
        await metrics?.close();
        await (await database).close();
      } catch (error) {
        logger.debug({ err: describeError(error) }, "closing the database after run failed");
      }
      // The entry point sets 0 for a command that returned; the wrapped command's code must win.
      process.once("exit", () => {
        process.exitCode = exitCode;
      });
    });
}
