/**
 * The host's real cgroup file system (v1 or hybrid here, v2 elsewhere): a cgroup made for a command
 * counts exactly the CPU the kernel charged the command. Needs root, as `rightsize run` does.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createOwnCgroup,
  detectCgroupLayout,
  locateCgroup,
  readCgroupCounters,
  readCgroupResources,
} from "./cgroup.js";
import { ProcReader } from "./proc-reader.js";

describe("cgroups on this host", () => {
  const reader = new ProcReader();
  const layout = detectCgroupLayout("/sys/fs/cgroup");

  it("locates this process's cgroup folders", () => {
    expect(layout).not.toBeNull();
    const own = locateCgroup(reader, "/proc", process.pid, layout)!;
    const folders = own.version === 2 ? [own.unified] : [own.cpu, own.cpuacct, own.memory].filter(Boolean);
    expect(folders.length).toBeGreaterThan(0);
    for (const folder of folders) expect(existsSync(folder!)).toBe(true);
    // This test process sets no limits: unknown, never 0.
    const resources = readCgroupResources(reader, own, layout!);
    for (const value of Object.values(resources)) expect(value === null || value > 0).toBe(true);
  });

  it("makes a cgroup whose CPU counter matches what the kernel charged the command", async () => {
    const own = createOwnCgroup(reader, "/proc", layout, `rightsize-test-${randomUUID()}`);
    expect(own).not.toBeNull();
    try {
      // The command joins the cgroup first (as run's trampoline does), burns ~0.6 s, and prints its
      // own user+system seconds.
      const script = `IFS=:; for f in $PROCS; do echo $$ > "$f"; done; unset IFS; exec python3 -c '
import os, time
t = time.time()
while time.time() - t < 0.6: pass
u = os.times()
print(u.user + u.system)'`;
      const child = spawn("/bin/sh", ["-c", script], {
        env: { ...process.env, PROCS: own!.procsFiles.join(":") },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let stdout = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
      });
      await new Promise((resolve) => child.on("exit", resolve));
      const kernelSeconds = Number(stdout.trim());
      const counters = readCgroupCounters(reader, own!.cgroup);
      expect(kernelSeconds).toBeGreaterThan(0.2);
      // The cgroup also holds the shell's few ms and python's start-up before os.times() began counting
      // (about 0.3 s for the first python3 on PATH here, seen up to 0.31 s on a busy machine).
      expect(counters.cpuSeconds!).toBeGreaterThanOrEqual(kernelSeconds * 0.95);
      expect(counters.cpuSeconds!).toBeLessThanOrEqual(kernelSeconds + 0.5);
      if (own!.cgroup.memory) expect(counters.memoryPeakBytes).toBeGreaterThan(1024 * 1024);
    } finally {
      expect(own!.remove()).toEqual([]);
    }
  });

  it("reports a limit set on the cgroup above the task's: the one `run` makes binds by its parent's", () => {
    const parent = createOwnCgroup(reader, "/proc", layout, `rightsize-test-${randomUUID()}`)!;
    expect(parent).not.toBeNull();
    const limitFolder = parent.cgroup.version === 2 ? parent.cgroup.unified : parent.cgroup.memory;
    const limitFile = parent.cgroup.version === 2 ? "memory.max" : "memory.limit_in_bytes";
    const child = `${limitFolder}/child`;
    try {
      writeFileSync(`${limitFolder}/${limitFile}`, `${1024 ** 3}\n`);
      mkdirSync(child);
      const task =
        parent.cgroup.version === 2
          ? { ...parent.cgroup, unified: child }
          : { ...parent.cgroup, memory: child, cpu: null, cpuacct: null, blkio: null };
      expect(readFileSync(`${child}/${limitFile}`, "utf8").trim()).not.toBe(`${1024 ** 3}`);
      expect(readCgroupResources(reader, task, layout!).limitMemoryBytes).toBe(1024 ** 3);
    } finally {
      rmdirSync(child);
      expect(parent.remove()).toEqual([]);
    }
  });
});
