#!/usr/bin/env node
/**
 * The `rightsize` command. Exit codes: 0 success, 1 failure, 2 bad flags or configuration (one line on
 * stderr saying what and where).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ConfigError, describeError, UsageError } from "../common/errors.js";
import { commands } from "./commands/index.js";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command("rightsize")
    .description(
      "Watches what Airflow and Prefect tasks really do at run time (CPU, memory, disk, network, where the time goes) and tells you how to size them.",
    )
    .version(version, "-V, --version")
    .addOption(
      new Option("--db <url>", "postgres://… for a server, a folder or pglite://PATH for embedded").env(
        "DATABASE_URL",
      ),
    )
    .addOption(new Option("--redis <url>", "BullMQ's Redis; absent: jobs run inline").env("REDIS_URL"))
    .addOption(new Option("--config <file>", "YAML configuration file").env("RIGHTSIZE_CONFIG"))
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride();
  program.addHelpText(
    "after",
    `
Examples:
  rightsize demo                                   the whole pipeline on a sample workload
  rightsize run --orchestrator generic --pipeline nightly --task export -- ./export.sh
  rightsize collect --interval 1s                  the host daemon (root, for every process)
  rightsize analyze --json analysis.json && rightsize report --out reports/

Configuration: defaults < --config FILE < environment < flags. See README "Configuration".`,
  );
  for (const command of commands) command.register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" are how commander says it printed what was asked.
      if (
        error.exitCode === 0 ||
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version"
      ) {
        return 0;
      }
      return 2; // commander already printed its one line
    }
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`rightsize: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`rightsize: ${describeError(error)}\n`);
    if (process.env.LOG_LEVEL === "debug" || process.env.LOG_LEVEL === "trace") {
      process.stderr.write(`${(error as Error).stack ?? ""}\n`);
    }
    return 1;
  }
}

process.exitCode = await main(process.argv);
