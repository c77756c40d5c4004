import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder holding rightsize's package.json, found by walking up from this module: the same answer
 * from the sources (tests) and from dist/ (the built command), wherever the package is installed.
 */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(folder, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "rightsize"
    ) {
      return folder;
    }
    const parent = dirname(folder);
    if (parent === folder) throw new Error("cannot find rightsize's package.json above its code");
    folder = parent;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string })
    .version;
}
