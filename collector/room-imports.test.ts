/**
 * docs/architecture.md "The collector's sub-rooms": imports run one way, procfs → attribution → tracking →
 * storage → export → the entry points on top (collect-daemon.ts, run-command.ts). A sub-room imports only
 * from those before it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const order = ["procfs", "attribution", "tracking", "storage", "export"];
const collector = new URL("./", import.meta.url);

/** `room/file: ../other/…` for every import of a product file of `room` that reaches another part of collector/. */
function importsOf(room: string): Array<{ from: string; to: string }> {
  const folder = new URL(`${room}/`, collector);
  return readdirSync(folder)
    .filter((name) => name.endsWith(".ts") && !name.includes(".test."))
    .flatMap((name) =>
      [...readFileSync(new URL(name, folder), "utf8").matchAll(/from "\.\.\/([^."/][^"/]*)(\/[^"]*)?"/g)]
        .filter((match) => match[2] !== undefined || !match[1]!.endsWith(".js"))
        .map((match) => ({ from: `${room}/${name}`, to: match[1]! })),
    );
}

describe("collector/ sub-rooms", () => {
  it.each(order)("%s imports only the sub-rooms before it, never an entry point", (room) => {
    const allowed = new Set(order.slice(0, order.indexOf(room)));
    const imports = importsOf(room);
    expect(imports.filter(({ to }) => !allowed.has(to)).map(({ from, to }) => `${from} → ${to}`)).toEqual([]);
  });

  it("every product file of collector/ is in a sub-room but the entry points", () => {
    const top = readdirSync(collector).filter((name) => name.endsWith(".ts") && !name.includes(".test."));
    expect(top.sort()).toEqual(["collect-daemon.ts", "run-command.ts"]);
  });
});
