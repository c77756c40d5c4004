// Bundles the built command (dist/cli/main.js, tsc's output) with the packages `rightsize run` loads into
// one entry file and chunks in dist/cli/chunks/, one chunk per set of commands that share code, so that
// `run`, which wraps every task, resolves and reads a few files instead of some 220 (BENCHMARKS.md
// "wrapper"). Every other package stays a plain import from node_modules: the ones kept out read files
// beside their own code (__dirname), start worker threads or load native addons, which a bundle breaks.
// dist/cli/bundle-inputs.json maps each output file to the modules in it, for the test of what `run`
// loads (cli/commands/run-weight.int.test.ts). The rest of dist/ stays tsc's output: the benchmarks, the
// demo's workload script and anything importing a module use it.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const BUNDLED_PACKAGES = new Set(["commander", "drizzle-orm", "postgres"]);
const MARKER = "// rightsize: bundled by scripts/bundle-cli.mjs";

const cliDir = "dist/cli";
const entry = join(cliDir, "main.js");
const staging = join(cliDir, ".bundle");
if (!existsSync(entry)) throw new Error(`${entry} is missing: run tsc first (npm run build)`);
if (readFileSync(entry, "utf8").includes(MARKER)) {
  throw new Error(`${entry} is already a bundle: run tsc again first (npm run build)`);
}

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

rmSync(staging, { recursive: true, force: true });
const result = await build({
  entryPoints: [entry],
  outdir: staging,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  keepNames: true,
  metafile: true,
  logLevel: "warning",
  // The CommonJS packages bundled here call require() for Node's own modules.
  banner: {
    js: `${MARKER}\nimport { createRequire as __bundleRequire } from "node:module";\nconst require = __bundleRequire(import.meta.url);`,
  },
  plugins: [
    {
      name: "bundle-only-listed-packages",
      setup(builder) {
        builder.onResolve({ filter: /^[^./]/ }, (args) =>
          BUNDLED_PACKAGES.has(packageName(args.path)) ? undefined : { external: true },
        );
      },
    },
  ],
});

const inputs = {};
for (const [output, meta] of Object.entries(result.metafile.outputs)) {
  if (output.endsWith(".js")) inputs[output.slice(staging.length + 1)] = Object.keys(meta.inputs).sort();
}
rmSync(join(cliDir, "chunks"), { recursive: true, force: true });
renameSync(join(staging, "chunks"), join(cliDir, "chunks"));
renameSync(join(staging, "main.js"), entry);
rmSync(staging, { recursive: true, force: true });
writeFileSync(join(cliDir, "bundle-inputs.json"), JSON.stringify(inputs, null, 1) + "\n");
process.stdout.write(`bundled ${entry}: ${Object.keys(inputs).length} files\n`);
