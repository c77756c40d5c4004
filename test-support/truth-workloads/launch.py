"""Starts a task from outside it and keeps the kernel's account of it (test-support/truth.ts).

    launch.py SPEC_FILE     SPEC: {"argv": [...], "env": {...}, "out": PATH, "cwd": PATH?}

Forks, and the child execs argv with exactly env: the task's root is that process, never this one (this
one carries no attribution keys). This process is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a
grandchild the task orphans is reparented here rather than to init, and reaped here too. It waits with
os.wait4 for every process it gets and writes to OUT: the root's pid, status and rusage (CPU = utime +
stime of the root and every descendant it reaped, ru_maxrss the largest of them), and each orphan's.
The spec comes in a file so that no attribution resolver reads a task's argv in this process's argv.
"""
import ctypes
import json
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(spec_file):
    with open(spec_file) as source:
        spec = json.load(source)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    started = time.time()
    pid = os.fork()
    if pid == 0:
        try:
            if spec.get("cwd"):
                os.chdir(spec["cwd"])
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        finally:
            os._exit(127)
    root = None
    orphans = []
    while True:
        try:
            reaped, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        entry = {
            "pid": reaped,
            "exitCode": os.waitstatus_to_exitcode(status),
            "cpuSeconds": usage.ru_utime + usage.ru_stime,
            "maxrssBytes": usage.ru_maxrss * 1024,
        }
        if reaped == pid:
            root = {**entry, "wallSeconds": time.time() - started}
        else:
            orphans.append(entry)
    with open(spec["out"] + ".tmp", "w") as out:
        json.dump({"root": root, "orphans": orphans}, out)
    os.rename(spec["out"] + ".tmp", spec["out"])


if __name__ == "__main__":
    main(sys.argv[1])
