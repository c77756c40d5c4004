/**
 * Every `rightsize` command, in the order `--help` lists them, each loaded only when needed: a command
 * module pulls in its whole room (PGlite, BullMQ, tree-sitter, nodemailer…), and loading all of them
 * costs about a second, which `rightsize run` would add to every task it wraps.
 */
import type { Command } from "commander";

type CommandModule = { register(program: Command): void };

export const commandLoaders: Record<string, () => Promise<CommandModule>> = {
  demo: () => import("./demo.js"),
  db: () => import("./db.js"),
  status: () => import("./status.js"),
  collect: () => import("./collect.js"),
  run: () => import("./run.js"),
  analyze: () => import("./analyze.js"),
  backtest: () => import("./backtest.js"),
  worker: () => import("./worker.js"),
  schedule: () => import("./schedule.js"),
  report: () => import("./report.js"),
  scan: () => import("./scan.js"),
  check: () => import("./check.js"),
  patch: () => import("./patch.js"),
  pr: () => import("./pr.js"),
  explain: () => import("./explain.js"),
  fleet: () => import("./fleet.js"),
};

/** Global options that take a value: their value is not the command name. */
const GLOBAL_OPTIONS_WITH_VALUES = new Set(["--db", "--redis", "--config"]);

/** The command an argv (after `node main.js`) names, if it names a known one. */
export function commandNamed(args: string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (GLOBAL_OPTIONS_WITH_VALUES.has(arg)) index++;
    else if (!arg.startsWith("-")) return arg in commandLoaders ? arg : undefined;
  }
  return undefined;
}

/**
 * The command modules to register: only the named one when argv names one, else all of them (for the
 * top-level help and for commander's "unknown command" suggestions).
 */
export async function loadCommands(args?: string[]): Promise<CommandModule[]> {
  const named = args === undefined ? undefined : commandNamed(args);
  const names = named === undefined ? Object.keys(commandLoaders) : [named];
  return Promise.all(names.map((name) => commandLoaders[name]!()));
}
