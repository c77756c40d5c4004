"""Workloads whose cause of slowness is known, for the diagnosis scenarios (analyzer/explain-scenarios.e2e.test.ts).

Each is a subcommand; every one does a fixed amount of work, so what slows it is what the test did to it:

  burn ITERATIONS              a pure CPU loop in one thread (slowed by a CPU hog on the same core)
  hog SECONDS                  spins one thread for SECONDS of wall time (a steady neighbour)
  pulse SECONDS [SHARES]       spins 0.75 s of every second of the wall clock for SECONDS (the hog: hogs started
                               apart still spin together, and the run they slow waits in the same rhythm); with
                               SHARES, first gives its own cgroup that CPU weight (v1 cpu.shares, or v2
                               cpu.weight scaled from shares as systemd does), as a big CPU request would
  direct-reader FILE READS     reads READS random 4 KiB blocks of FILE with O_DIRECT, as an index lookup does
                               (slowed by a neighbour's O_DSYNC writes to the same disk)
  compress FILE                drops FILE from the page cache, reads it from disk and compresses it (time follows bytes read)
  fetch URL...                 GETs each URL in turn and reads the whole answer (slowed by a slower endpoint)
"""
import mmap
import os
import random
import sys
import time
import urllib.request
import zlib


def burn(iterations):
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def hog(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def pulse(seconds, period=1.0, busy=0.75):
    end = time.time() + seconds
    while True:
        now = time.time()
        if now >= end:
            return
        phase = now % period
        if phase < busy:
            continue
        time.sleep(min(period - phase, end - now))


def own_cpu_weight(shares):
    """Sets the CPU weight of the cgroup this process is in: its own (made by `rightsize run`), never the root."""
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if path == "/":
            continue
        if "cpu" in controllers.split(","):
            with open(f"/sys/fs/cgroup/cpu{path}/cpu.shares", "w") as file:
                file.write(str(shares))
            return
        if controllers == "" and os.path.exists(f"/sys/fs/cgroup{path}/cpu.weight"):
            # systemd's mapping of shares to weight (1024 → 100), within cpu.weight's 1..10000.
            with open(f"/sys/fs/cgroup{path}/cpu.weight", "w") as file:
                file.write(str(max(1, min(10000, shares * 100 // 1024))))
            return
    sys.exit("pulse: not in a cgroup of its own, so no CPU weight to raise")


def direct_reader(path, reads):
    block = 4096
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        blocks = os.fstat(fd).st_size // block
        # O_DIRECT needs an aligned buffer: an anonymous mapping is page-aligned.
        buffer = mmap.mmap(-1, block)
        generator = random.Random(1)
        for _ in range(reads):
            os.preadv(fd, [buffer], generator.randrange(blocks) * block)
    finally:
        os.close(fd)


def compress(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        # Clean pages of the file leave the page cache, so every byte is read from the disk again and is
        # counted in /proc/PID/io read_bytes (the page cache would serve it otherwise).
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        compressor = zlib.compressobj(9)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            compressor.compress(chunk)
        compressor.flush()
    finally:
        os.close(fd)


def fetch(urls):
    for url in urls:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "burn":
        burn(int(args[0]))
    elif command == "hog":
        hog(float(args[0]))
    elif command == "pulse":
        if len(args) > 1:
            own_cpu_weight(int(args[1]))
        pulse(float(args[0]))
    elif command == "direct-reader":
        direct_reader(args[0], int(args[1]))
    elif command == "compress":
        compress(args[0])
    elif command == "fetch":
        fetch(args)
    else:
        sys.exit(f"unknown workload '{command}'")


if __name__ == "__main__":
    main(sys.argv)
