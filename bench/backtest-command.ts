/**
 * `rightsize backtest`'s path in a warm process, for bench/analysis.bench.ts on its generated database:
 * the command's work (analyzer/backtest-window.ts backtestWindow for every policy, then the text table)
 * beside its floor, the same reads alone (the summary catch-up, the window's task keys, then each batch's
 * task histories, as backtestWindow issues them) without any computing. Alternates the two, so load
 * drifts hit both alike, and prints one JSON line with each one's median wall time in ms.
 * Usage: node dist/bench/backtest-command.js DATABASE_URL WINDOW_END
 */
import { sql } from "drizzle-orm";
import { performance } from "node:perf_hooks";
import { backtestWindow } from "../analyzer/backtest-window.js";
import { batchesOf, summarizeNight, tasksOfNight, windowOf } from "../analyzer/nightly.js";
import type { PolicyName } from "../analyzer/policies.js";
import { loadConfig } from "../common/config.js";
import { openDatabase } from "../db/client.js";
import { loadTaskHistories } from "../db/queries/task-histories.js";
import { renderBacktestText } from "../reports/backtest-table.js";

const [url, windowEnd] = process.argv.slice(2);
if (!url || !windowEnd) {
  process.stderr.write("usage: backtest-command.js DATABASE_URL WINDOW_END\n");
  process.exit(2);
}
/** Each side's repetitions after one warm-up of both. */
const repetitions = 5;
const config = loadConfig({ env: {} });
const night = { windowEnd: new Date(windowEnd), windowDays: config.analysis.windowDays };
const handle = await openDatabase(url);

/** What the command found: its task rows and the runs each policy replayed, for the benchmark to check. */
let found = { tasks: 0, runs: [] as number[] };

async function command(): Promise<number> {
  const result = await backtestWindow(handle.db, config, night, {
    policy: config.analysis.policy as PolicyName,
  });
  found = { tasks: result.tasks.length, runs: result.policies.map((policy) => policy.runs) };
  return renderBacktestText(result).length;
}

async function readsAlone(): Promise<number> {
  await summarizeNight(handle.db, config, night);
  const window = windowOf(night, config.analysis.maxRuns);
  const keys = await tasksOfNight(handle.db, config, night);
  let runs = 0;
  for (const batch of batchesOf(keys, 1, keys.length)) {
    for (const history of (await loadTaskHistories(handle.db, batch, window)).values()) {
      runs += history.runs.length;
    }
  }
  return runs;
}

async function timed(work: () => Promise<number>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

try {
  await handle.db.execute(sql`select 1`);
  const runs = await readsAlone();
  const characters = await command();
  const commandMs: number[] = [];
  const readsMs: number[] = [];
  for (let index = 0; index < repetitions; index++) {
    readsMs.push(await timed(readsAlone));
    commandMs.push(await timed(command));
  }
  process.stdout.write(
    `${JSON.stringify({ commandMs: median(commandMs), readsMs: median(readsMs), runs, characters, found })}\n`,
  );
} finally {
  await handle.close();
}
