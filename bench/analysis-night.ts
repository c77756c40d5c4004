/**
 * The analyzing process of bench/analysis.bench.ts: opens the database, runs the night inline (the
 * steps `rightsize analyze` runs, without the CLI's start-up), prints one JSON line with its wall time.
 * Usage: node dist/bench/analysis-night.js DATABASE_URL WINDOW_END
 */
import { performance } from "node:perf_hooks";
import { runNightInline } from "../analyzer/nightly.js";
import { loadConfig } from "../common/config.js";
import { silentLogger } from "../common/logger.js";
import { openDatabase } from "../db/client.js";

const [url, windowEnd] = process.argv.slice(2);
if (!url || !windowEnd) {
  process.stderr.write("usage: analysis-night.js DATABASE_URL WINDOW_END\n");
  process.exit(2);
}
const config = loadConfig({ env: {} });
const started = performance.now();
const handle = await openDatabase(url);
try {
  const result = await runNightInline({
    db: handle.db,
    config,
    logger: silentLogger,
    night: { windowEnd: new Date(windowEnd), windowDays: config.analysis.windowDays },
    // As `rightsize analyze` without --json: results stored, no document rebuilt.
    document: false,
  });
  process.stdout.write(
    `${JSON.stringify({ seconds: (performance.now() - started) / 1000, analyzed: result.analyzed, failed: result.failed.length })}\n`,
  );
} finally {
  await handle.close();
}
