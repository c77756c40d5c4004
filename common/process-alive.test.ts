import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSameProcessAlive, processStartTicks, procStatFields } from "./process-alive.js";

describe.runIf(process.platform === "linux")("/proc/PID/stat fields", () => {
  it("counts fields after the last ')' even when the command name holds ') ('", async () => {
    const folder = mkdtempSync(join(tmpdir(), "rightsize-stat-"));
    const program = join(folder, "a) (b 1 2");
    symlinkSync("/bin/sleep", program);
    const child = spawn(program, ["5"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      // Until its exec the child is named as node is; wait for the hostile name.
      const comm = () => readFileSync(`/proc/${child.pid}/comm`, "utf8").trim();
      for (let tries = 0; tries < 200 && comm() !== "a) (b 1 2"; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(comm()).toBe("a) (b 1 2");
      const fields = procStatFields(child.pid!);
      expect(fields?.[0]).toMatch(/^[RSD]$/); // field 3, state
      expect(fields?.[1]).toBe(String(process.pid)); // field 4, ppid
      expect(processStartTicks(child.pid!)).toBe(Number(fields![19]));
      expect(isSameProcessAlive(child.pid!, processStartTicks(child.pid!))).toBe(true);
      expect(isSameProcessAlive(child.pid!, processStartTicks(child.pid!)! + 1)).toBe(false);
    } finally {
      child.kill("SIGKILL");
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("is null for a process that is gone", async () => {
    const child = spawn("/bin/true", { stdio: "ignore" });
    await new Promise((resolve) => child.once("exit", resolve));
    expect(procStatFields(child.pid!)).toBeNull();
    expect(processStartTicks(child.pid!)).toBeNull();
  });
});
