/** Every `rightsize` command, in the order `--help` lists them. */
import type { Command } from "commander";
import * as db from "./db.js";
import * as status from "./status.js";

export const commands: Array<{ register(program: Command): void }> = [db, status];
