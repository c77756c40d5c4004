#!/usr/bin/env node
/**
 * The `rightsize` command. Exit codes: 0 success, 1 failure, 2 bad flags or configuration (one line on
 * stderr saying what and where), and a command's own documented codes (`check`: 3, nothing to judge).
 */
import { CommanderError } from "commander";
import { CommandExitError, ConfigError, describeError, UsageError } from "../common/errors.js";
import { buildProgram } from "./program.js";

async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv.slice(2));
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
    if (error instanceof CommandExitError) {
      process.stderr.write(`rightsize: ${error.message}\n`);
      return error.exitCode;
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
