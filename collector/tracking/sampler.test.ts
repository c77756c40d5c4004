/**
 * The sampler's tree arithmetic over a fixture /proc in a temp folder, with its own clock: CPU stays
 * continuous when children exit and are reaped, a root's time is kept when it leaves, a child seen only
 * by a poll is counted and listed, and a thread blocked on a socket is network wait with its endpoint.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/logger.js";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { NewSample } from "../../db/queries/samples.js";
import type { AcctRecord } from "../procfs/acct-format.js";
import type { ExitSource } from "../procfs/process-accounting.js";
import { Sampler } from "./sampler.js";

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Proc {
  comm: string;
  ppid: number;
  state?: string;
  utime: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  start: number;
  rssPages?: number;
  readBytes?: number;
  writeBytes?: number;
  runNs?: number;
  delayNs?: number;
  slices?: number;
  children?: number[];
  syscall?: string;
  environ?: string;
  /** Thread-group id: differs from the pid for a thread. */
  tgid?: number;
  /** Command line; default `COMM --flag`. */
  cmdline?: string[];
}

function fixture() {
  const proc = mkdtempSync(join(tmpdir(), "rightsize-proc-"));
  folders.push(proc);
  writeFileSync(join(proc, "stat"), "cpu  1 0 1 100 0 0 0 0 0 0\nbtime 1700000000\nprocesses 10\n");
  writeFileSync(join(proc, "loadavg"), "0.50 0.40 0.30 1/100 5000\n");
  mkdirSync(join(proc, "net"));
  let writes = 0;
  const write = (pid: number, p: Proc) => {
    const dir = join(proc, String(pid));
    mkdirSync(join(dir, "task", String(pid)), { recursive: true });
    mkdirSync(join(dir, "fd"), { recursive: true });
    mkdirSync(join(dir, "net"), { recursive: true });
    // Fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    // cutime cstime priority nice threads itreal starttime vsize rss
    const stat = `${pid} (${p.comm}) ${p.state ?? "S"} ${p.ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 ${p.utime} ${p.stime ?? 0} ${p.cutime ?? 0} ${p.cstime ?? 0} 20 0 1 0 ${p.start} 1000000 ${p.rssPages ?? 100}\n`;
    writeFileSync(join(dir, "stat"), stat);
    writeFileSync(join(dir, "cmdline"), (p.cmdline ?? [p.comm, "--flag"]).map((arg) => `${arg}\0`).join(""));
    writeFileSync(join(dir, "environ"), p.environ ?? "PATH=/bin\0");
    writeFileSync(
      join(dir, "status"),
      `Name:\t${p.comm}\nTgid:\t${p.tgid ?? pid}\nPid:\t${pid}\nPPid:\t${p.ppid}\n`,
    );
    writeFileSync(join(dir, "io"), `read_bytes: ${p.readBytes ?? 0}\nwrite_bytes: ${p.writeBytes ?? 0}\n`);
    // Rewriting a process stands for it having run: without explicit values, every write is a new slice.
    writes++;
    writeFileSync(
      join(dir, "task", String(pid), "schedstat"),
      `${p.runNs ?? (p.utime + (p.stime ?? 0)) * 10_000_000} ${p.delayNs ?? 0} ${p.slices ?? writes}\n`,
    );
    writeFileSync(
      join(dir, "task", String(pid), "children"),
      (p.children ?? []).map((c) => `${c} `).join(""),
    );
    writeFileSync(
      join(dir, "task", String(pid), "syscall"),
      p.syscall ?? "35 0x0 0x0 0x0 0x0 0x0 0x0 0x7ffe 0x7fd4\n",
    );
  };
  /** An exited and reaped process: its files read empty (kept fds see the truncation). */
  const exit = (pid: number) => {
    for (const file of ["stat", "io", `task/${pid}/schedstat`, `task/${pid}/children`])
      writeFileSync(join(proc, String(pid), file), "");
  };
  return { proc, write, exit };
}

function collectingSink() {
  const sink = {
    executionRows: [] as NewExecution[],
    sampleRows: [] as NewSample[],
    processRows: [] as NewProcess[],
    execution(row: NewExecution) {
      sink.executionRows.push(row);
    },
    samples(rows: NewSample[]) {
      sink.sampleRows.push(...rows);
    },
    processes(rows: NewProcess[]) {
      sink.processRows.push(...rows);
    },
  };
  return sink;
}

function makeSampler(proc: string, exits?: ExitSource) {
  let now = 1_000_000;
  const sink = collectingSink();
  const sampler = new Sampler({
    exits,
    procRoot: proc,
    cgroupRoot: join(proc, "no-cgroup-fs"),
    hostId: "h",
    sink,
    logger: silentLogger,
    redact: (argv) => argv.map((arg) => (arg === "--flag" ? "--REDACTED" : arg)),
    intervalMs: 1000,
    pageSize: 4096,
    now: () => now,
  });
  return { sampler, sink, advance: (ms: number) => (now += ms), at: () => now };
}

/** An accounting record of a process that started at 1_700_000_008 (start ticks 800 of the fixture's boot). */
const acctRecord = (pid: number, ppid: number, comm: string, cpuTicks: number): AcctRecord => ({
  flag: 0,
  exitCode: 0,
  uid: 0,
  pid,
  ppid,
  beginSeconds: 1_700_000_008,
  elapsedSeconds: 3,
  cpuTicks,
  averageMemoryKib: 0,
  comm,
});

/** Exit records as a test writes them: each read takes what was written since. */
function recordedExits(): { source: ExitSource; written: AcctRecord[] } {
  const written: AcctRecord[] = [];
  return { written, source: { method: "acct", readNew: () => written.splice(0), close: () => {} } };
}

const attribution = {
  orchestrator: "generic",
  pipeline: "p",
  task: "t",
  runId: "r",
  tryNumber: null,
  mapIndex: null,
  source: "wrapper",
};

describe("Sampler over a fixture /proc", () => {
  it("keeps CPU continuous when a child exits and is reaped, and keeps the root's time when it leaves", () => {
    const { proc, write, exit } = fixture();
    write(100, { comm: "sh", ppid: 1, utime: 0, start: 500, children: [101] });
    write(101, { comm: "gzip", ppid: 100, utime: 0, start: 501 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    const id = sampler.track({ pid: 100, attribution, startedAtMs: at() });

    advance(1000);
    write(100, { comm: "sh", ppid: 1, utime: 10, start: 500, children: [101], writeBytes: 1000 });
    write(101, { comm: "gzip", ppid: 100, utime: 90, start: 501, writeBytes: 4000 });
    sampler.tick();
    // The first tick also adopts 101; its 0.9 s happened in this tick.
    expect(sink.sampleRows.at(-1)).toMatchObject({
      executionId: id,
      cpuCores: 1,
      processesAlive: 2,
      diskWriteBytes: 5000,
    });

    advance(1000);
    // gzip used 0.5 s more, exited, and sh reaped it: its 1.4 s and I/O are now in sh's cutime and io.
    exit(101);
    write(100, { comm: "sh", ppid: 1, utime: 20, cutime: 140, start: 500, writeBytes: 1000 + 4000 + 2000 });
    sampler.tick();
    const second = sink.sampleRows.at(-1)!;
    expect(second.cpuCores).toBeCloseTo(0.6, 6);
    expect(second.cpuSecondsTotal).toBeCloseTo(1.6, 6);
    expect(second.diskWriteBytes).toBe(2000);
    expect(second.processesAlive).toBe(1);

    advance(1000);
    // The root itself exits: its parent is outside the tree, so its last-seen totals are kept.
    exit(100);
    sampler.tick();
    expect(sink.sampleRows.at(-1)).toMatchObject({
      cpuCores: 0,
      cpuSecondsTotal: 1.6,
      processesAlive: 0,
      diskWriteBytes: 0,
    });
    expect(sampler.rootAlive(id)).toBe(false);
    sampler.end(id, { exitCode: 0, status: "succeeded" });
    expect(sink.executionRows.at(-1)).toMatchObject({
      id,
      status: "succeeded",
      exitCode: 0,
      runId: "r",
      tryNumber: 1,
      mapIndex: -1,
    });
    const gzip = sink.processRows.filter((row) => row.pid === 101).at(-1)!;
    expect(gzip).toMatchObject({ command: "gzip", argv: "gzip --REDACTED", exited: true, cpuSeconds: 0.9 });
    sampler.close();
  });

  it("reads a fork's argv again once it execs a program of the same name", () => {
    const { proc, write } = fixture();
    write(300, {
      comm: "python3",
      ppid: 1,
      utime: 0,
      start: 700,
      cmdline: ["python3", "dag.py"],
      children: [301],
    });
    // Forked, not exec'd yet: the child's argv is its parent's.
    write(301, { comm: "python3", ppid: 300, utime: 0, start: 720, cmdline: ["python3", "dag.py"] });
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.track({ pid: 300, attribution, startedAtMs: at() });
    sampler.tick();
    advance(500);
    write(301, { comm: "python3", ppid: 300, utime: 5, start: 720, cmdline: ["python3", "-m", "job"] });
    sampler.tick();
    expect(sink.processRows.filter((row) => row.pid === 301).at(-1)).toMatchObject({
      argv: "python3 -m job",
    });
    sampler.close();
  });

  it("keeps a thread's last wait for a tick that catches it on a CPU", () => {
    const { proc, write } = fixture();
    // Blocked on the disk at the first look, then caught running after 0.4 s on a CPU in a 1-s tick.
    write(500, { comm: "writer", ppid: 1, state: "D", utime: 0, start: 700, runNs: 0, slices: 1 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.track({ pid: 500, attribution, startedAtMs: at() });
    sampler.tick();
    advance(1000);
    write(500, { comm: "writer", ppid: 1, state: "R", utime: 40, start: 700, runNs: 400_000_000, slices: 2 });
    sampler.tick();
    const sample = sink.sampleRows.at(-1)!;
    expect(sample.onCpuSeconds).toBeCloseTo(0.4, 6);
    expect(sample.diskWaitSeconds).toBeCloseTo(0.6, 6);
    expect(sample.idleSeconds ?? 0).toBeCloseTo(0, 6);
    sampler.close();
  });

  it("settles a run root's final CPU that the polls missed", () => {
    const { proc, write, exit } = fixture();
    write(400, { comm: "work", ppid: 1, utime: 10, cutime: 30, start: 700 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    const id = sampler.track({ pid: 400, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    // It ran 0.6 s more after the last look and was reaped: its parent saw 1.0 s in all.
    exit(400);
    sampler.settleRoot(id, 1.0);
    advance(200);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.0, 6);
    sampler.close();
  });

  it("counts and lists a child that only a poll saw", () => {
    const { proc, write, exit } = fixture();
    write(200, { comm: "make", ppid: 1, utime: 0, start: 700 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    const id = sampler.track({ pid: 200, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(300);
    write(200, { comm: "make", ppid: 1, utime: 0, start: 700, children: [201] });
    write(201, { comm: "cc1", ppid: 200, utime: 3, start: 720 });
    writeFileSync(join(proc, "loadavg"), "0.50 0.40 0.30 1/100 5001\n");
    sampler.poll();
    advance(300);
    exit(201);
    write(200, { comm: "make", ppid: 1, utime: 0, cutime: 4, start: 700 });
    advance(400);
    sampler.tick();
    const sample = sink.sampleRows.filter((row) => row.executionId === id).at(-1)!;
    expect(sample.processesStarted).toBe(1);
    expect(sample.cpuSecondsTotal).toBeCloseTo(0.04, 6);
    expect(sink.processRows.filter((row) => row.command === "cc1").at(-1)).toMatchObject({
      pid: 201,
      exited: true,
    });
    sampler.close();
  });

  it("charges a thread blocked reading a TCP socket to network wait and records the endpoint", () => {
    const { proc, write } = fixture();
    const { sampler, sink, advance, at } = makeSampler(proc);
    // recvfrom (45 on x86-64, 207 on arm64) on fd 3, a socket whose inode is in the process's net/tcp.
    const recvfrom = process.arch === "arm64" ? 207 : 45;
    write(300, {
      comm: "python3",
      ppid: 1,
      utime: 0,
      start: 900,
      runNs: 0,
      slices: 1,
      syscall: `${recvfrom} 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffe 0x7fd4\n`,
    });
    symlinkSync("socket:[777]", join(proc, "300", "fd", "3"));
    writeFileSync(
      join(proc, "300", "net", "tcp"),
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:9C40 0A00000A:1538 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0 20 4 30 10 -1\n",
    );
    const id = sampler.track({ pid: 300, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(1000);
    // 50 ms on a CPU in this tick, the rest blocked in recvfrom.
    write(300, {
      comm: "python3",
      ppid: 1,
      utime: 5,
      start: 900,
      runNs: 50_000_000,
      slices: 2,
      syscall: `${recvfrom} 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffe 0x7fd4\n`,
    });
    sampler.tick();
    const sample = sink.sampleRows.filter((row) => row.executionId === id).at(-1)!;
    expect(sample.onCpuSeconds).toBeCloseTo(0.05, 6);
    expect(sample.netWaitSeconds).toBeCloseTo(0.95, 6);
    expect(sample.idleSeconds).toBe(0);
    sampler.end(id, { exitCode: 0, status: "succeeded" });
    expect(sink.executionRows.at(-1)?.endpoints?.[0]?.endpoint).toBe("10.0.0.10:5432");
    sampler.close();
  });

  it("discovers an attributed root host-wide, adopts its tree, and ends it when the root is gone", () => {
    const { proc, write, exit } = fixture();
    write(400, {
      comm: "bash",
      ppid: 1,
      utime: 0,
      start: 1000,
      children: [401],
      environ:
        "PATH=/bin\0RIGHTSIZE_PIPELINE=nightly\0RIGHTSIZE_TASK=export\0RIGHTSIZE_RUN=r9\0AWS_SECRET_ACCESS_KEY=x\0",
    });
    // Its child inherits the same env: it must join the tree, not start an execution of its own.
    write(401, {
      comm: "gzip",
      ppid: 400,
      utime: 0,
      start: 1001,
      environ: "RIGHTSIZE_PIPELINE=nightly\0RIGHTSIZE_TASK=export\0",
    });
    write(402, { comm: "sleep", ppid: 1, utime: 0, start: 1002 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.discover();
    sampler.tick();
    expect(sink.executionRows).toHaveLength(1);
    expect(sink.executionRows[0]).toMatchObject({
      orchestrator: "generic",
      pipeline: "nightly",
      task: "export",
      runId: "r9",
      attribution: "env",
      rootPid: 400,
    });
    // Started at boot time + start ticks / 100.
    expect(sink.executionRows[0]!.startedAt).toEqual(new Date((1700000000 + 10) * 1000));
    advance(1000);
    sampler.discover();
    sampler.tick();
    expect(sink.executionRows).toHaveLength(1);
    expect(new Set(sink.processRows.map((row) => row.pid))).toEqual(new Set([400, 401]));
    const lastSeen = at();
    advance(1000);
    exit(401);
    exit(400);
    sampler.discover();
    sampler.tick();
    sampler.endFinished();
    expect(sink.executionRows.at(-1)).toMatchObject({
      status: "ended",
      exitCode: null,
      endedAt: new Date(lastSeen),
    });
    expect(sampler.openExecutions()).toEqual([]);
    sampler.close();
  });

  it("joins an orphan with the task's attribution to its execution, and not another copy of the task", () => {
    const { proc, write } = fixture();
    const environ = "RIGHTSIZE_PIPELINE=nightly\0RIGHTSIZE_TASK=export\0RIGHTSIZE_RUN=r9\0";
    write(500, { comm: "launcher", ppid: 1, utime: 0, start: 900, children: [501] });
    write(501, { comm: "bash", ppid: 500, utime: 0, start: 1000, environ });
    const { sampler, sink, advance } = makeSampler(proc);
    sampler.discover();
    sampler.tick();
    // A double fork's grandchild went to init; the same task started again elsewhere, by hand.
    write(5010, { comm: "daemon", ppid: 1, utime: 0, start: 1010, environ });
    write(5020, { comm: "shell", ppid: 1, utime: 0, start: 1020, children: [5021] });
    write(5021, { comm: "bash", ppid: 5020, utime: 0, start: 1021, environ });
    writeFileSync(join(proc, "loadavg"), "0.50 0.40 0.30 1/100 5021\n");
    advance(1000);
    sampler.discover();
    sampler.tick();
    const roots = new Map(sink.executionRows.map((row) => [row.id, row.rootPid]));
    expect([...roots.values()].sort()).toEqual([501, 5021]);
    const executionOf = (pid: number) =>
      roots.get(sink.processRows.find((row) => row.pid === pid)!.executionId);
    expect(executionOf(5010)).toBe(501);
    expect(executionOf(5021)).toBe(5021);
    sampler.close();
  });

  it("finds new processes by probing the pids handed out since the last tick, and skips threads", () => {
    const { proc, write } = fixture();
    const { sampler, sink, advance } = makeSampler(proc);
    sampler.discover(); // first look: lists /proc (last pid 5000)
    const env = "RIGHTSIZE_PIPELINE=p\0RIGHTSIZE_TASK=probed\0";
    write(5001, { comm: "job", ppid: 1, utime: 0, start: 2000, environ: env });
    // A thread of some process: same pid space, same environment, but not a process of its own.
    write(5002, {
      comm: "job",
      ppid: 1,
      utime: 0,
      start: 2001,
      environ: "RIGHTSIZE_PIPELINE=p\0RIGHTSIZE_TASK=thread\0",
      tgid: 4000,
    });
    writeFileSync(join(proc, "loadavg"), "0.50 0.40 0.30 1/100 5002\n");
    advance(1000);
    sampler.discover();
    expect(sink.executionRows.map((row) => row.task)).toEqual(["probed"]);
    sampler.close();
  });
  it("reads a quiet member's children: a child can appear without its parent running", () => {
    const { proc, write } = fixture();
    // Same schedstat at every look: the parent never runs again (a subreaper gaining an orphan, or a
    // child's clone(CLONE_PARENT) giving it a sibling of the caller).
    const quiet = { comm: "time", ppid: 600, utime: 1, start: 801, runNs: 10_000_000, slices: 3 };
    write(600, { comm: "python3", ppid: 1, utime: 5, start: 800, children: [601] });
    write(601, quiet);
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.track({ pid: 600, attribution, startedAtMs: at() });
    for (let tick = 0; tick < 2; tick++) {
      advance(1000);
      sampler.tick();
    }
    write(601, { ...quiet, children: [602] });
    write(602, { comm: "stress-ng", ppid: 601, utime: 0, start: 900 });
    advance(1000);
    sampler.tick();
    write(602, { comm: "stress-ng", ppid: 601, utime: 100, start: 900 });
    advance(1000);
    sampler.tick();
    expect(sink.processRows.some((row) => row.pid === 602)).toBe(true);
    expect(sink.sampleRows.at(-1)).toMatchObject({ processesAlive: 3, cpuCores: 1 });
    sampler.close();
  });

  it("counts a grandchild once when it and its waiting parent exit in the same tick", () => {
    const { proc, write, exit } = fixture();
    const wait4 = "61 0xffffffff 0x7ffe 0x0 0x0 0x0 0x0 0x7ffe 0x7fd4\n";
    write(700, { comm: "python3", ppid: 1, utime: 10, start: 800, children: [701] });
    write(701, { comm: "time", ppid: 700, utime: 1, start: 801, children: [702], syscall: wait4 });
    write(702, { comm: "stress-ng", ppid: 701, state: "R", utime: 50, start: 802 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.track({ pid: 700, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(0.61, 6);
    // stress-ng ran 0.3 s more and exited; time reaped it (cutime 0.8 s) and exited; python3 reaped time.
    exit(702);
    exit(701);
    write(700, { comm: "python3", ppid: 1, utime: 10, cutime: 81, start: 800 });
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(0.91, 6);
    sampler.close();
  });

  it("carries an orphan's last reading when its parent left first without waiting for it", () => {
    const { proc, write, exit } = fixture();
    write(710, { comm: "python3", ppid: 1, utime: 10, start: 800, children: [711] });
    write(711, { comm: "sh", ppid: 710, utime: 1, start: 801, children: [712] });
    write(712, { comm: "daemon", ppid: 711, state: "R", utime: 50, start: 802 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    sampler.track({ pid: 710, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(1000);
    sampler.tick();
    // sh exited at once (python3 reaped its 0.01 s); the orphan was reparented to init and reaped there.
    exit(712);
    exit(711);
    write(710, { comm: "python3", ppid: 1, utime: 10, cutime: 1, start: 800 });
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(0.61, 6);
    sampler.close();
  });

  it("settles a discovered root that exits between ticks from its parent's reaped-children times", () => {
    const { proc, write, exit } = fixture();
    const env = "RIGHTSIZE_PIPELINE=p\0RIGHTSIZE_TASK=timed\0";
    // `time` (outside the task) waits for the root, the task.
    write(800, { comm: "time", ppid: 1, utime: 0, start: 900, children: [801] });
    write(801, { comm: "burn", ppid: 800, state: "R", utime: 0, start: 901, environ: env });
    const { sampler, sink, advance } = makeSampler(proc);
    sampler.discover();
    sampler.tick();
    advance(1000);
    write(801, { comm: "burn", ppid: 800, state: "R", utime: 100, start: 901, environ: env });
    sampler.discover();
    sampler.tick();
    // It ran 0.7 s more, exited, and `time` reaped it: 1.7 s in all.
    exit(801);
    write(800, { comm: "time", ppid: 1, utime: 0, cutime: 170, start: 900 });
    advance(1000);
    sampler.discover();
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.7, 6);
    expect(sink.processRows.filter((row) => row.pid === 801).at(-1)).toMatchObject({ exited: true });
    sampler.close();
  });
  it("does not count again a child the root's last poll already held in its cutime", () => {
    const { proc, write, exit } = fixture();
    write(900, { comm: "python3", ppid: 1, utime: 3, start: 800, children: [901] });
    write(901, { comm: "time", ppid: 900, utime: 0, start: 801, children: [902] });
    write(902, { comm: "burner", ppid: 901, state: "R", utime: 100, start: 802 });
    const { sampler, sink, advance, at } = makeSampler(proc);
    const id = sampler.track({ pid: 900, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.03, 6);
    // The burner ran 0.5 s more; time reaped it, python3 reaped time, and a poll read python3 then.
    exit(902);
    exit(901);
    advance(300);
    write(900, { comm: "python3", ppid: 1, utime: 3, cutime: 150, start: 800 });
    sampler.poll();
    exit(900);
    sampler.settleRoot(id, 1.53);
    advance(200);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.53, 6);
    sampler.close();
  });

  it("gives a chain's last moments to whom the accounting records name, when they exit after the tick's first read", () => {
    const { proc, write, exit } = fixture();
    write(920, { comm: "python3", ppid: 1, utime: 3, start: 800, children: [921] });
    write(921, { comm: "time", ppid: 920, utime: 0, start: 801, children: [922] });
    write(922, { comm: "burner", ppid: 921, state: "R", utime: 100, start: 802 });
    // The chain exits just after a tick read the accounting file: its records come on the next read.
    const written: AcctRecord[] = [];
    let exitAfterRead = false;
    const exits: ExitSource = {
      method: "acct",
      readNew: () => {
        const records = written.splice(0);
        if (exitAfterRead) {
          exitAfterRead = false;
          for (const pid of [922, 921, 920]) exit(pid);
          written.push(
            acctRecord(922, 921, "burner", 150),
            acctRecord(921, 920, "time", 0),
            acctRecord(920, 1, "python3", 3),
          );
        }
        return records;
      },
      close: () => {},
    };
    const { sampler, sink, advance, at } = makeSampler(proc, exits);
    const id = sampler.track({ pid: 920, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.03, 6);
    // The burner ran 0.5 s more; the chain left; the wrapper's wait4 says 1.53 s in all.
    exitAfterRead = true;
    advance(1000);
    sampler.tick();
    sampler.settleRoot(id, 1.53);
    advance(200);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.53, 6);
    const cpuOf = (pid: number) => sink.processRows.filter((row) => row.pid === pid).at(-1)?.cpuSeconds;
    expect(cpuOf(922)).toBeCloseTo(1.5, 6);
    expect(cpuOf(920)).toBeCloseTo(0.03, 6);
    sampler.close();
  });

  it("lists a child once when its record is read while it is still exiting in its parent's children list", () => {
    const { proc, write, exit } = fixture();
    write(940, { comm: "bash", ppid: 1, utime: 1, start: 790 });
    const { source, written } = recordedExits();
    const { sampler, sink, advance, at } = makeSampler(proc, source);
    sampler.track({ pid: 940, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    // gzip started 8.3 s after boot and is in do_exit: its record is written (its start truncated to the
    // second), and it still runs in bash's children list, not yet a zombie.
    write(940, { comm: "bash", ppid: 1, utime: 1, start: 790, children: [941] });
    write(941, { comm: "gzip", ppid: 940, state: "R", utime: 2, start: 830 });
    written.push(acctRecord(941, 940, "gzip", 2));
    advance(1000);
    sampler.tick();
    exit(941);
    write(940, { comm: "bash", ppid: 1, utime: 1, cutime: 2, start: 790 });
    advance(1000);
    sampler.tick();
    const gzip = sink.processRows.filter((row) => row.pid === 941);
    expect(new Set(gzip.map((row) => row.startTicks))).toEqual(new Set([800]));
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(0.03, 6);
    sampler.close();
  });

  it("gives the last moments of children a live parent reaped to those that were using CPU", () => {
    const { proc, write, exit } = fixture();
    write(930, { comm: "bash", ppid: 1, utime: 1, start: 800, children: [931, 932] });
    write(931, { comm: "burner", ppid: 930, state: "R", utime: 50, start: 801 });
    write(932, { comm: "cat", ppid: 930, utime: 0, start: 802 });
    const { source, written } = recordedExits();
    const { sampler, sink, advance, at } = makeSampler(proc, source);
    sampler.track({ pid: 930, attribution, startedAtMs: at() });
    advance(1000);
    sampler.tick();
    write(931, { comm: "burner", ppid: 930, state: "R", utime: 100, start: 801 });
    advance(1000);
    sampler.tick();
    // The burner ran 0.5 s more and exited, and cat with it; bash reaped both (1.5 s + 0). The burner's
    // record is short (sampled by the scheduler tick on a busy host), cat's says a tick.
    exit(931);
    exit(932);
    write(930, { comm: "bash", ppid: 1, utime: 1, cutime: 150, start: 800 });
    written.push(acctRecord(931, 930, "burner", 140), acctRecord(932, 930, "cat", 1));
    advance(1000);
    sampler.tick();
    expect(sink.sampleRows.at(-1)!.cpuSecondsTotal).toBeCloseTo(1.51, 6);
    const cpuOf = (pid: number) => sink.processRows.filter((row) => row.pid === pid).at(-1)?.cpuSeconds ?? 0;
    expect(cpuOf(931)).toBeGreaterThan(1.45);
    expect(cpuOf(931) + cpuOf(932) + cpuOf(930)).toBeCloseTo(1.51, 6);
    sampler.close();
  });
});
