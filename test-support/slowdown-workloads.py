"""Workloads whose cause of slowness is known, for the diagnosis scenarios (analyzer/explain-scenarios.e2e.test.ts).

Each is a subcommand; every one does a fixed amount of work, so what slows it is what the test did to it:

  burn ITERATIONS              a pure CPU loop in one thread (slowed by a CPU hog on the same core)
  hog SECONDS                  spins one thread for SECONDS of wall time (the hog)
  fsync-writer FILE BLOCKS WORK  writes BLOCKS 4 KiB blocks to FILE, each after WORK iterations of the CPU loop
                               and followed by an fsync (slowed by a neighbour's O_DSYNC writes to the same disk)
  compress FILE                drops FILE from the page cache, reads it from disk and compresses it (time follows bytes read)
  fetch URL...                 GETs each URL in turn and reads the whole answer (slowed by a slower endpoint)
"""
import os
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


def fsync_writer(path, blocks, work):
    block = b"x" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(blocks):
            # Some CPU between the writes, so the run is not blocked on disk all the time alone: its share
            # of each tick blocked rises when a neighbour loads the disk, and so lines up with the neighbour.
            burn(work)
            os.write(fd, block)
            os.fsync(fd)
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
    elif command == "fsync-writer":
        fsync_writer(args[0], int(args[1]), int(args[2]))
    elif command == "compress":
        compress(args[0])
    elif command == "fetch":
        fetch(args)
    else:
        sys.exit(f"unknown workload '{command}'")


if __name__ == "__main__":
    main(sys.argv)
