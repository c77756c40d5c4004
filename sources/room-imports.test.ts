/**
 * docs/architecture.md "Rooms": sources/ may import from reports/ only its escaping helpers, and nothing from cli/
 * (the pull-request body's report is rendered by the `pr` command and passed in).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const room = new URL("./", import.meta.url);

describe("sources/ imports", () => {
  it("take only reports/escape.ts from reports/ and nothing from cli/", () => {
    const files = readdirSync(room).filter((name) => name.endsWith(".ts") && !name.includes(".test."));
    expect(files.length).toBeGreaterThan(10);
    const imported = files.flatMap((name) =>
      [...readFileSync(new URL(name, room), "utf8").matchAll(/from "(\.\.\/(?:reports|cli)\/[^"]+)"/g)].map(
        (match) => `${name}: ${match[1]}`,
      ),
    );
    expect(imported.filter((line) => !line.endsWith(": ../reports/escape.js"))).toEqual([]);
  });
});
