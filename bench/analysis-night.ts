/**
 * The analyzing process of bench/analysis.bench.ts: loads its modules and the configuration, opens the
 * database and makes one round trip, and only then starts its clock and runs the night inline (the steps
 * `rightsize analyze` runs). Prints one JSON line with the night's wall time and this process's CPU time. Module loading, the
 * configuration and the connection are start-up, not the night: the floor beside it is timed on an open
 * connection in a warm process too.
 * `--leave-out backtest,diagnosis` leaves those parts out of every task's analysis (runNightInline's
 * `leaveOut`), so the benchmark times what each adds to the same night.
 * Usage: node dist/bench/analysis-night.js DATABASE_URL WINDOW_END [--leave-out PART,…]
 */
import { sql } from "drizzle-orm";
import { performance } from "node:perf_hooks";
import { runNightInline } from "../analyzer/nightly.js";
import { loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { openDatabase } from "../db/client.js";
import { type OptionalPart, optionalParts } from "../analyzer/task-analysis.js";

const [url, windowEnd, flag, list] = process.argv.slice(2);
if (!url || !windowEnd || (flag !== undefined && (flag !== "--leave-out" || !list))) {
  process.stderr.write("usage: analysis-night.js DATABASE_URL WINDOW_END [--leave-out PART,…]\n");
  process.exit(2);
}
const leaveOut = new Set<OptionalPart>();
for (const part of list ? list.split(",") : []) {
  if (!(optionalParts as readonly string[]).includes(part)) {
    process.stderr.write(`--leave-out: '${part}' is not one of ${optionalParts.join(", ")}\n`);
    process.exit(2);
  }
  leaveOut.add(part as OptionalPart);
}
const config = loadConfig({ env: {} });
const handle = await openDatabase(url);
try {
  await handle.db.execute(sql`select 1`);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = await runNightInline({
    db: handle.db,
    config,
    logger: silentLogger,
    night: { windowEnd: new Date(windowEnd), windowDays: config.analysis.windowDays },
    // As `rightsize analyze` without --json: results stored, no document rebuilt.
    document: false,
    leaveOut,
  });
  process.stdout.write(
    `${JSON.stringify({
      seconds: (performance.now() - started) / 1000,
      // This process's own CPU time in the night (user + system): the part that grows with the work
      // computed here, and moves far less than wall time when other work shares the cores.
      cpuSeconds: (() => {
        const used = process.cpuUsage(cpuBefore);
        return (used.user + used.system) / 1e6;
      })(),
      analyzed: result.analyzed,
      failed: result.failed.length,
    })}\n`,
  );
} finally {
  await handle.close();
}
