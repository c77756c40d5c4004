/**
 * `rightsize run` wraps every task, so what it loads is CPU each task pays (BENCHMARKS.md "wrapper"):
 * the modules the built command resolves for `run` leave out what only other commands need.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { cliPath } from "../../test-support/cli.js";

/** Every ES module URL the built command resolves for `args`, logged by a module.register resolve hook. */
function modulesResolved(args: string[]): string[] {
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
  return result.stderr
    .split("\n")
    .filter((line) => line.startsWith("RESOLVED "))
    .map((line) => line.slice("RESOLVED ".length));
}

describe("what run loads", () => {
  it("leaves out zod, yaml, PGlite and the collect daemon's modules", () => {
    const modules = modulesResolved(["run", "--help"]);
    // The hook sees it: the run command's own module and the writer are there.
    expect(modules.some((url) => url.endsWith("/cli/commands/run.js"))).toBe(true);
    expect(modules.some((url) => url.endsWith("/collector/storage/writer.js"))).toBe(true);
    const unwanted = modules.filter((url) =>
      /\/node_modules\/(zod|yaml|@electric-sql\/pglite|pidusage)\/|\/cli\/commands\/collect\.js$|\/collector\/(collect-daemon|kubernetes-client)\.js$/.test(
        url,
      ),
    );
    expect(unwanted).toEqual([]);
  });

  it("the collect command still loads its daemon (the hook would see it)", () => {
    const modules = modulesResolved(["collect", "--help"]);
    expect(modules.some((url) => url.endsWith("/collector/collect-daemon.js"))).toBe(true);
  });
});
