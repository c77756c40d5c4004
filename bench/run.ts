/**
 * `npm run bench [-- NAME…]`: runs every `bench/*.bench.js` in dist (or the named ones) one after the
 * other, each printing its own side-by-side table. Results and the machine go into BENCHMARKS.md by hand.
 */
import { readdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";

const folder = new URL(".", import.meta.url);
const wanted = process.argv.slice(2);
const available = readdirSync(folder)
  .filter((file) => file.endsWith(".bench.js"))
  .map((file) => file.slice(0, -".bench.js".length))
  .sort();
const selected = wanted.length > 0 ? wanted : available;
const unknown = selected.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(", ")}; available: ${available.join(", ")}\n`);
  process.exit(2);
}
process.stdout.write(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}\n`,
);
for (const name of selected) {
  process.stdout.write(`\n## ${name}\n`);
  const module = (await import(new URL(`./${name}.bench.js`, folder).href)) as { run(): Promise<void> };
  await module.run();
}
