"""
A single-threaded CPU burner for collector tests: burns SECONDS of its own CPU time (process time, so a
loaded host stretches its wall clock, not its work), then writes what the kernel charged it
(getrusage) and the cores it got while burning (CPU over wall clock of the loop), both from its own side.

Usage: burner.py SECONDS OUT.json
Writes {"pid": PID, "cpu": SECONDS, "cores": CORES}.
"""
import json
import os
import resource
import sys
import time

seconds, out = float(sys.argv[1]), sys.argv[2]
started, burned = time.monotonic(), time.process_time()
n = 0
while time.process_time() < seconds:
    for _ in range(10_000):
        n += 1
usage = resource.getrusage(resource.RUSAGE_SELF)
report = {
    "pid": os.getpid(),
    "cpu": usage.ru_utime + usage.ru_stime,
    "cores": (time.process_time() - burned) / (time.monotonic() - started),
}
with open(out + ".tmp", "w") as file:
    json.dump(report, file)
os.rename(out + ".tmp", out)
# Leave at once: the interpreter's finalization would use CPU (tens of ms on a loaded host) after the
# figures above were taken, and the collector would rightly count it.
os._exit(0)
