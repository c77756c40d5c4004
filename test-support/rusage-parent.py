"""
A waiting parent for collector tests: runs each command to its end, one after the other, and keeps the
kernel's account of every child, os.wait4's rusage (the child's user + system CPU with that of the
descendants it reaped), independent of anything a collector reads or is handed.

Usage: rusage-parent.py OUT.json REPEAT ARGV_JSON [ARGV_JSON ...]
Runs the commands REPEAT times (children's stdout goes to /dev/null), then writes
{"children": [{"command": NAME, "pid": PID, "cpu": SECONDS, "code": EXIT}], "own": SECONDS, "wall": SECONDS}.
"""
import json
import os
import resource
import sys
import time

out, repeat, commands = sys.argv[1], int(sys.argv[2]), [json.loads(arg) for arg in sys.argv[3:]]
started = time.monotonic()
children = []
quiet = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
for _ in range(repeat):
    for argv in commands:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        children.append(
            {
                "command": os.path.basename(argv[0]),
                "pid": pid,
                "cpu": usage.ru_utime + usage.ru_stime,
                "code": os.waitstatus_to_exitcode(status),
            }
        )
own = resource.getrusage(resource.RUSAGE_SELF)
with open(out + ".tmp", "w") as file:
    json.dump({"children": children, "own": own.ru_utime + own.ru_stime, "wall": time.monotonic() - started}, file)
os.rename(out + ".tmp", out)
# Leave at once: the interpreter's finalization would use CPU (tens of ms on a loaded host) after the
# figures above were taken, and the collector would rightly count it.
os._exit(0)
