#!/usr/bin/env python3
"""Runs a command and prints its wall time and the peak RSS of the command's own process, apart
from the child processes it starts (a local model runs in a model process, whose memory
`/usr/bin/time` reports instead when it is the larger: its figure is the largest of a process and
its waited-for descendants).

The command runs under `/usr/bin/time -f %M` (that figure, the process tree's) and its own peak
is the kernel's high-water mark (VmHWM) of its process, read every millisecond while it runs:
the last reading before it exits is taken, so at most the final millisecond's growth is missed,
and a command that ends within a millisecond or two is not measured (use `/usr/bin/time` alone).

Prints one line: `WALL_MS OWN_PEAK_KB TREE_PEAK_KB`. The command's output goes to the files named
by --stdout/--stderr (default: discarded); its standard input is empty.
Usage: peak_rss.py [--stdout FILE] [--stderr FILE] -- COMMAND...
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time


def high_water_kb(pid):
    """VmHWM of a running process in kB, or None once it has exited (or not yet exec'd)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def only_child(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            found = children.read().split()
    except OSError:
        return None
    return int(found[0]) if found else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdout", default=os.devnull)
    parser.add_argument("--stderr", default=os.devnull)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("r") as tree, open(args.stdout, "wb") as out, \
            open(args.stderr, "wb") as err:
        start = time.monotonic()
        timer = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tree.name, *args.command],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        command = None
        own_peak = 0
        while timer.poll() is None:
            command = command or only_child(timer.pid)
            if command is not None:
                kb = high_water_kb(command)
                if kb is not None:
                    own_peak = max(own_peak, kb)
            time.sleep(0.001)
        wall_ms = (time.monotonic() - start) * 1000
        lines = tree.read().split()
    if timer.returncode != 0:
        print(f"command failed with exit code {timer.returncode}", file=sys.stderr)
        return 1
    print(f"{wall_ms:.0f} {own_peak} {lines[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
