"""The cell watchdog on real processes: a cell over its CPU time loses what it started, not what ran before it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from grading.watchdog import CellWatchdog, living, process_tree

PF_EXITING = 0x4  # the kernel's flag for a process in its exit

#: A stand-in kernel: one child started before the cell (Spark's JVM, say); on "go" the cell forks 8 spinning
#: processes, each with a spinning child of its own, and spins; SIGINT (KeyboardInterrupt) ends the cell.
KERNEL = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps its dead children at once
    before = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(10**6)"])
    print(before.pid, flush=True)
    sys.stdin.readline()
    try:
        for _ in range(8):
            if os.fork() == 0:
                os.fork()
                while True:
                    pass
        while True:
            pass
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    sys.stdin.readline()
    """
)


def _dying(pid: int) -> bool:
    """Gone, or dying: SIGKILL pending, or exiting (a loaded machine may not have run its exit yet)."""
    try:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        flags = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[6])
    except OSError:
        return True
    pending = int(status["SigPnd"], 16) | int(status["ShdPnd"], 16)
    return status["State"][0] in "ZX" or bool(flags & PF_EXITING) or bool(pending & 1 << (signal.SIGKILL - 1))


def test_a_cell_over_its_cpu_time_loses_the_processes_it_started_at_once(tmp_path):
    """Every process the cell started is killed when the limit is reached, with no grace period; the kernel
    gets KeyboardInterrupt and lives on, and so does the process it started before the cell.
    """
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    before = int(kernel.stdout.readline())
    try:
        # A grace period that never ends: only the immediate kill can stop the cell's processes.
        with CellWatchdog(
            [kernel.pid], lambda: kernel.pid, cpu_limit=1.0, folder=tmp_path, disk_bytes=1 << 30, grace=1e9, poll=0.05
        ) as watch:
            kernel.stdin.write("go\n")
            kernel.stdin.flush()
            assert kernel.stdout.readline() == "interrupted\n"  # blocks until the watchdog acts
            assert watch.reason == "cpu"
            started = [pid for pid in process_tree(kernel.pid) if living(pid) and pid not in (kernel.pid, before)]
        assert all(_dying(pid) for pid in started), started
        assert kernel.poll() is None and living(before)
    finally:
        for pid in process_tree(kernel.pid)[::-1]:
            os.kill(pid, signal.SIGKILL)
        kernel.wait()


#: A cell that shrugs off the interrupt and starts another process, as a fork bomb does when the interrupt
#: lands in Python's at-fork handlers.
STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys
    signal.signal(signal.SIGINT, lambda *_: subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    print("ready", flush=True)
    while True:
        pass
    """
)


def test_a_cell_that_starts_processes_after_the_interrupt_loses_its_kernel(tmp_path):
    """No grace period for a cell still starting processes once interrupted: the whole tree is killed."""
    kernel = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert kernel.stdout.readline() == "ready\n"
    with CellWatchdog(
        [kernel.pid], lambda: kernel.pid, cpu_limit=1.0, folder=tmp_path, disk_bytes=1 << 30, grace=1e9, poll=0.05
    ) as watch:
        assert kernel.wait() == -signal.SIGKILL  # blocks until the watchdog kills it
    assert watch.reason == "cpu"


def test_a_shared_driver_s_cpu_time_counts_and_it_dies_with_a_cell_that_ignores_the_interrupt(tmp_path):
    """The kernel idles while a process of another tree (the submission's driver JVM) computes for its cell:
    that CPU time counts against the cell's limit, and a driver that computes on after the interrupt is
    killed with the kernel's tree once the grace period is spent.
    """
    idle = "import signal, time\nsignal.signal(signal.SIGINT, lambda *_: None)  # a kernel lives on\nprint('ready')"
    kernel = subprocess.Popen([sys.executable, "-u", "-c", f"{idle}\ntime.sleep(10**6)"], stdout=subprocess.PIPE)
    assert kernel.stdout.readline() == b"ready\n"
    driver = subprocess.Popen([sys.executable, "-c", "while True:\n    pass"])
    try:
        with CellWatchdog(
            [kernel.pid, driver.pid], lambda: kernel.pid, cpu_limit=1.0, folder=tmp_path, disk_bytes=1 << 30, grace=1.0
        ) as watch:
            assert driver.wait() == -signal.SIGKILL  # blocks until the watchdog kills it
        assert watch.reason == "cpu" and watch.used > 1.0
        assert kernel.wait() == -signal.SIGKILL
    finally:
        for process in (kernel, driver):
            process.kill()
            process.wait()
