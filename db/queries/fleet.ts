/**
 * The fleet view's read: every finished run of the last weeks (`fleet.weeks`, default 8) with the few
 * figures of its summary the cost over time and the placement need, in one statement, and the sizes of
 * the hosts they ran on. Runs are summarized beforehand (db/queries/analysis.ts), so no sample is read.
 * Each run's numbers travel as one binary float8[] (as the night's read, db/queries/task-histories.ts):
 * the driver parses one value per run instead of a dozen text columns.
 */
import { sql } from "drizzle-orm";
import type { TaskKey } from "../../common/task-key.js";
import { type Db, queryRows } from "../client.js";
import { float8RowsFromBinary, numberColumns } from "./float8-binary.js";
import type { StateSeconds } from "./task-histories.js";

/** What the fleet view needs of one run: its key, when, how long, what it asked for and what it did. */
export interface FleetRun extends TaskKey {
  hostId: string;
  startedAt: Date;
  endedAt: Date;
  /** Seconds the run held its request: its duration, or its sampled seconds when longer (as costOf). */
  heldSeconds: number;
  /** The request it ran with; null when neither the run nor the task's analysis knows one (unpriced). */
  requestCpuCores: number | null;
  requestMemoryBytes: number | null;
  cpuSeconds: number | null;
  peakRssBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
  /** Bytes received and sent, where measured. */
  netBytes: number | null;
  /** Wall-clock seconds per state; null for runs recorded before the collector split wall time. */
  wall: StateSeconds | null;
}

/** A host's recorded size; null where its collector did not record it. */
export interface HostSize {
  cores: number | null;
  memoryBytes: number | null;
}

/** Where each of a run's numbers comes from, in the order the statement packs them. */
const fleetNumberSources = {
  startedAtMs: "floor(extract(epoch from e.started_at) * 1000)",
  endedAtMs: "floor(extract(epoch from e.ended_at) * 1000)",
  sampledSeconds: "rs.sampled_seconds",
  requestCpuCores: "e.request_cpu_cores",
  requestMemoryBytes: "e.request_memory_bytes",
  cpuSeconds: "rs.cpu_seconds",
  peakRssBytes: "rs.peak_rss_bytes",
  diskReadBytes: "rs.disk_read_bytes",
  diskWriteBytes: "rs.disk_write_bytes",
  netRxBytes: "rs.net_rx_bytes",
  netTxBytes: "rs.net_tx_bytes",
  wallOnCpuSeconds: "rs.wall_on_cpu_seconds",
  wallCpuWaitSeconds: "rs.wall_cpu_wait_seconds",
  wallDiskWaitSeconds: "rs.wall_disk_wait_seconds",
  wallNetWaitSeconds: "rs.wall_net_wait_seconds",
  wallChildWaitSeconds: "rs.wall_child_wait_seconds",
  wallIdleSeconds: "rs.wall_idle_seconds",
} as const;
const fleetColumns = numberColumns(fleetNumberSources);

/** The statement's row: one task, its runs' hosts and their numbers, run after run. */
interface RawFleetRow extends Record<string, unknown> {
  orchestrator: string;
  pipeline: string;
  task: string;
  hosts: unknown;
  numbers: Uint8Array | string;
}

function hostsOf(value: unknown): string[] {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

/** One run from its task's row: its host and its numbers. */
function fleetRunOf(
  key: { orchestrator: string; pipeline: string; task: string },
  id: string,
  hostId: string,
  numbers: Array<number | null>,
): FleetRun & { id: string } {
  const value = fleetColumns.reader(numbers);
  const startedAt = new Date(value("startedAtMs") ?? 0);
  const endedAt = new Date(value("endedAtMs") ?? 0);
  const durationSeconds = Math.max(0, (endedAt.getTime() - startedAt.getTime()) / 1000);
  const rx = value("netRxBytes");
  const tx = value("netTxBytes");
  const wallOnCpu = value("wallOnCpuSeconds");
  return {
    id,
    orchestrator: key.orchestrator,
    pipeline: key.pipeline,
    task: key.task,
    hostId,
    startedAt,
    endedAt,
    // As the night prices a run (analyzer/recommend.ts costOf): a start recorded late shortens the
    // duration, not the time the request was held.
    heldSeconds: Math.max(durationSeconds, value("sampledSeconds") ?? 0),
    requestCpuCores: value("requestCpuCores"),
    requestMemoryBytes: value("requestMemoryBytes"),
    cpuSeconds: value("cpuSeconds"),
    peakRssBytes: value("peakRssBytes"),
    diskReadBytes: value("diskReadBytes"),
    diskWriteBytes: value("diskWriteBytes"),
    netBytes: rx === null && tx === null ? null : (rx ?? 0) + (tx ?? 0),
    wall:
      wallOnCpu === null
        ? null
        : {
            onCpuSeconds: wallOnCpu,
            cpuWaitSeconds: value("wallCpuWaitSeconds") ?? 0,
            diskWaitSeconds: value("wallDiskWaitSeconds") ?? 0,
            netWaitSeconds: value("wallNetWaitSeconds") ?? 0,
            childWaitSeconds: value("wallChildWaitSeconds") ?? 0,
            idleSeconds: value("wallIdleSeconds") ?? 0,
          },
  };
}

/**
 * Finished runs that started in [start, end) and ended by `end`, with their summaries (a run without one
 * still counts, its figures unknown). One statement, one row per task: its runs' hosts as one JSON array
 * and their numbers as one binary float8[][], so the driver parses a thousand rows for a thousand tasks
 * rather than one per run (a row per run took 4.5 × a GROUP BY of the same rows; BENCHMARKS.md "fleet").
 * Both arrays are in the same order (start, then id). Runs are identified by task and place in the row:
 * nothing reads their execution ids.
 */
export async function loadFleetRuns(
  db: Db,
  window: { start: Date; end: Date },
): Promise<Array<FleetRun & { id: string }>> {
  const numbers = sql.raw(
    `array_send(array_agg(array[${fleetColumns.list}]::float8[] order by e.started_at, e.id)) as numbers`,
  );
  const rows = await queryRows<RawFleetRow>(
    db,
    sql`select e.orchestrator, e.pipeline, e.task, array_to_json(array_agg(e.host_id order by e.started_at, e.id))::text as hosts, ${numbers}
        from task_executions e
        left join run_summaries rs on rs.execution_id = e.id
        where e.ended_at is not null
          and e.started_at >= ${window.start.toISOString()}::timestamptz
          and e.started_at < ${window.end.toISOString()}::timestamptz
          and e.ended_at <= ${window.end.toISOString()}::timestamptz
        group by e.orchestrator, e.pipeline, e.task`,
  );
  const runs: Array<FleetRun & { id: string }> = [];
  rows.forEach((row, rowIndex) => {
    const hosts = hostsOf(row.hosts);
    float8RowsFromBinary(row.numbers, fleetColumns.width).forEach((numbers, index) =>
      runs.push(fleetRunOf(row, `${rowIndex}:${index}`, hosts[index] ?? "", numbers)),
    );
  });
  return runs;
}

/** The recorded size of each host, by id. */
export async function loadHostSizes(db: Db): Promise<Map<string, HostSize>> {
  const rows = await queryRows<{ id: string; cores: number | null; memory_bytes: number | string | null }>(
    db,
    sql`select id, cores, memory_bytes from hosts`,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        cores: row.cores === null ? null : Number(row.cores),
        memoryBytes: row.memory_bytes === null ? null : Number(row.memory_bytes),
      },
    ]),
  );
}
