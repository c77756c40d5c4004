import { readFileSync } from "node:fs";

/** Whether a process with this pid exists (EPERM: it does, but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The fields of /proc/PID/stat after the command name (proc(5)): index 0 is field 3 (state), so field N
 * is index N − 3. The command name (field 2) may hold spaces and parentheses: fields are counted after
 * the last ')'. Null where /proc cannot tell (not Linux, process gone).
 */
export function procStatFields(pid: number | "self"): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/PID/stat, proc(5)), or null where
 * /proc cannot tell (not Linux, process gone). With the pid it names one process for the life of the
 * host: a pid the kernel handed out again after a crash has another start time.
 */
export function processStartTicks(pid: number): number | null {
  const ticks = Number(procStatFields(pid)?.[19]);
  return Number.isInteger(ticks) ? ticks : null;
}

/**
 * Whether the process recorded as (pid, start ticks) still runs. Without a recorded start time (an older
 * lock file) or where /proc is absent, only the pid is checked.
 */
export function isSameProcessAlive(pid: number, startTicks: number | null): boolean {
  if (!isProcessAlive(pid)) return false;
  if (startTicks === null) return true;
  const now = processStartTicks(pid);
  return now === null || now === startTicks;
}
