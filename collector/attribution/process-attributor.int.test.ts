/**
 * Discovery's reading of a process's attribution keys, on a fake /proc: the keys as first seen survive
 * setproctitle overwriting what /proc/PID/environ shows (NULs, as real setproctitle leaves it), and a
 * process already overwritten when first seen inherits its parent's keys.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import { ProcReader } from "../procfs/proc-reader.js";
import { ProcessAttributor } from "./process-attributor.js";

const procRoot = mkdtempSync(join(tmpdir(), "rightsize-fake-proc-"));
afterAll(() => rmSync(procRoot, { recursive: true, force: true }));

function write(pid: number, file: string, text: string): void {
  mkdirSync(join(procRoot, String(pid), "fd"), { recursive: true });
  writeFileSync(join(procRoot, String(pid), file), text);
}
const clobbered = "\0".repeat(200);

describe("attribution keys at first sight", () => {
  const subject = new ProcessAttributor({
    reader: new ProcReader(),
    procRoot,
    logger: silentLogger,
    fdTargets: () => [],
  });

  it("keeps the keys a process showed first after setproctitle overwrote its environment", () => {
    write(10, "cmdline", "python\0flow.py\0");
    write(10, "environ", "PATH=/usr/bin\0PREFECT__FLOW_RUN_ID=r1\0PREFECT__FLOW_NAME=etl\0");
    expect(subject.envOf(10, 100, 1)).toEqual({ PREFECT__FLOW_RUN_ID: "r1", PREFECT__FLOW_NAME: "etl" });
    write(10, "environ", clobbered);
    expect(subject.envOf(10, 100, 1)).toEqual({ PREFECT__FLOW_RUN_ID: "r1", PREFECT__FLOW_NAME: "etl" });
    // Another process with the same pid (a new start time) is a new first sight.
    expect(subject.envOf(10, 101, 1)).toEqual({});
  });

  it("lets a process overwritten before it was first seen inherit its parent's keys", () => {
    write(20, "environ", "PATH=/usr/bin\0RIGHTSIZE_PIPELINE=p\0RIGHTSIZE_TASK=t\0");
    expect(subject.envOf(20, 200, 1)).toEqual({ RIGHTSIZE_PIPELINE: "p", RIGHTSIZE_TASK: "t" });
    write(21, "environ", clobbered);
    expect(subject.envOf(21, 210, 20)).toEqual({ RIGHTSIZE_PIPELINE: "p", RIGHTSIZE_TASK: "t" });
    // A readable environment without keys is the process's own answer: nothing is inherited.
    write(22, "environ", "PATH=/usr/bin\0");
    expect(subject.envOf(22, 220, 20)).toEqual({});
  });

  it("takes the keys of what a process exec'd since", () => {
    write(30, "environ", "PATH=/usr/bin\0");
    expect(subject.envOf(30, 300, 1)).toEqual({});
    write(30, "environ", "PATH=/usr/bin\0AIRFLOW_CTX_DAG_ID=d\0AIRFLOW_CTX_TASK_ID=t\0");
    expect(subject.envOf(30, 300, 1)).toEqual({ AIRFLOW_CTX_DAG_ID: "d", AIRFLOW_CTX_TASK_ID: "t" });
  });

  it("leaves `rightsize run`'s children to it", () => {
    write(40, "cmdline", "sleep\u00001\u0000");
    write(40, "environ", "RIGHTSIZE_WRAPPED=1\0RIGHTSIZE_PIPELINE=p\0RIGHTSIZE_TASK=t\0");
    expect(subject.resolve(40, { startTicks: 400, ppid: 1 })).toBe("wrapped");
  });
});
