/** Every `rightsize` command, in the order `--help` lists them. */
import type { Command } from "commander";
import * as analyze from "./analyze.js";
import * as check from "./check.js";
import * as collect from "./collect.js";
import * as db from "./db.js";
import * as demo from "./demo.js";
import * as patch from "./patch.js";
import * as pr from "./pr.js";
import * as report from "./report.js";
import * as run from "./run.js";
import * as scan from "./scan.js";
import * as schedule from "./schedule.js";
import * as status from "./status.js";
import * as worker from "./worker.js";

export const commands: Array<{ register(program: Command): void }> = [
  demo,
  db,
  status,
  collect,
  run,
  analyze,
  worker,
  schedule,
  report,
  scan,
  check,
  patch,
  pr,
];
