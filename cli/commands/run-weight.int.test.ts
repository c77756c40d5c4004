/**
 * `rightsize run` wraps every task, so what it loads is CPU each task pays (BENCHMARKS.md "wrapper"):
 * the modules the built command loads for `run` leave out what only other commands need.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cliPath } from "../../test-support/cli.js";

const cliDir = dirname(cliPath);
/** The bundled command's files (main.js and its chunks) → the modules of dist/ and node_modules in each. */
const bundleInputs = JSON.parse(readFileSync(join(cliDir, "bundle-inputs.json"), "utf8")) as Record<
  string,
  string[]
>;

/**
 * Every module the built command loads for `args`: the files a module.register resolve hook sees, a chunk
 * of the bundle standing for the modules in it (paths as `dist/…` and `node_modules/…`).
 */
function modulesLoaded(args: string[]): string[] {
  const hooks = `export async function resolve(specifier, context, next) {
    const result = await next(specifier, context);
    process._rawDebug("RESOLVED " + result.url);
    return result;
  }`;
  const register = `import { register } from "node:module";
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}));`;
  const result = spawnSync(
    process.execPath,
    ["--import", `data:text/javascript,${encodeURIComponent(register)}`, cliPath, ...args],
    { encoding: "utf8", env: { ...process.env, RIGHTSIZE_CONFIG: "" } },
  );
  expect(result.status).toBe(0);
  const files = result.stderr
    .split("\n")
    .filter((line) => line.startsWith("RESOLVED file://"))
    .map((line) => fileURLToPath(line.slice("RESOLVED ".length)));
  expect(files).toContain(cliPath);
  return files.flatMap((file) => {
    const bundled = bundleInputs[relative(cliDir, file)];
    return bundled ?? [relative(join(cliDir, "../.."), file)];
  });
}

describe("what run loads", () => {
  it("is the bundle: a few files, the command's modules and drizzle inside them", () => {
    const modules = modulesLoaded(["run", "--help"]);
    expect(modules).toContain("dist/cli/commands/run.js");
    expect(modules).toContain("dist/collector/storage/writer.js");
    expect(modules.some((module) => module.startsWith("node_modules/drizzle-orm/"))).toBe(true);
    expect(Object.keys(bundleInputs).length).toBeLessThan(modules.length / 4);
  });

  it("leaves out zod, yaml, PGlite and the collect daemon's modules", () => {
    const unwanted = modulesLoaded(["run", "--help"]).filter((module) =>
      /^node_modules\/(zod|yaml|@electric-sql\/pglite|pidusage)\/|^dist\/cli\/commands\/collect\.js$|^dist\/collector\/(collect-daemon|kubernetes-client)\.js$/.test(
        module,
      ),
    );
    expect(unwanted).toEqual([]);
  });

  it("the collect command still loads its daemon (the test would see it)", () => {
    expect(modulesLoaded(["collect", "--help"])).toContain("dist/collector/collect-daemon.js");
  });
});
