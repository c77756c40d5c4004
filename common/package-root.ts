import { existsSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
let root: string | undefined;

/**
 * The folder holding rightsize's package.json, found by walking up from this module: the same answer
 * from the sources (tests), from dist/ and from the bundled command, wherever the package is installed.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let folder = dirname(here);
  for (;;) {
    const manifest = join(folder, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "rightsize"
    ) {
      return (root = folder);
    }
    const parent = dirname(folder);
    if (parent === folder) throw new Error("cannot find rightsize's package.json above its code");
    folder = parent;
  }
}

/**
 * A file or folder of the code tree that is running, by its path in the sources (`db/migrations`,
 * `reports/templates`): under dist/ for the built command, bundled or not, and in the package root for
 * the sources. A module of the bundled command lives in a chunk (scripts/bundle-cli.mjs), so a path
 * relative to its own `import.meta.url` would miss.
 */
export function codePath(...segments: string[]): string {
  const dist = join(packageRoot(), "dist");
  return join(here.startsWith(dist + sep) ? dist : packageRoot(), ...segments);
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string })
    .version;
}
