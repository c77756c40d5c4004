/**
 * The analyzing process of bench/analysis.bench.ts: loads its modules and the configuration, opens the
 * database and makes one round trip, and only then starts its clock and runs the night inline (the steps
 * `rightsize analyze` runs). Prints one JSON line with the night's wall time. Module loading, the
 * configuration and the connection are start-up, not the night: the floor beside it is timed on an open
 * connection in a warm process too.
 * Usage: node dist/bench/analysis-night.js DATABASE_URL WINDOW_END
 */
import { sql } from "drizzle-orm";
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
const handle = await openDatabase(url);
try {
  await handle.db.execute(sql`select 1`);
  const started = performance.now();
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
