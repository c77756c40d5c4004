/**
 * What the host's own samples cost the collector: the tick's host-wide reading (load and pressure, which
 * every tick reads) side by side with the same reading plus the host's usage (/proc/stat's cpu line and
 * the whole disks' /proc/diskstats rows) and the row made from it. CPU time of this process, per tick,
 * and the share of a core at the default one-second tick. Then the write: one host row per flush (the
 * writer flushes every second) into a scratch Postgres database, side by side with a bare `select 1` round
 * trip on the same connection.
 */
import { HostReader, listWholeDisks } from "../collector/procfs/host-reading.js";
import { ProcReader } from "../collector/procfs/proc-reader.js";
import { hostSampleRow } from "../collector/tracking/rows.js";
import { openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { insertHostSamples } from "../db/queries/host-samples.js";
import { createScratchDatabase } from "../test-support/scratch-database.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const WRITES = 2_000;

const TICKS = 20_000;

function cpuMicrosPerTick(tick: (atMs: number) => unknown): number {
  for (let index = 0; index < 500; index++) tick(index);
  const started = process.cpuUsage();
  for (let index = 0; index < TICKS; index++) tick(1_000 + index * 1_000);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / TICKS;
}

/** CPU time of this process per call of `work`, µs, over {@link WRITES} calls after a warm-up. */
async function cpuMicrosPerWrite(work: (index: number) => Promise<unknown>): Promise<number> {
  for (let index = 0; index < 100; index++) await work(index);
  const started = process.cpuUsage();
  for (let index = 0; index < WRITES; index++) await work(100 + index);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / WRITES;
}

export async function run(): Promise<void> {
  const disks = listWholeDisks("/sys");
  const plain = new HostReader(new ProcReader(), "/proc");
  const withUsage = new HostReader(new ProcReader(), "/proc", disks);
  const rounds: Array<{ plain: number; usage: number }> = [];
  for (let round = 0; round < 3; round++) {
    rounds.push({
      plain: cpuMicrosPerTick((atMs) => plain.read(atMs)),
      usage: cpuMicrosPerTick((atMs) => hostSampleRow("bench", atMs, withUsage.read(atMs))),
    });
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  const base = median(rounds.map((round) => round.plain));
  const full = median(rounds.map((round) => round.usage));
  const added = full - base;
  process.stdout.write(
    [
      `whole disks: ${[...disks].join(", ") || "none"}; ${TICKS} ticks, median of 3 rounds, CPU time of this process`,
      "| reading | µs a tick | % of a core at 1 s ticks |",
      "| --- | --- | --- |",
      `| load and pressure (every tick) | ${base.toFixed(1)} | ${(base / 1e4).toFixed(4)} % |`,
      `| the same plus the host's usage and its row | ${full.toFixed(1)} | ${(full / 1e4).toFixed(4)} % |`,
      `| the host samples' own cost | ${added.toFixed(1)} | ${(added / 1e4).toFixed(4)} % (${(full / base).toFixed(2)} × the reading) |`,
      "",
    ].join("\n"),
  );
  const database = await createScratchDatabase(adminUrl, "rightsize_bench");
  const handle = await openDatabase(database.url);
  try {
    await migrateDatabase(handle);
    const reader = new HostReader(new ProcReader(), "/proc", disks);
    reader.read(0);
    const row = hostSampleRow("bench", 1_000, reader.read(1_000))!;
    const start = Date.now();
    const insert = await cpuMicrosPerWrite((index) =>
      insertHostSamples(handle.db, [{ ...row, ts: new Date(start + index * 1_000) }]),
    );
    const floor = await cpuMicrosPerWrite(() => handle.db.execute("select 1"));
    process.stdout.write(
      [
        `| one host row a flush (insert, ${WRITES} flushes) | ${insert.toFixed(1)} | ${(insert / 1e4).toFixed(4)} % (${(insert / floor).toFixed(2)} × a \`select 1\` round trip, ${floor.toFixed(1)} µs) |`,
        `| reading and writing together | ${(added + insert).toFixed(1)} | ${((added + insert) / 1e4).toFixed(4)} % |`,
        "",
      ].join("\n"),
    );
  } finally {
    await handle.close();
    await database.drop();
  }
}
