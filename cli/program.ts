/** The `rightsize` command tree: global flags, help text and every command's registration. */
import { Command, Option } from "commander";
import { packageVersion } from "../common/package-root.js";
import { loadCommands } from "./commands/index.js";

/**
 * The command tree. With `args` (argv after `node main.js`) only the command they name is loaded; without,
 * every command.
 */
export async function buildProgram(args?: string[]): Promise<Command> {
  const program = new Command("rightsize")
    .description(
      "Watches what Airflow and Prefect tasks really do at run time (CPU, memory, disk, network, where the time goes) and tells you how to size them.",
    )
    .version(packageVersion(), "-V, --version")
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
  for (const command of await loadCommands(args)) command.register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}
