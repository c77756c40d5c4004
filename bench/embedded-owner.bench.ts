/**
 * Where the embedded database's owner spends its memory: bench/embedded-owner-profile.ts in a child
 * process, first on a new folder, then reopening it, each stage's VmRSS, VmHWM, V8 heap, memory outside
 * it and PGlite's WebAssembly memory. With `EMBEDDED_BENCH_BASELINE=DIST` (another build's dist/, e.g.
 * the previous commit built in a scratch folder) the same profile of that build runs in the same run,
 * alternately, for a side by side.
 *
 * `npm run build && EMBEDDED_BENCH_BASELINE=/tmp/base/dist node --expose-gc dist/bench/run.js embedded-owner`
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import type { Stage } from "./embedded-owner-profile.js";

const profile = fileURLToPath(new URL("./embedded-owner-profile.js", import.meta.url));
const thisBuild = dirname(dirname(profile));
const runs = Number(process.env.EMBEDDED_BENCH_RUNS ?? 5);

function profileOf(dist: string, folder: string, spool: string): Stage[] {
  const result = spawnSync(process.execPath, [profile, dist, folder, String(runs)], {
    env: { ...process.env, RIGHTSIZE_SPOOL_DIR: spool, LOG_LEVEL: "warn" },
    encoding: "utf8",
    maxBuffer: 16 * 1024 ** 2,
  });
  if (result.status !== 0) throw new Error(`profile of ${dist} failed:\n${result.stderr}`);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Stage);
}

export async function run(): Promise<void> {
  const builds: Array<[string, string]> = [["this build", thisBuild]];
  if (process.env.EMBEDDED_BENCH_BASELINE) builds.push(["baseline", process.env.EMBEDDED_BENCH_BASELINE]);
  const home = mkdtempSync(join(tmpdir(), "rightsize-bench-owner-"));
  try {
    const table = new Table({
      head: [
        "build",
        "folder",
        "stage",
        "VmRSS MiB",
        "VmHWM MiB",
        "JS heap used/total MiB",
        "outside the heap MiB (ArrayBuffers)",
        "WASM memory MiB (resident)",
        "CPU s",
      ],
    });
    // The builds alternate (new folder for each, then each reopened), so that a change of load on the
    // machine touches both.
    const rows: Array<[string, string, Stage]> = [];
    for (const opening of ["new", "reopened"]) {
      for (const [label, dist] of builds) {
        const slug = label.replace(/\W+/g, "-");
        for (const row of profileOf(dist, join(home, slug, "db"), join(home, slug, "spool")))
          rows.push([label, opening, row]);
      }
    }
    rows.sort(
      (a, b) => builds.findIndex(([label]) => label === a[0]) - builds.findIndex(([label]) => label === b[0]),
    );
    for (const [label, opening, row] of rows) {
      table.push([
        label,
        opening,
        row.stage,
        row.rssMiB.toFixed(0),
        row.hwmMiB.toFixed(0),
        `${row.heapUsedMiB.toFixed(0)}/${row.heapTotalMiB.toFixed(0)}`,
        `${row.externalMiB.toFixed(0)} (${row.arrayBuffersMiB.toFixed(0)})`,
        row.wasmMiB > 0 ? `${row.wasmMiB.toFixed(0)} (${row.wasmResidentMiB.toFixed(0)})` : "–",
        row.cpuSeconds.toFixed(2),
      ]);
    }
    process.stdout.write(`${table.toString()}\n`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
