"""The truth suite's task bodies (test-support/truth.ts): each SHAPE does a known amount of work in one
process-tree shape and writes the kernel's own figures for it, so the collector's stored numbers can be
checked against numbers it was never fed.

    workload.py SHAPE [ARGS...]        (run by Debian's /usr/bin/python3: setproctitle is installed there)

CPU amounts are CPU seconds (time.process_time), not wall seconds: a busy machine stretches a workload's
wall time, never its CPU. A task root ends with TAIL_SECONDS asleep after its last child was reaped, then
writes its report to $TRUTH_REPORT and leaves by os._exit: `collect` cannot read a root's last tick
(docs/collector.md "Limits": its counters leave with it when its parent reaps it), and the suite checks
the tree walk, not that documented limit.

The report (JSON): `self` is the root's own rusage, `children` sums os.wait4 of the root's direct children
per command name (what /proc/PID/comm and execution_processes.command show), `total` is the root's own
plus its reaped children's CPU (getrusage SELF + CHILDREN, the same figure a parent's wait4 gets), and
shapes add what only they know (`orphans`, `cpuAtGo`).
"""
import json
import os
import resource
import socket
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.abspath(__file__)
TAIL_SECONDS = 1.0
MiB = 1024 * 1024

children = {}


def burn(cpu_seconds):
    """Busy for this much CPU time of this process (all its threads: it has one)."""
    end = time.process_time() + cpu_seconds
    x = 0
    while time.process_time() < end:
        for i in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def burn_wall(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        for i in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def cpu_of(usage):
    return usage.ru_utime + usage.ru_stime


def note_child(command, usage):
    entry = children.setdefault(command, {"count": 0, "cpuSeconds": 0.0, "maxrssBytes": 0})
    entry["count"] += 1
    entry["cpuSeconds"] += cpu_of(usage)
    entry["maxrssBytes"] += usage.ru_maxrss * 1024


def reap(pid, command):
    _, status, usage = os.wait4(pid, 0)
    note_child(command, usage)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise SystemExit(f"{command} (pid {pid}) ended with status {status}")
    return usage


def spawn(argv, **options):
    """Starts argv (no shell) and returns its pid; the command name is the executable's base name."""
    return subprocess.Popen(argv, **options)


def run_child(argv):
    """Starts argv and reaps it with wait4, noting its rusage under its command name."""
    child = spawn(argv)
    reap(child.pid, os.path.basename(argv[0])[:15])
    child.returncode = 0


def touch(megabytes):
    block = bytearray(megabytes * MiB)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return block


def finish(extra=None):
    """The root's end: a quiet tail, then its report, then an exit with no interpreter teardown."""
    time.sleep(TAIL_SECONDS)
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "pid": os.getpid(),
        "self": {"cpuSeconds": cpu_of(own), "maxrssBytes": own.ru_maxrss * 1024},
        "children": children,
        "total": {"cpuSeconds": cpu_of(own) + cpu_of(reaped)},
    }
    report.update(extra or {})
    path = os.environ.get("TRUTH_REPORT")
    if path:
        with open(path + ".tmp", "w") as out:
            json.dump(report, out)
        os.rename(path + ".tmp", path)
    sys.stdout.flush()
    os._exit(0)


def me(*args):
    return [PYTHON, HERE, *args]


# --- leaves: one process each, no report ---------------------------------------------------------


def leaf_burn(cpu_seconds):
    burn(float(cpu_seconds))


def leaf_hold(megabytes):
    """Touches MEGABYTES, says so on stdout, and holds them until stdin closes."""
    block = touch(int(megabytes))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()
    del block


def leaf_run(*argv):
    """A waiting parent inside the task: subprocess.run of argv, then exit."""
    subprocess.run(list(argv), check=True)


def leaf_hold_for(megabytes, seconds, cpu_seconds="0"):
    block = touch(int(megabytes))
    burn(float(cpu_seconds))
    time.sleep(float(seconds))
    del block


# --- task roots: shapes the collector must follow ---------------------------------------------------


def shape_root(cpu_seconds="2"):
    burn(float(cpu_seconds))
    finish()


def shape_child(cpu_seconds="2"):
    run_child(me("leaf-burn", cpu_seconds))
    finish()


def timed(*argv):
    """/usr/bin/time around argv, its own account of argv (wait4: user, system, max RSS in KiB) kept."""
    out = os.environ["TRUTH_REPORT"] + ".time"
    return ["/usr/bin/time", "-f", "%U %S %M", "-o", out, *argv], out


def time_report(out):
    with open(out) as source:
        user, system, maxrss = source.read().split()
    return {"cpuSeconds": float(user) + float(system), "maxrssBytes": int(maxrss) * 1024}


def shape_grandchild_time(cpu_seconds="2"):
    # /usr/bin/time forks the burner and waits: the burner is the root's grandchild under a parent that
    # does not run again until the burner exits.
    argv, out = timed(*me("leaf-burn", cpu_seconds))
    run_child(argv)
    finish({"timed": time_report(out)})


def shape_memory_grandchild(megabytes="300", hold_seconds="2", cpu_seconds="2"):
    # The memory of a grandchild under a waiting /usr/bin/time, held for a few ticks while it computes
    # (enough CPU for the task's total to be checked at 2 % too).
    argv, out = timed(*me("leaf-hold-for", megabytes, hold_seconds, cpu_seconds))
    run_child(argv)
    finish({"timed": time_report(out)})


def shape_grandchild_run(cpu_seconds="2"):
    # A Python parent in subprocess.run waiting on the burner, itself started by the root.
    run_child(me("leaf-run", *me("leaf-burn", cpu_seconds)))
    finish()


def shape_pipeline(cpu_seconds="1.5"):
    # sh -c 'a | b': the shell forks both sides of the pipe and waits for them.
    burner = " ".join(me("leaf-burn", cpu_seconds))
    run_child(["/bin/sh", "-c", f"{burner} | {burner} > /dev/null"])
    finish()


def pool_work(cpu_seconds):
    return burn(cpu_seconds)


def shape_pool(tasks="4", cpu_seconds="0.75"):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        pool.map(pool_work, [float(cpu_seconds)] * int(tasks), chunksize=1)
        pool.close()
        pool.join()
    finish()


def shape_fork(workers="2", cpu_seconds="1"):
    pids = []
    for _ in range(int(workers)):
        pid = os.fork()
        if pid == 0:
            burn(float(cpu_seconds))
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        reap(pid, "python3")
    finish()


def shape_bursts(short="300", long="30"):
    # $TRUTH_BIN/burst5 and burst60 are copies of awk (their command names are their file names). Measured
    # with os.wait4 on the 2-core test machine: awk's start-up alone is about 5 ms of CPU, and 1.8 million
    # additions bring a run to about 60 ms.
    bin_dir = os.environ["TRUTH_BIN"]
    for _ in range(int(short)):
        run_child([os.path.join(bin_dir, "burst5"), "BEGIN { s = 1 }"])
    for _ in range(int(long)):
        run_child([os.path.join(bin_dir, "burst60"), "BEGIN { for (i = 0; i < 1800000; i++) s += i }"])
    finish()


def shape_double_fork(cpu_seconds="2.5", parent_seconds="1.5"):
    # The root forks C; C forks G and exits without waiting for it, PARENT_SECONDS later; G is
    # reparented (to the nearest subreaper: the launcher outside the task, or init) and keeps burning.
    # The root waits for G's end through a pipe, so G ends while the task's root lives.
    orphan_report = os.environ["TRUTH_REPORT"] + ".orphan"
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        grandchild = os.fork()
        if grandchild == 0:
            burn(float(cpu_seconds))
            own = resource.getrusage(resource.RUSAGE_SELF)
            with open(orphan_report, "w") as out:
                json.dump({"pid": os.getpid(), "cpuSeconds": cpu_of(own)}, out)
            os._exit(0)
        os.close(write_end)
        time.sleep(float(parent_seconds))
        os._exit(0)
    os.close(write_end)
    reap(middle, "python3")
    while os.read(read_end, 1):
        pass
    with open(orphan_report) as source:
        orphan = json.load(source)
    finish({"orphans": [orphan]})


def shape_late(fifo, cpu_seconds="2"):
    # Started before the collector: blocked opening the FIFO (no CPU) until the test writes to it.
    with open(fifo) as source:
        source.read()
    at_go = cpu_of(resource.getrusage(resource.RUSAGE_SELF))
    burn(float(cpu_seconds))
    finish({"cpuAtGo": at_go})


# The memory shapes also burn HOLD_BURN_SECONDS of CPU while they hold their memory: the task-CPU check
# (±2 %) then weighs more than the 15-25 ms a task's CPU on this machine can differ from its wait4 at any
# size (seen on every shape, -0.6 % of a 3-s one), which alone is 4-6 % of a 0.4-s memory shape.
HOLD_BURN_SECONDS = 2.0


def shape_memory(megabytes="700", hold_seconds="2"):
    block = touch(int(megabytes))
    burn(HOLD_BURN_SECONDS)
    time.sleep(float(hold_seconds))
    del block
    finish()


def shape_memory_three(megabytes="200", hold_seconds="2", processes="3"):
    holders = [
        spawn(me("leaf-hold", megabytes), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(int(processes))
    ]
    for holder in holders:
        if holder.stdout.readline() != b"ready\n":
            raise SystemExit("a holder failed")
    # All of them hold their memory at once now, for a few ticks.
    burn(HOLD_BURN_SECONDS)
    time.sleep(float(hold_seconds))
    for holder in holders:
        holder.stdin.close()
    for holder in holders:
        reap(holder.pid, "python3")
        holder.returncode = 0
    finish()


def shape_airflow_fork(dag, task, run, job, cpu_seconds="2"):
    # Airflow 2 fork mode (airflow/task/task_runner/standard_task_runner.py `_start_by_fork`): the
    # supervisor is titled with its command, the forked runner `airflow task runner: DAG TASK RUN JOB`.
    import setproctitle

    command = ["airflow", "tasks", "run", dag, task, run, "--local", "--subdir", "DAGS_FOLDER/truth.py"]
    setproctitle.setproctitle(f"airflow task supervisor: {command}")
    pid = os.fork()
    if pid == 0:
        setproctitle.setproctitle(f"airflow task runner: {dag} {task} {run} {job}")
        burn(float(cpu_seconds))
        os._exit(0)
    reap(pid, "python3")
    finish()


# --- class workloads: the analysis is checked; each writes the kernel's queueing of its threads ---------


def report_schedstat():
    """/proc/self/schedstat summed over this process's threads: ns on a CPU, ns runnable but waiting."""
    run_ns = delay_ns = 0
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/schedstat") as source:
            fields = source.read().split()
        run_ns += int(fields[0])
        delay_ns += int(fields[1])
    path = os.environ.get("TRUTH_REPORT")
    if path:
        path = f"{path}.{os.getpid()}"
        with open(path + ".tmp", "w") as out:
            json.dump({"pid": os.getpid(), "runNs": run_ns, "delayNs": delay_ns}, out)
        os.rename(path + ".tmp", path)


def class_contend(seconds="5"):
    # Run under `taskset -c 0`: the root and its fork share one core, each waiting for it half the time.
    pid = os.fork()
    burn_wall(float(seconds))
    report_schedstat()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def class_dsync(folder, seconds="5"):
    path = os.path.join(folder, f"dsync-{os.getpid()}.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DSYNC, 0o600)
    block = b"x" * (64 * 1024)
    end = time.time() + float(seconds)
    try:
        while time.time() < end:
            os.write(fd, block)
    finally:
        os.close(fd)
        os.unlink(path)
    report_schedstat()


def class_socket(port, seconds="5"):
    # Each request is answered by the test's server after a delay: the thread sits in recv.
    end = time.time() + float(seconds)
    with socket.create_connection(("127.0.0.1", int(port))) as connection:
        while time.time() < end:
            connection.sendall(b"?")
            if not connection.recv(16):
                break
    report_schedstat()


def class_sleep(seconds="5"):
    time.sleep(float(seconds))
    report_schedstat()


def class_hold(megabytes="300", seconds="5"):
    block = touch(int(megabytes))
    time.sleep(float(seconds))
    del block
    report_schedstat()


def class_startup(cpu_seconds="0.5", seconds="5"):
    burn(float(cpu_seconds))
    time.sleep(float(seconds))
    report_schedstat()


def class_burn(seconds="5"):
    burn_wall(float(seconds))
    report_schedstat()


ENTRIES = {
    "leaf-burn": leaf_burn,
    "leaf-hold": leaf_hold,
    "leaf-run": leaf_run,
    "leaf-hold-for": leaf_hold_for,
    "memory-grandchild": shape_memory_grandchild,
    "root": shape_root,
    "child": shape_child,
    "grandchild-time": shape_grandchild_time,
    "grandchild-run": shape_grandchild_run,
    "pipeline": shape_pipeline,
    "pool": shape_pool,
    "fork": shape_fork,
    "bursts": shape_bursts,
    "double-fork": shape_double_fork,
    "late": shape_late,
    "memory": shape_memory,
    "memory-three": shape_memory_three,
    "airflow-fork": shape_airflow_fork,
    "class-burn": class_burn,
    "class-contend": class_contend,
    "class-dsync": class_dsync,
    "class-socket": class_socket,
    "class-sleep": class_sleep,
    "class-hold": class_hold,
    "class-startup": class_startup,
}


def main(argv):
    ENTRIES[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
