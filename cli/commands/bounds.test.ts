/** Flags a timer or a column cannot hold exit 2 naming the flag (commander's one line). */
import { describe, expect, it } from "vitest";
import { buildProgram } from "../program.js";

async function parse(args: string[]): Promise<string> {
  const program = await buildProgram(args);
  let message = "";
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  program.configureOutput({ writeErr: (text) => (message += text) });
  for (const command of program.commands) command.configureOutput({ writeErr: (text) => (message += text) });
  try {
    await program.parseAsync(["node", "rightsize", ...args]);
  } catch {
    // commander throws after writing its line
  }
  return message;
}

describe("flag bounds", () => {
  it.each([
    [["collect", "--interval", "25d"], "--interval"],
    [["collect", "--duration", "30d"], "--duration"],
    [["collect", "--metrics-listen", "localhost"], "--metrics-listen"],
    [["run", "--pipeline", "p", "--task", "t", "--try", "99999999999", "--", "true"], "--try"],
    [["run", "--pipeline", "p", "--task", "t", "--map-index", "4294967296", "--", "true"], "--map-index"],
    [["run", "--pipeline", "p", "--task", "t", "--interval", "1ms", "--", "true"], "--interval"],
    [
      ["run", "--pipeline", "p", "--task", "t", "--request-memory", "99999999PiB", "--", "true"],
      "--request-memory",
    ],
  ])("%j is refused naming %s", async (args, flag) => {
    expect(await parse(args)).toMatch(new RegExp(`option '${flag}[^']*' argument`));
  });
});
