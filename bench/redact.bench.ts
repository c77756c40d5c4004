/**
 * Redaction of command lines (collector/storage/redact.ts), per command line: the 132 corpus lines
 * (collector/storage/redact-corpus.json) and the worst inputs within the caps — hostile words that wake every
 * rule. Floor: `argv.join(" ")`, what storing the argv costs without redaction. Median of 5 runs after a
 * warm-up.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { redactArgv } from "../collector/storage/redact.js";

/** Enough repetitions for a stable median on a shared 2-core machine without making `npm run bench` slow. */
const repetitions = 5;

function measure(work: () => unknown, times: number): number {
  work();
  const results: number[] = [];
  for (let index = 0; index < repetitions; index++) {
    const started = performance.now();
    for (let round = 0; round < times; round++) work();
    results.push((performance.now() - started) / times);
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)]!;
}

export async function run(): Promise<void> {
  // dist/bench/ → the corpus next to the sources (JSON is not copied into dist).
  const corpus = JSON.parse(
    readFileSync(new URL("../../collector/storage/redact-corpus.json", import.meta.url), "utf8"),
  ) as Array<{ argv: string[] }>;
  const cases: Array<[string, string[][], number]> = [
    ["corpus (132 lines, each)", corpus.map((entry) => entry.argv), 20],
    ["500,000 arguments `x=y`", [Array<string>(500_000).fill("x=y")], 1],
    ["16 × 128 KiB of `x=y x=y …`", [Array<string>(16).fill("x=y ".repeat(32_768))], 1],
    ["16 × 128 KiB of `a://b:a://b:…`", [Array<string>(16).fill("a://b:".repeat(21_845))], 1],
    ["16 × 128 KiB of `a-a-a-…`", [Array<string>(16).fill("a-".repeat(65_536))], 1],
  ];
  process.stdout.write(
    "| input | redactArgv ms/line | floor (join) ms/line | ratio |\n| --- | --- | --- | --- |\n",
  );
  for (const [name, lines, times] of cases) {
    const redact = measure(() => lines.forEach((argv) => redactArgv(argv)), times) / lines.length;
    const floor = measure(() => lines.forEach((argv) => argv.join(" ")), times) / lines.length;
    process.stdout.write(
      `| ${name} | ${redact.toFixed(3)} | ${floor.toFixed(4)} | ${(redact / floor).toFixed(1)}× |\n`,
    );
  }
}
