import { describe, expect, it } from "vitest";
import { commandLoaders, commandNamed, loadCommands } from "./index.js";

describe("commandNamed", () => {
  it("finds the command past global options and their values", () => {
    expect(commandNamed(["run", "--pipeline", "p", "--", "sleep", "1"])).toBe("run");
    expect(commandNamed(["--db", "postgres://u@h/d", "--redis", "redis://h", "collect"])).toBe("collect");
    expect(commandNamed(["--config", "run", "analyze"])).toBe("analyze");
    expect(commandNamed(["--db=/tmp/x", "status"])).toBe("status");
  });

  it("names none for help, version, an unknown word or nothing", () => {
    expect(commandNamed(["--help"])).toBeUndefined();
    expect(commandNamed(["-V"])).toBeUndefined();
    expect(commandNamed(["statu"])).toBeUndefined();
    expect(commandNamed([])).toBeUndefined();
  });

  it("loads one module for a named command and every module otherwise", async () => {
    expect(await loadCommands(["--db", "x", "db", "migrate"])).toHaveLength(1);
    expect((await loadCommands(["--help"])).length).toBe(Object.keys(commandLoaders).length);
  });
});
