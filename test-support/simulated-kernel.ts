/**
 * A small model of the Linux process semantics the collector's tree logic rests on, materialized as a
 * /proc in a scratch folder that the real Sampler reads (its `procRoot`). Operations change the model
 * only; `sync()` writes what changed, as the kernel would show it at that instant, so a test decides
 * when the collector looks.
 *
 * The rules, as the kernel has them (paths in torvalds/linux):
 * - Only running moves a process's utime/stime and its schedstat run time and timeslice count
 *   (fs/proc/base.c proc_pid_schedstat: sum_exec_runtime, run_delay, pcount). Forking, exec, reaping
 *   and exiting are done by the process itself, so each is a short run: a timeslice and 50 µs, too
 *   little to be charged a clock tick.
 * - fork (kernel/fork.c copy_process): the child inherits comm, argv and environment, starts with zero
 *   times, and joins the end of its parent's children list (fs/proc/array.c get_children_pid).
 * - exit (kernel/exit.c do_exit, exit_notify): the process becomes a zombie whose stat still reads,
 *   state Z with its final times; its live children are reparented to init and its zombie children
 *   reaped by init at once (forget_original_parent). A process whose parent is outside the model
 *   (init, or whoever started the task's root) is reaped at once too.
 * - reap (kernel/exit.c wait_task_zombie): the parent runs; the zombie leaves its children list and
 *   /proc, and its utime+cutime and stime+cstime are added to the parent's cutime and cstime.
 * - A process gone from /proc reads as gone even through a file descriptor kept open: real procfs
 *   answers ESRCH there, a deleted regular file would still read its old text. Its files are truncated
 *   in place before its folder is removed, and collector/procfs/proc-reader.ts readKept takes an empty read
 *   for a process gone (its kept fd is dropped); files are always rewritten in place (same inode), as a
 *   kept fd re-reads procfs.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** R running, S sleeping (in wait4 here), Z zombie. */
export type SimState = "R" | "S" | "Z";

/** One simulated process, live, zombie or gone. Times in clock ticks (USER_HZ, 100 a second). */
export interface SimProcess {
  readonly pid: number;
  ppid: number;
  comm: string;
  argv: string[];
  environ: string[];
  state: SimState;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  readonly startTicks: number;
  runNs: number;
  slices: number;
  children: number[];
  /**
   * Pids whose own CPU time sits in this process's cutime/cstime: the zombies it reaped and, with
   * them, whatever those had reaped.
   */
  holds: number[];
  /** Who took its final times: a simulated process's pid, or an outside one (init, the root's parent). */
  reapedBy: number | null;
  /** A zombie its parent left unreaped by exiting: init took its times as the parent exited. */
  orphanedAsZombie: boolean;
  /** The parent whose exit reparented it to init while it lived; null while it kept its parent. */
  orphanedFrom: number | null;
}

/** A process's own CPU time, ticks (utime + stime). */
export function ownTicks(process: SimProcess): number {
  return process.utime + process.stime;
}

/** A process's reaped children's CPU time, ticks (cutime + cstime). */
export function childTicks(process: SimProcess): number {
  return process.cutime + process.cstime;
}

/** What a fork, exec, reap or exit costs on a CPU: one timeslice, well under a clock tick (10 ms). */
const SHORT_RUN_NS = 50_000;
const NS_PER_TICK = 10_000_000;
/** Chosen boot time and uptime at the model's start: any will do. */
const BOOT_TIME_SECONDS = 1_700_000_000;
const START_UPTIME_MS = 5_000_000;
/** wait4's system call number (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h). */
const WAIT4 = process.arch === "arm64" ? 260 : 61;

export class SimulatedKernel {
  /** The pid standing for init: orphans are reparented to it, and it reaps them at once. */
  static readonly INIT = 1;
  private readonly table = new Map<number, SimProcess>();
  /** Pids outside the model (init, the parents of roots): they reap their children at once. */
  private readonly outside = new Set<number>([SimulatedKernel.INIT]);
  /** Processes whose counters changed since the last sync (stat, status, schedstat, children). */
  private readonly changed = new Set<number>();
  /** Processes whose command line or environment changed since the last sync (created, exec, exit). */
  private readonly described = new Set<number>();
  private readonly written = new Set<number>();
  private lastPid: number;
  private uptimeMs = START_UPTIME_MS;

  /**
   * @param procRoot - an empty folder that becomes the /proc the collector reads.
   * @param firstPid - pids are handed out from here up, never reused.
   */
  constructor(
    readonly procRoot: string,
    firstPid = 1000,
  ) {
    this.lastPid = firstPid - 1;
    this.writeHostFiles();
  }

  /** Wall clock, ms: boot time plus uptime. */
  nowMs(): number {
    return BOOT_TIME_SECONDS * 1000 + this.uptimeMs;
  }

  advance(ms: number): void {
    this.uptimeMs += ms;
  }

  /** A process started by something outside the model (`parent`, which reaps it at once when it exits). */
  startProcess(init: { parent: number; comm: string; argv: string[]; environ: string[] }): number {
    this.outside.add(init.parent);
    return this.create(init.parent, init.comm, init.argv, init.environ);
  }

  /** `parent` forks: the child is its copy, at the end of its children list. */
  fork(parent: number): number {
    const p = this.live(parent);
    this.shortRun(p);
    p.state = "R";
    const child = this.create(p.pid, p.comm, p.argv, p.environ);
    p.children.push(child);
    return child;
  }

  exec(pid: number, argv: string[]): void {
    const p = this.live(pid);
    this.shortRun(p);
    p.state = "R";
    p.argv = argv;
    this.described.add(pid);
    p.comm = (argv[0] ?? "").split("/").pop()!.slice(0, 15);
  }

  /** Burns `ticks` clock ticks of CPU, a quarter of it in the kernel. */
  run(pid: number, ticks: number): void {
    const p = this.live(pid);
    const system = Math.floor(ticks / 4);
    p.utime += ticks - system;
    p.stime += system;
    p.runNs += ticks * NS_PER_TICK;
    p.slices++;
    p.state = "R";
    this.changed.add(pid);
  }

  /** Sleeps in wait4: nothing runs, nothing moves. */
  block(pid: number): void {
    this.live(pid).state = "S";
    this.changed.add(pid);
  }

  /**
   * The process exits. Returns its final own + children's ticks as its reaper gets them (wait4's
   * rusage) when an outside parent reaped it at once, else null (a zombie until its parent reaps it).
   */
  exit(pid: number): number | null {
    const p = this.live(pid);
    this.shortRun(p);
    p.state = "Z";
    this.described.add(pid);
    for (const child of p.children) {
      const c = this.table.get(child)!;
      c.ppid = SimulatedKernel.INIT;
      if (c.state === "Z") {
        c.orphanedAsZombie = true;
        this.remove(c, SimulatedKernel.INIT);
      } else {
        c.orphanedFrom = p.pid;
        this.changed.add(child);
      }
    }
    p.children = [];
    if (!this.outside.has(p.ppid)) return null;
    this.remove(p, p.ppid);
    return ownTicks(p) + childTicks(p);
  }

  /**
   * `parent` reaps its zombie child `child` (its first zombie child when omitted); returns the child. A
   * parent in wait4 reaps from there and stays in it.
   */
  reap(parent: number, child?: number): number | null {
    const p = this.live(parent);
    const zombie = child ?? p.children.find((pid) => this.table.get(pid)!.state === "Z");
    if (zombie === undefined || this.table.get(zombie)?.state !== "Z" || !p.children.includes(zombie))
      return null;
    this.shortRun(p);
    const z = this.table.get(zombie)!;
    p.cutime += z.utime + z.cutime;
    p.cstime += z.stime + z.cstime;
    p.holds.push(z.pid, ...z.holds);
    p.children = p.children.filter((pid) => pid !== zombie);
    this.remove(z, p.pid);
    return zombie;
  }

  /** Any process the model ever had, gone ones included (with their final values). */
  get(pid: number): SimProcess | undefined {
    return this.table.get(pid);
  }

  /** Whether /proc shows the process: alive or a zombie. */
  present(pid: number): boolean {
    const p = this.table.get(pid);
    return p !== undefined && p.reapedBy === null;
  }

  /** Every process the model ever had, by pid. */
  all(): SimProcess[] {
    return [...this.table.values()].sort((a, b) => a.pid - b.pid);
  }

  /** Live (not zombie) processes, by pid. */
  alive(): SimProcess[] {
    return this.all().filter((p) => p.reapedBy === null && p.state !== "Z");
  }

  /** Writes what changed since the last sync to the folder: /proc as it reads now. */
  sync(): void {
    this.writeHostFiles();
    for (const pid of this.changed) {
      const p = this.table.get(pid)!;
      if (p.reapedBy === null) this.writeProcess(p);
      else if (this.written.has(pid)) this.removeProcessFolder(pid);
    }
    this.changed.clear();
    this.described.clear();
  }

  // ——— internals ———

  private create(ppid: number, comm: string, argv: string[], environ: string[]): number {
    let pid = this.lastPid + 1;
    // The kernel never hands out a pid in use: this test's own is (discovery skips it).
    if (pid === process.pid) pid++;
    this.lastPid = pid;
    this.table.set(pid, {
      pid,
      ppid,
      comm,
      argv: [...argv],
      environ: [...environ],
      state: "R",
      utime: 0,
      stime: 0,
      cutime: 0,
      cstime: 0,
      startTicks: Math.floor(this.uptimeMs / 10),
      runNs: 0,
      slices: 0,
      children: [],
      holds: [],
      reapedBy: null,
      orphanedAsZombie: false,
      orphanedFrom: null,
    });
    this.changed.add(pid);
    this.described.add(pid);
    return pid;
  }

  private live(pid: number): SimProcess {
    const p = this.table.get(pid);
    if (!p || p.reapedBy !== null || p.state === "Z") throw new Error(`pid ${pid} is not a live process`);
    return p;
  }

  private shortRun(p: SimProcess): void {
    p.runNs += SHORT_RUN_NS;
    p.slices++;
    this.changed.add(p.pid);
  }

  private remove(p: SimProcess, reaper: number): void {
    p.reapedBy = reaper;
    this.changed.add(p.pid);
  }

  private writeHostFiles(): void {
    const live = [...this.table.values()].filter((p) => p.reapedBy === null);
    const running = live.filter((p) => p.state === "R").length;
    // fs/proc/loadavg.c: the last field is the last pid handed out (idr_get_cursor of the pid namespace).
    writeFileSync(
      join(this.procRoot, "loadavg"),
      `0.50 0.40 0.30 ${running}/${live.length} ${this.lastPid}\n`,
    );
    writeFileSync(
      join(this.procRoot, "stat"),
      `cpu  100 0 100 10000 0 0 0 0 0 0\nbtime ${BOOT_TIME_SECONDS}\nprocesses ${this.lastPid}\n`,
    );
    writeFileSync(join(this.procRoot, "uptime"), `${(this.uptimeMs / 1000).toFixed(2)} 100.00\n`);
  }

  private writeProcess(p: SimProcess): void {
    const dir = join(this.procRoot, String(p.pid));
    const task = join(dir, "task", String(p.pid));
    if (!this.written.has(p.pid)) {
      mkdirSync(task, { recursive: true });
      mkdirSync(join(dir, "fd"));
      writeFileSync(
        join(dir, "io"),
        "rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n",
      );
      this.written.add(p.pid);
    }
    const zombie = p.state === "Z";
    if (this.described.has(p.pid)) {
      // A zombie's memory is gone: its command line and environment read empty.
      writeFileSync(join(dir, "cmdline"), zombie ? "" : p.argv.map((arg) => `${arg}\0`).join(""));
      writeFileSync(join(dir, "environ"), zombie ? "" : p.environ.map((entry) => `${entry}\0`).join(""));
    }
    const stat = statLine(p);
    writeFileSync(join(dir, "stat"), stat);
    writeFileSync(join(task, "stat"), stat);
    const stateName = { R: "R (running)", S: "S (sleeping)", Z: "Z (zombie)" }[p.state];
    writeFileSync(
      join(dir, "status"),
      `Name:\t${p.comm}\nUmask:\t0022\nState:\t${stateName}\nTgid:\t${p.pid}\nNgid:\t0\nPid:\t${p.pid}\n` +
        `PPid:\t${p.ppid}\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n` +
        `Threads:\t1\n`,
    );
    writeFileSync(join(task, "schedstat"), `${p.runNs} 0 ${p.slices}\n`);
    // fs/proc/array.c children_seq_show: "%d " per child.
    writeFileSync(join(task, "children"), p.children.map((pid) => `${pid} `).join(""));
    writeFileSync(
      join(task, "syscall"),
      p.state === "S"
        ? `${WAIT4} 0xffffffffffffffff 0x7ffd0000 0x0 0x0 0x0 0x0 0x7ffd0000 0x7f000000\n`
        : "running\n",
    );
  }

  private removeProcessFolder(pid: number): void {
    const dir = join(this.procRoot, String(pid));
    const task = join(dir, "task", String(pid));
    for (const file of [
      join(dir, "stat"),
      join(dir, "cmdline"),
      join(dir, "environ"),
      join(dir, "status"),
      join(dir, "io"),
      join(task, "stat"),
      join(task, "schedstat"),
      join(task, "children"),
      join(task, "syscall"),
    ])
      writeFileSync(file, "");
    rmSync(dir, { recursive: true, force: true });
    this.written.delete(pid);
  }
}

/** /proc/PID/stat in fs/proc/array.c do_task_stat's order: 52 fields, comm in parentheses. */
function statLine(p: SimProcess): string {
  const zombie = p.state === "Z";
  const fields = [
    p.state,
    p.ppid,
    p.pid, // pgrp
    p.pid, // session
    0, // tty_nr
    -1, // tpgid
    0, // flags
    0, // minflt
    0, // cminflt
    0, // majflt
    0, // cmajflt
    p.utime,
    p.stime,
    p.cutime,
    p.cstime,
    20, // priority
    0, // nice
    1, // num_threads
    0, // itrealvalue
    p.startTicks,
    zombie ? 0 : 10_485_760, // vsize, chosen value (a zombie has no memory)
    zombie ? 0 : 640, // rss, pages, chosen value
    "18446744073709551615", // rsslim
    0, // startcode
    0, // endcode
    0, // startstack
    0, // kstkesp
    0, // kstkeip
    0, // signal
    0, // blocked
    0, // sigignore
    0, // sigcatch
    0, // wchan
    0, // nswap
    0, // cnswap
    17, // exit_signal (SIGCHLD)
    0, // processor
    0, // rt_priority
    0, // policy
    0, // delayacct_blkio_ticks
    0, // guest_time
    0, // cguest_time
    0, // start_data
    0, // end_data
    0, // start_brk
    0, // arg_start
    0, // arg_end
    0, // env_start
    0, // env_end
    0, // exit_code
  ];
  return `${p.pid} (${p.comm}) ${fields.join(" ")}\n`;
}
