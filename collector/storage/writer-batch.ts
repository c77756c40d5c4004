/**
 * The writer's batch: one flush's worth of rows, as the spool keeps it, and the checks that say which of
 * its rows a column cannot hold. Pure functions of plain data.
 */

import type { NewExecution } from "../../db/queries/executions.js";
import type { NewHostSample } from "../../db/queries/host-samples.js";
import type { NewHost } from "../../db/queries/hosts.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { NewSample } from "../../db/queries/samples.js";

/** A batch as spooled: one flush's worth of rows, dates as ISO strings. */
export interface Batch {
  hosts: NewHost[];
  executions: NewExecution[];
  samples: NewSample[];
  processes: NewProcess[];
  hostSamples: NewHostSample[];
}

export function emptyBatch(): Batch {
  return { hosts: [], executions: [], samples: [], processes: [], hostSamples: [] };
}

const dateFields = {
  hosts: ["firstSeen", "lastSeen"],
  executions: ["startedAt", "endedAt"],
  samples: ["ts"],
  processes: ["firstSeen", "lastSeen"],
  hostSamples: ["ts"],
} as const;

/** Lists a batch spooled by an earlier release may lack: they were added after it. */
const addedLater = new Set<keyof Batch>(["hostSamples"]);

/** Turns a spooled record back into a batch (JSON made its dates strings). Throws on a malformed one. */
export function reviveBatch(record: unknown): Batch {
  const value = record as Partial<Record<keyof Batch, unknown>>;
  const batch = emptyBatch();
  for (const key of Object.keys(dateFields) as Array<keyof Batch>) {
    const rows = value?.[key] ?? (addedLater.has(key) ? [] : undefined);
    if (!Array.isArray(rows)) throw new Error(`spooled batch has no '${key}' list`);
    for (const row of rows as Array<Record<string, unknown>>) {
      // A spooled line passed its checksum, but the folder could hold anything: every row an object.
      if (typeof row !== "object" || row === null || Array.isArray(row))
        throw new Error(`spooled batch has a '${key}' row that is not an object`);
      for (const field of dateFields[key]) {
        const raw = row[field];
        if (typeof raw === "string") row[field] = new Date(raw);
      }
    }
    (batch[key] as unknown[]) = rows;
  }
  return batch;
}

/** A process row's identity within a batch: later sightings of the same process replace earlier ones. */
export function processKey(row: NewProcess): string {
  return `${row.executionId}/${row.pid}/${row.startTicks}`;
}

export function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** int4 columns of task_executions and execution_processes (PostgreSQL docs, "Numeric Types"). */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function int4Problem(name: string, value: unknown, min = INT4_MIN): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > INT4_MAX)
    return `${name} = ${String(value)} is not a whole number from ${min} to ${INT4_MAX}`;
  return null;
}

function int8Problem(name: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    return `${name} = ${String(value)} is not a whole number from 0 to 2^53`;
  return null;
}

function textProblem(name: string, value: unknown, required: boolean): string | null {
  if (value === null || value === undefined) return required ? `${name} is missing` : null;
  if (typeof value !== "string") return `${name} is not text`;
  // Postgres text cannot hold NUL (SQLSTATE 22021).
  if (value.includes("\u0000")) return `${name} holds a NUL character`;
  return null;
}

/**
 * Why an execution row cannot be stored, or null. Every number in it came from a process (its
 * environment, argv, /proc) or a flag: bounded by its column here, so one hostile value (RIGHTSIZE_TRY
 * past int4) sets aside that execution, not the batch.
 */
export function executionProblem(row: NewExecution): string | null {
  return (
    (typeof row.id === "string" && UUID_PATTERN.test(row.id) ? null : "id is not a uuid") ??
    textProblem("orchestrator", row.orchestrator, true) ??
    textProblem("pipeline", row.pipeline, true) ??
    textProblem("task", row.task, true) ??
    textProblem("run_id", row.runId, true) ??
    textProblem("host_id", row.hostId, true) ??
    textProblem("attribution", row.attribution, true) ??
    textProblem("cgroup_path", row.cgroupPath, false) ??
    int4Problem("try_number", row.tryNumber, 0) ??
    int4Problem("map_index", row.mapIndex, -1) ??
    int4Problem("root_pid", row.rootPid, 0) ??
    int4Problem("exit_code", row.exitCode) ??
    int4Problem("uid", row.uid, 0) ??
    int8Problem("root_start_ticks", row.rootStartTicks) ??
    int8Problem("request_memory_bytes", row.requestMemoryBytes) ??
    int8Problem("limit_memory_bytes", row.limitMemoryBytes) ??
    (isValidDate(row.startedAt) ? null : "started_at is not a time")
  );
}
