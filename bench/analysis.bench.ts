/**
 * The nightly analysis of many samples (10 M samples = 1,000 tasks × 20 runs × 500 ticks) in the real
 * Postgres, side by side with its floor: one hand-written GROUP BY computing the same per-run percentiles
 * and sums over the same samples. Two nights: the catch-up night (no run summarized yet, as after
 * collectors that died: the night summarizes every run first), target ≤ 1.0 × the floor; and the night
 * with every run summarized at the edge (the collector's writer summarizes each run when it ends),
 * target ≤ 0.25 × the floor. Peak RSS of the analyzing process ≤ 300 MB; time linear from 1 M to 10 M.
 *
 * The analysis runs the inline night (what `rightsize analyze` runs) in a child process of its own
 * (bench/analysis-night.ts), which starts its clock once its modules are loaded and its connection is
 * open, so the night's time leaves out start-up as the floor's does, and its peak RSS (VmHWM) is that of
 * the analyzing process alone.
 *
 * On the summarized database the edge night runs in rounds, three ways each round: whole, without the
 * backtest and without the diagnoses (analysis-night.js `--leave-out`, the night's own `leaveOut`
 * option), so what each part adds is read in the same run (targets: the backtest adds ≤ 15 %, the night
 * with diagnoses ≤ 1.1 × the night without). Then `rightsize backtest` for every policy on the same
 * database: the whole command as a process, and its path in a warm process beside the same reads alone
 * (bench/backtest-command.ts); target ≤ 2 s.
 *
 * Sizes: ANALYSIS_BENCH_SIZES=1m,10m (default) or e.g. 0.1m,1m for a quick run; rounds:
 * ANALYSIS_BENCH_ROUNDS (default 5; medians are reported).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createScratchDatabase, type ScratchDatabase } from "../test-support/scratch-database.js";

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const cliPath = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const nightPath = fileURLToPath(new URL("./analysis-night.js", import.meta.url));
const backtestPath = fileURLToPath(new URL("./backtest-command.js", import.meta.url));
/** BENCHMARKS.md "analysis" shape: 20 runs of 500 one-second ticks per task; the task count sets the size. */
const runsPerTask = 20;
const ticksPerRun = 500;

function parseSizes(text: string): number[] {
  return text.split(",").map((item) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([km]?)\s*$/i.exec(item);
    if (!match) throw new Error(`ANALYSIS_BENCH_SIZES: '${item}' is not a size such as 1m or 100k`);
    const factor = { "": 1, k: 1e3, m: 1e6 }[match[2]!.toLowerCase() as "" | "k" | "m"];
    return Math.round(Number(match[1]) * factor);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function createDatabase(): Promise<ScratchDatabase> {
  return createScratchDatabase(adminUrl, "rightsize_bench");
}

/** Runs a script of ours, polling the child's VmHWM (peak RSS) from /proc while it runs. */
function runNode(
  script: string,
  args: string[],
): Promise<{ seconds: number; peakRssBytes: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, LOG_LEVEL: "warn", REDIS_URL: "" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    let peak = 0;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const poll = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (match) peak = Math.max(peak, Number(match[1]) * 1024);
      } catch {
        // the child is gone between ticks: the last reading stands
      }
    }, 50);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`${script} ${args.join(" ")} exited ${code}`));
      else resolve({ seconds: (performance.now() - started) / 1000, peakRssBytes: peak, stdout });
    });
  });
}

async function generate(sql: postgres.Sql, tasks: number, windowEnd: Date): Promise<void> {
  const end = windowEnd.toISOString();
  // 20 runs 15 h apart end an hour before the window end: 12.5 days, inside the 14-day window.
  await sql`
    insert into task_executions (id, orchestrator, pipeline, task, run_id, try_number, host_id, attribution,
                                 started_at, ended_at, exit_code, status, request_cpu_cores, cpu_source,
                                 request_memory_bytes, memory_source)
    select gen_random_uuid(), 'airflow', 'bench_' || (t / 50), 'task_' || t, 'run_' || r, 1, 'bench-host', 'env',
           ${end}::timestamptz - interval '1 hour' - (${runsPerTask} - r) * interval '15 hours' - ${ticksPerRun} * interval '1 second',
           ${end}::timestamptz - interval '1 hour' - (${runsPerTask} - r) * interval '15 hours',
           0, 'succeeded', 2, 'flag', 2147483648, 'flag'
    from generate_series(1, ${tasks}) t, generate_series(1, ${runsPerTask}) r`;
  await sql`select rightsize_ensure_partition(d::date)
            from generate_series((${end}::timestamptz - interval '15 days')::date, ${end}::timestamptz::date, interval '1 day') d`;
  // In slices of 50 tasks: one statement per slice keeps each transaction's WAL and locks modest.
  for (let first = 1; first <= tasks; first += 50) {
    await sql`
      insert into samples (execution_id, ts, interval_seconds, cpu_cores, cpu_seconds_total, rss_bytes,
                           disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes, on_cpu_seconds,
                           cpu_wait_seconds, disk_wait_seconds, net_wait_seconds, child_wait_seconds, idle_seconds,
                           threads, processes_alive, processes_started, host_load1)
      select e.id, e.started_at + k * interval '1 second', 1, c.cores, k * 0.8, (200 + (k % 97)) * 1048576,
             4096, 8192, 1024, 512, c.cores, 0.05, 0.1, 0.1, 0, 0.3, 4, 2, case when k = 1 then 1 else 0 end, 1.5
      from task_executions e
      cross join generate_series(1, ${ticksPerRun}) k
      cross join lateral (select (abs(hashint8(k * 7919 + length(e.task))) % 160) / 100.0 as cores) c
      where e.pipeline like 'bench_%' and substr(e.task, 6)::int between ${first} and ${first + 49}`;
  }
  await sql.unsafe("vacuum analyze task_executions");
  await sql.unsafe("vacuum analyze samples");
}

/** The floor: the same per-run figures as the analyzer's per-run SQL, in one GROUP BY over the window. */
async function floorQuery(sql: postgres.Sql, windowEnd: Date): Promise<{ seconds: number; rows: number }> {
  const end = windowEnd.toISOString();
  const started = performance.now();
  const rows = await sql`
    select s.execution_id,
           percentile_cont(0.5) within group (order by s.cpu_cores) as p50,
           percentile_cont(0.95) within group (order by s.cpu_cores) as p95,
           max(s.cpu_cores) as max, sum(s.cpu_cores * s.interval_seconds) as cpu_seconds,
           max(s.rss_bytes) as peak, sum(s.disk_read_bytes) as disk_read, sum(s.on_cpu_seconds) as on_cpu,
           sum(s.net_wait_seconds) as net_wait, sum(s.idle_seconds) as idle
    from samples s join task_executions e on e.id = s.execution_id
    where e.started_at >= ${end}::timestamptz - interval '14 days' and e.ended_at <= ${end}::timestamptz
    group by s.execution_id`;
  return { seconds: (performance.now() - started) / 1000, rows: rows.length };
}

export async function run(): Promise<void> {
  const sizes = parseSizes(process.env.ANALYSIS_BENCH_SIZES ?? "1m,10m");
  const windowEnd = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const results: Array<{
    samples: number;
    tasks: number;
    floor: number;
    analysis: number;
    again: number;
    withoutBacktest: number;
    withoutDiagnosis: number;
    /** The analyzing process's own CPU seconds in the edge night, whole and without each part. */
    cpu: number;
    cpuWithoutBacktest: number;
    cpuWithoutDiagnosis: number;
    rss: number;
    againRss: number;
    backtestProcess: number;
    backtestCommand: number;
    backtestReads: number;
  }> = [];
  const rounds = Number(process.env.ANALYSIS_BENCH_ROUNDS ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(
      `ANALYSIS_BENCH_ROUNDS: '${process.env.ANALYSIS_BENCH_ROUNDS}' is not a whole number ≥ 1`,
    );
  }
  for (const size of sizes) {
    const tasks = Math.max(1, Math.round(size / (runsPerTask * ticksPerRun)));
    const database = await createDatabase();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await runNode(cliPath, ["db", "migrate", "--db", database.url]);
      const generating = performance.now();
      await generate(sql, tasks, windowEnd);
      const [{ n }] = (await sql`select count(*)::int as n from samples`) as unknown as [{ n: number }];
      process.stdout.write(
        `generated ${n.toLocaleString("en")} samples (${tasks} tasks) in ${((performance.now() - generating) / 1000).toFixed(0)} s\n`,
      );
      // Warm the cache once so neither side pays the first read from disk.
      await floorQuery(sql, windowEnd);
      const floor = await floorQuery(sql, windowEnd);
      const night = await runNode(nightPath, [database.url, windowEnd.toISOString()]);
      const reported = JSON.parse(night.stdout) as { seconds: number; analyzed: number; failed: number };
      if (reported.analyzed !== tasks || reported.failed !== 0) {
        throw new Error(
          `the night analyzed ${reported.analyzed} of ${tasks} tasks (${reported.failed} failed)`,
        );
      }
      const analysis = { seconds: reported.seconds, peakRssBytes: night.peakRssBytes };
      // The same night again: every run already summarized, as the writer leaves them when each run
      // ends, so the night reads one summary row per run. Whole, without the backtest and without the
      // diagnoses, in turn within each round, the first of them first in one round and last in the next.
      const variants = [[], ["--leave-out", "backtest"], ["--leave-out", "diagnosis"]];
      const times = variants.map(() => [] as number[]);
      const cpu = variants.map(() => [] as number[]);
      let againRss = 0;
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
        for (const variant of order) {
          const night = await runNode(nightPath, [
            database.url,
            windowEnd.toISOString(),
            ...variants[variant]!,
          ]);
          const reported = JSON.parse(night.stdout) as { seconds: number; cpuSeconds: number };
          times[variant]!.push(reported.seconds);
          cpu[variant]!.push(reported.cpuSeconds);
          if (variant === 0) againRss = Math.max(againRss, night.peakRssBytes);
        }
      }
      // `rightsize backtest` on the same database: the whole process (start-up included), then its path
      // in a warm process beside the same reads alone.
      const processSeconds: number[] = [];
      for (let round = 0; round < Math.max(3, rounds); round++) {
        const command = await runNode(cliPath, [
          "backtest",
          "--db",
          database.url,
          "--window-end",
          windowEnd.toISOString(),
        ]);
        processSeconds.push(command.seconds);
      }
      const warm = JSON.parse(
        (await runNode(backtestPath, [database.url, windowEnd.toISOString()])).stdout,
      ) as {
        commandMs: number;
        readsMs: number;
        runs: number;
        found: { tasks: number; runs: number[] };
      };
      // Every batch read and backtested: every task a row, every run replayed by every policy.
      if (
        warm.runs !== tasks * runsPerTask ||
        warm.found.tasks !== tasks ||
        warm.found.runs.some((runs) => runs !== tasks * runsPerTask)
      ) {
        throw new Error(
          `the backtest read ${warm.runs} of ${tasks * runsPerTask} runs and found ${JSON.stringify(warm.found)}`,
        );
      }
      results.push({
        samples: n,
        tasks,
        floor: floor.seconds,
        analysis: analysis.seconds,
        again: median(times[0]!),
        withoutBacktest: median(times[1]!),
        withoutDiagnosis: median(times[2]!),
        cpu: median(cpu[0]!),
        cpuWithoutBacktest: median(cpu[1]!),
        cpuWithoutDiagnosis: median(cpu[2]!),
        rss: analysis.peakRssBytes,
        againRss,
        backtestProcess: median(processSeconds),
        backtestCommand: warm.commandMs / 1000,
        backtestReads: warm.readsMs / 1000,
      });
    } finally {
      await sql.end();
      // ANALYSIS_BENCH_KEEP=1 keeps the generated database for EXPLAIN and friends.
      if (process.env.ANALYSIS_BENCH_KEEP === "1") process.stdout.write(`kept ${database.url}\n`);
      else await database.drop();
    }
  }
  const header = [
    "samples",
    "tasks",
    "floor: one GROUP BY (s)",
    "catch-up night (s)",
    "× floor",
    "night, runs summarized at the edge (s)",
    "× floor",
    "peak RSS catch-up / edge (MB)",
  ];
  const rows = results.map((r) => [
    r.samples.toLocaleString("en"),
    String(r.tasks),
    r.floor.toFixed(2),
    r.analysis.toFixed(2),
    (r.analysis / r.floor).toFixed(2),
    r.again.toFixed(2),
    (r.again / r.floor).toFixed(2),
    `${(r.rss / 1e6).toFixed(0)} / ${(r.againRss / 1e6).toFixed(0)}`,
  ]);
  const first = results[0];
  const last = results.at(-1);
  if (first && last && last !== first) {
    rows.push([
      `growth ×${(last.samples / first.samples).toFixed(0)}`,
      "",
      `×${(last.floor / first.floor).toFixed(1)}`,
      `×${(last.analysis / first.analysis).toFixed(1)}`,
      "",
      `×${(last.again / first.again).toFixed(1)}`,
      "",
      `×${(last.rss / first.rss).toFixed(2)} / ×${(last.againRss / first.againRss).toFixed(2)}`,
    ]);
  }
  const table = (header: string[], cells: string[][]) =>
    [header, header.map(() => "---"), ...cells].map((row) => `| ${row.join(" | ")} |`).join("\n");
  const partsTable = table(
    [
      "samples",
      "edge night, whole (s)",
      "without the backtest (s)",
      "added by the backtest",
      "without the diagnoses (s)",
      "with ÷ without diagnoses",
    ],
    results.map((r) => [
      r.samples.toLocaleString("en"),
      r.again.toFixed(3),
      r.withoutBacktest.toFixed(3),
      `${((100 * (r.again - r.withoutBacktest)) / r.withoutBacktest).toFixed(1)} %`,
      r.withoutDiagnosis.toFixed(3),
      `${(r.again / r.withoutDiagnosis).toFixed(2)} ×`,
    ]),
  );
  const partsCpuTable = table(
    [
      "samples",
      "node CPU, whole (s)",
      "without the backtest (s)",
      "backtest's CPU ÷ whole night's wall",
      "without the diagnoses (s)",
      "diagnoses' CPU ÷ whole night's wall",
    ],
    results.map((r) => [
      r.samples.toLocaleString("en"),
      r.cpu.toFixed(3),
      r.cpuWithoutBacktest.toFixed(3),
      `${((100 * (r.cpu - r.cpuWithoutBacktest)) / r.again).toFixed(1)} %`,
      r.cpuWithoutDiagnosis.toFixed(3),
      `${((100 * (r.cpu - r.cpuWithoutDiagnosis)) / r.again).toFixed(1)} %`,
    ]),
  );
  const backtestTable = table(
    [
      "samples",
      "`rightsize backtest`, whole process (s)",
      "its path in a warm process (s)",
      "floor: the same reads alone (s)",
      "× floor",
    ],
    results.map((r) => [
      r.samples.toLocaleString("en"),
      r.backtestProcess.toFixed(3),
      r.backtestCommand.toFixed(3),
      r.backtestReads.toFixed(3),
      (r.backtestCommand / r.backtestReads).toFixed(2),
    ]),
  );
  process.stdout.write(
    `${runsPerTask} runs × ${ticksPerRun} ticks per task; each night = the inline night in its own process (catch up on summaries, analyze and store every task; timed once its modules are loaded and its connection is open); catch-up night: no run summarized yet; edge: every run summarized when it ended; targets: catch-up ≤ 1.0 × floor, edge ≤ 0.25 × floor, ≤ 300 MB; edge nights: median of ${rounds} rounds\n${table(header, rows)}\n\nThe edge night whole and without each part (median of ${rounds} rounds, alternating); targets: backtest ≤ 15 %, diagnoses ≤ 1.1 ×\n${partsTable}\n\nThe analyzing process's own CPU time in the same nights (median of ${rounds}): what each part costs where it runs\n${partsCpuTable}\n\n\`rightsize backtest\` for every policy (process: median of ${Math.max(3, rounds)}, start-up included; warm: median of 5, alternating with the reads); target ≤ 2 s\n${backtestTable}\n`,
  );
}
