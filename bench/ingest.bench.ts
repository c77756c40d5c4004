/**
 * Sample ingest rows/s, side by side in one run: the collector's writer (buffer → overlap probe → binary
 * COPY into the partitioned samples table) against its floor, `psql \copy samples … from FILE` (text) of
 * the same rows into the same partitioned table; also postgres.js text COPY, and the replay path (a batch
 * partly stored already: COPY into the staging table, then insert … on conflict do nothing). Then PGlite:
 * binary COPY from a Blob against multi-row INSERT. Then the spool: an fsync per append against one per
 * segment.
 *
 * Rows: 100 executions × INGEST_BENCH_TICKS ticks (default 5,000 → 500,000 rows), spread over two UTC
 * days so two partitions are written. Each Postgres line is the median of 3 runs on an emptied table.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import Table from "cli-table3";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { Spool } from "../collector/storage/spool.js";
import { createWriter } from "../collector/storage/writer.js";
import { silentLogger } from "../common/logger.js";
import { openDatabase } from "../db/client.js";
import { sampleCopyBinary, sampleCopyColumns, sampleCopyText } from "../db/copy.js";
import { migrateDatabase } from "../db/migrate.js";
import { ensurePartitions } from "../db/queries/partitions.js";
import { ingestSamples, insertSamples, type NewSample } from "../db/queries/samples.js";
import { createScratchDatabase, type ScratchDatabase } from "../test-support/scratch-database.js";
import { testSample } from "../test-support/writer-test-rows.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const executions = 100;
const ticks = Number(process.env.INGEST_BENCH_TICKS ?? 5_000);
/** PGlite is single-threaded WebAssembly: a tenth of the rows keeps the run short. */
const pgliteTicks = Math.max(1, Math.round(ticks / 10));
const repeats = 3;

function rowsFor(ticksPerExecution: number): NewSample[] {
  // Ticks 35 s apart: 5,000 ticks span two days, so the rows fall into two daily partitions.
  const spacing = Math.max(1, Math.round((2 * 86_400) / ticksPerExecution));
  const start = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);
  const rows: NewSample[] = [];
  for (let execution = 0; execution < executions; execution++) {
    const id = randomUUID();
    for (let tick = 0; tick < ticksPerExecution; tick++) {
      const row = testSample(id, start, tick * spacing);
      rows.push(row);
    }
  }
  return rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function createDatabase(): Promise<ScratchDatabase> {
  return createScratchDatabase(adminUrl, "rightsize_bench_ingest");
}

interface Line {
  name: string;
  rows: number;
  seconds: number;
}

function print(title: string, lines: Line[], floor: Line): void {
  const table = new Table({
    head: [title, "rows", "seconds", "rows/s", "× floor time"],
    style: { head: [], border: [] },
  });
  for (const line of lines) {
    table.push([
      line.name,
      line.rows.toLocaleString("en-US"),
      line.seconds.toFixed(3),
      Math.round(line.rows / line.seconds).toLocaleString("en-US"),
      (line.seconds / floor.seconds).toFixed(2),
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
}

async function postgresLines(): Promise<Line[]> {
  const rows = rowsFor(ticks);
  const database = await createDatabase();
  const handle = await openDatabase(database.url);
  const folder = mkdtempSync(join(tmpdir(), "rightsize-bench-ingest-"));
  try {
    await migrateDatabase(handle);
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    let first = rows[0]!.ts.getTime();
    let last = first;
    for (const row of rows) {
      first = Math.min(first, row.ts.getTime());
      last = Math.max(last, row.ts.getTime());
    }
    await ensurePartitions(handle.db, new Date(first), new Date(last));
    const empty = async () => {
      await client.unsafe("truncate samples");
      await client.unsafe("vacuum analyze samples");
    };
    const count = async () => Number((await client.unsafe("select count(*)::int as n from samples"))[0]!.n);

    const file = join(folder, "samples.copy");
    writeFileSync(file, [...sampleCopyText(rows)].join(""));
    const binaryFile = join(folder, "samples.copy.bin");
    writeFileSync(binaryFile, Buffer.concat([...sampleCopyBinary(rows)]));
    const psqlCopy = (from: string, options: string) => {
      const result = spawnSync(
        "psql",
        [
          database.url,
          "-v",
          "ON_ERROR_STOP=1",
          "-qc",
          `\\copy samples (${sampleCopyColumns}) from '${from}' ${options}`,
        ],
        { encoding: "utf8" },
      );
      if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    };
    const psqlBinaryRuns: number[] = [];
    const psqlRuns: number[] = [];
    const writerRuns: number[] = [];
    const ingestRuns: number[] = [];
    const directRuns: number[] = [];
    const replayRuns: number[] = [];
    for (let run = 0; run < repeats; run++) {
      await empty();
      psqlRuns.push(await timed(async () => psqlCopy(file, "")));
      if ((await count()) !== rows.length) throw new Error("psql \\copy stored the wrong number of rows");
      await empty();
      psqlBinaryRuns.push(await timed(async () => psqlCopy(binaryFile, "with (format binary)")));
      if ((await count()) !== rows.length)
        throw new Error("psql \\copy binary stored the wrong number of rows");

      await empty();
      directRuns.push(
        await timed(async () => {
          const writable = await client.unsafe(`copy samples (${sampleCopyColumns}) from stdin`).writable();
          await pipeline(Readable.from(sampleCopyText(rows)), writable);
        }),
      );

      await empty();
      ingestRuns.push(
        await timed(async () => {
          await ingestSamples(handle.db, rows);
        }),
      );

      // A replayed batch whose first tick is stored already: the overlap probe sends it through staging.
      await empty();
      await ingestSamples(handle.db, rows.slice(0, 1));
      replayRuns.push(
        await timed(async () => {
          await ingestSamples(handle.db, rows);
        }),
      );
      if ((await count()) !== rows.length) throw new Error("staging path stored the wrong number of rows");

      await empty();
      const spoolDir = join(folder, `spool-${run}`);
      writerRuns.push(
        await timed(async () => {
          const writer = await createWriter({
            databaseUrl: database.url,
            database: handle,
            spoolDir,
            spoolMaxBytes: 1024 ** 3,
            logger: silentLogger,
            flushIntervalMs: 3_600_000,
          });
          // The sampler hands rows over tick by tick: one call per execution-tick batch of 100.
          for (let start = 0; start < rows.length; start += executions) {
            writer.samples(rows.slice(start, start + executions));
          }
          await writer.close();
          if (writer.stats().writtenSamples !== rows.length)
            throw new Error("writer did not write every row");
        }),
      );
      if ((await count()) !== rows.length) throw new Error("writer stored the wrong number of rows");
    }
    await client.end();
    return [
      { name: "psql \\copy samples (floor)", rows: rows.length, seconds: median(psqlRuns) },
      { name: "psql \\copy samples, binary file", rows: rows.length, seconds: median(psqlBinaryRuns) },
      { name: "postgres.js text COPY into samples", rows: rows.length, seconds: median(directRuns) },
      { name: "ingestSamples: probe + binary COPY", rows: rows.length, seconds: median(ingestRuns) },
      { name: "writer: samples() → close() (same path)", rows: rows.length, seconds: median(writerRuns) },
      { name: "replayed batch: COPY → staging → samples", rows: rows.length, seconds: median(replayRuns) },
    ];
  } finally {
    await handle.close();
    await database.drop();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function pgliteLines(): Promise<Line[]> {
  const rows = rowsFor(pgliteTicks);
  const folder = mkdtempSync(join(tmpdir(), "rightsize-bench-pglite-"));
  const handle = await openDatabase(join(folder, "db"));
  try {
    await migrateDatabase(handle);
    const { db } = handle;
    const clear = () => db.execute(sql`truncate samples`);
    await ingestSamples(db, rows.slice(0, 10)); // partitions and warm-up
    await clear();
    const copySeconds = await timed(() => ingestSamples(db, rows).then(() => {}));
    await clear();
    const insertSeconds = await timed(() => insertSamples(db, rows));
    return [
      { name: "PGlite multi-row INSERT (2,000 rows each)", rows: rows.length, seconds: insertSeconds },
      { name: "PGlite binary COPY from a Blob (writer path)", rows: rows.length, seconds: copySeconds },
    ];
  } finally {
    await handle.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function spoolLines(): Promise<Line[]> {
  const rows = rowsFor(20);
  // One flush of a host with 100 running executions: 100 sample rows per batch.
  const batches = Array.from({ length: 200 }, (_, index) => ({
    hosts: [],
    executions: [],
    samples: rows.slice((index % 20) * executions, (index % 20) * executions + executions),
    processes: [],
  }));
  const lines: Line[] = [];
  for (const sync of ["rotate", "append"] as const) {
    const dir = mkdtempSync(join(tmpdir(), "rightsize-bench-spool-"));
    const spool = new Spool({ dir, maxBytes: 1024 ** 3, logger: silentLogger, sync });
    const seconds = await timed(async () => {
      for (const batch of batches) spool.append(batch);
      spool.close();
    });
    lines.push({
      name: `spool append, fsync per ${sync === "append" ? "batch" : "segment"} (${batches.length} batches)`,
      rows: batches.length * executions,
      seconds,
    });
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

export async function run(): Promise<void> {
  process.stdout.write(
    `Postgres: ${executions} executions × ${ticks} ticks over two daily partitions, median of ${repeats}\n`,
  );
  const pg = await postgresLines();
  print("Postgres ingest", pg, pg[0]!);
  const lite = await pgliteLines();
  print("PGlite ingest", lite, lite[0]!);
  const spool = await spoolLines();
  print("spool (rows are sample rows in the batches)", spool, spool[0]!);
}
