/**
 * One owner of an embedded database folder, profiled stage by stage (bench/embedded-owner.bench.ts runs
 * it in a child process per build): `node embedded-owner-profile.js DIST FOLDER RUNS` opens FOLDER with
 * DIST's db/client.js (a new folder: created and migrated; an existing one: reopened), runs `db migrate`'s
 * work, serves RUNS `rightsize run -- sleep 1` of DIST's CLI and one `analyze` through its socket, writes
 * and groups 300,000 rows of a table of its own (timed), and
 * prints one JSON line per stage: the process's VmRSS and VmHWM, V8's heap, the memory outside it, and
 * PGlite's WebAssembly memory (its size, and how much of it is resident, from /proc/self/smaps).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";

const run = promisify(execFile);
const [dist, folder, runsText] = process.argv.slice(2);
if (!dist || !folder) throw new Error("usage: embedded-owner-profile.js DIST FOLDER [RUNS]");
const runs = Number(runsText ?? 5);
const cli = join(dist, "cli/main.js");

export interface Stage {
  stage: string;
  rssMiB: number;
  hwmMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  wasmMiB: number;
  wasmResidentMiB: number;
  cpuSeconds: number;
  wallSeconds: number;
}

const MiB = 1024 ** 2;

function statusMiB(key: string): number {
  const match = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Resident KiB of the anonymous mapping exactly `bytes` long: V8 maps a WebAssembly memory by itself. */
function residentOfMapping(bytes: number): number {
  let size = -1;
  let named = true;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      size = Number(BigInt(`0x${head[2]}`) - BigInt(`0x${head[1]}`));
      named = head[3] !== "";
    } else if (!named && size === bytes && line.startsWith("Rss:")) {
      return Number(/(\d+)/.exec(line)![1]) / 1024;
    }
  }
  return Number.NaN;
}

const started = Date.now();
let wasmHeap: () => number = () => 0;
function stage(name: string): void {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const wasm = wasmHeap();
  const row: Stage = {
    stage: name,
    rssMiB: statusMiB("VmRSS"),
    hwmMiB: statusMiB("VmHWM"),
    heapUsedMiB: memory.heapUsed / MiB,
    heapTotalMiB: memory.heapTotal / MiB,
    externalMiB: memory.external / MiB,
    arrayBuffersMiB: memory.arrayBuffers / MiB,
    wasmMiB: wasm / MiB,
    wasmResidentMiB: wasm > 0 ? residentOfMapping(wasm) : 0,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (Date.now() - started) / 1000,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

const env = { ...process.env, LOG_LEVEL: "warn" };
const { openDatabase } = (await import(join(dist, "db/client.js"))) as typeof import("../db/client.js");
const { migrateDatabase } = (await import(join(dist, "db/migrate.js"))) as typeof import("../db/migrate.js");
stage("modules loaded");
const handle = await openDatabase(folder);
// PGlite's Emscripten module: its HEAPU8 views the whole WebAssembly memory.
const client = (handle.db as unknown as { $client: { mod?: { HEAPU8: Uint8Array } } }).$client;
wasmHeap = () => client.mod?.HEAPU8.byteLength ?? 0;
stage("opened and migrated");
await migrateDatabase(handle);
stage("db migrate (partitions)");
for (let index = 0; index < runs; index++) {
  await run(
    process.execPath,
    [cli, "--db", folder, "run", "--pipeline", "bench", "--task", `t${index}`, "--", "sleep", "1"],
    { env },
  );
}
stage(`served ${runs} runs`);
await run(process.execPath, [cli, "--db", folder, "analyze", "--json", join(folder, "..", "analysis.json")], {
  env,
});
stage("served an analyze");
// The owner's own speed: a table of 300,000 rows written, then grouped with a percentile three times
// (what a night's read does to samples), on a table of its own that is dropped after.
let began = performance.now();
await handle.db.execute(sql`create table bench_owner_rows (id int, k int, v float8, s text)`);
await handle.db.execute(
  sql`insert into bench_owner_rows select i, i % 500, random(), md5(i::text) from generate_series(1, 300000) i`,
);
const insertMs = performance.now() - began;
began = performance.now();
for (let round = 0; round < 3; round++) {
  await handle.db.execute(
    sql`select k, percentile_cont(0.95) within group (order by v), count(*), max(s) from bench_owner_rows group by k`,
  );
}
const groupMs = performance.now() - began;
await handle.db.execute(sql`drop table bench_owner_rows`);
stage(`300,000 rows: inserted in ${insertMs.toFixed(0)} ms, grouped 3× in ${groupMs.toFixed(0)} ms`);
await handle.close();
stage("closed");
