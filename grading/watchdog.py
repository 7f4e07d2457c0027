"""Stops a cell that uses too much CPU time or disk, whatever the rest of the machine is doing.

A cell's time limit counts the CPU time of the kernel's whole process tree (the kernel, the JVM Spark
starts or the submission's driver JVM it shares, any process the student starts), not wall-clock time:
on a grading server busy with other jobs a correct answer takes longer but uses the same CPU time, so
its score cannot depend on the load.
An endless loop uses CPU as fast as it gets it and is stopped after the limit; ``nbgrader``'s
wall-clock ``Execute.timeout`` stays as a much larger backstop for code that sleeps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    # A bare read: the grader reads every process's stat file several times per cell, and pathlib's text
    # reading costs 2.5 times as much. One read returns the whole line (under 1 KB).
    try:
        descriptor = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.read(descriptor, 4096).decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(descriptor)
    if ")" not in text:  # ended between the open and the read
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...


def living(pid: int) -> tuple[int, str] | None:
    """``pid`` with its start time (a reused pid is another process), or None once it is dead or a zombie."""
    fields = _stat(pid)
    return (pid, fields[19]) if fields and fields[0] not in "ZX" else None


def _send(pid: int | None, number: signal.Signals) -> None:
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, number)


def _started(tree: list[int], before: Collection[tuple[int, str]]) -> list[int]:
    """The living processes of ``tree`` that are not in ``before``."""
    return [pid for pid in tree if (identity := living(pid)) and identity not in before]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(*roots: int) -> list[int]:
    """The ``roots`` and all their living descendants."""
    children = _children()
    tree, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def children_of(pid: int) -> list[int]:
    """The living children of ``pid``."""
    return _children().get(pid, [])


def kill_tree(*roots: int, spare: Collection[tuple[int, str]] = (), rounds: int = 50) -> set[tuple[int, str]]:
    """SIGKILL the trees of ``roots`` but the processes in ``spare``; returns those killed. They are stopped first
    (for a few rounds, while any still runs): killing a fork bomb's processes as they run frees the places its
    others fork into.
    """
    for _ in range(rounds):
        running = [pid for pid in _started(process_tree(*roots), spare) if (_stat(pid) or ["T"])[0] != "T"]
        if not running:
            break
        for pid in running:
            _send(pid, signal.SIGSTOP)
    doomed = {pid: living(pid) for pid in reversed(_started(process_tree(*roots), spare))}
    for pid in doomed:
        _send(pid, signal.SIGKILL)
    return {identity for identity in doomed.values() if identity}


def cpu_seconds(pids: list[int], reaped: bool = True) -> float:
    """CPU time (user + system, and ``reaped``: of their reaped children too) of the given processes."""
    total = 0
    for pid in pids:
        if fields := _stat(pid):
            total += sum(int(value) for value in fields[11 : 15 if reaped else 13])  # utime, stime, cutime, cstime
    return total / TICKS


def folder_usage(folder: Path, stop_after_files: int) -> tuple[int, int]:
    """Bytes and entries below ``folder`` (links not followed); stops counting after ``stop_after_files``."""
    size = count = 0
    todo = [folder]
    while todo and count <= stop_after_files:
        with contextlib.suppress(OSError), os.scandir(todo.pop()) as entries:
            for entry in entries:
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    todo.append(Path(entry.path))
                else:
                    size += entry.stat(follow_symlinks=False).st_size
    return size, count


class CellWatchdog:
    """``with CellWatchdog(...) as watch:`` around one cell; ``watch.reason`` says why it stopped the cell.

    ``roots``: the kernel's process, and the driver JVM's holder when the kernel shares one: the cell's CPU
    time is that of their trees.
    """

    def __init__(
        self,
        roots: Sequence[int],
        kernel: Callable[[], int | None],
        cpu_limit: float,
        folder: Path,
        disk_bytes: int,
        max_files: int = 200_000,
        grace: float = 15.0,
        poll: float = 0.5,
    ):
        self.roots, self.kernel, self.cpu_limit, self.folder = tuple(roots), kernel, cpu_limit, folder
        self.disk_bytes, self.max_files, self.grace, self.poll = disk_bytes, max_files, grace, poll
        self.reason: str | None = None
        self._kernel: int | None = None  # found when the cell is interrupted
        self.used = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cell-watchdog", daemon=True)

    def __enter__(self) -> CellWatchdog:
        tree = process_tree(*self.roots)
        self._start = cpu_seconds(tree)
        self._before = {identity for pid in tree if (identity := living(pid))}
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.used = max(self.used, cpu_seconds(process_tree(*self.roots)) - self._start)

    def _kernel_forks(self, tree: list[int], known: Collection[tuple[int, str]]) -> bool:
        """Whether the kernel itself has started a process not in ``known`` (Spark's workers are the JVM's)."""
        return any((_stat(pid) or ["", ""])[1] == str(self._kernel) for pid in _started(tree, known))

    def _cpu_of_those_before(self, tree: list[int]) -> float:
        """CPU time of the processes that ran before the cell (the kernel, Spark's JVM) themselves."""
        return cpu_seconds([pid for pid in tree if living(pid) in self._before], reaped=False)

    def _interrupt(self) -> set[tuple[int, str]]:
        """KeyboardInterrupt in the cell, the kernel living on; what the cell started dies at once (a fork
        bomb would otherwise spin on every core through the grace period), what ran before it lives on
        (Spark's JVM). The kernel is held still meanwhile, so that it forks nothing new. Returns those killed.
        """
        self._kernel = self.kernel()
        _send(self._kernel, signal.SIGSTOP)
        try:
            return kill_tree(*self.roots, spare=self._before)
        finally:
            _send(self._kernel, signal.SIGINT)
            _send(self._kernel, signal.SIGCONT)

    def _watch(self) -> None:
        interrupted_at, known = None, self._before
        rounds = 0
        while not self._stop.wait(self.poll):
            tree = process_tree(*self.roots)
            self.used = cpu_seconds(tree) - self._start
            if self.used > self.cpu_limit and interrupted_at is None:
                self.reason = "cpu"
                known = self._before | self._interrupt()  # the killed may take a while to exit
                # The grace period counts the kernel's own CPU time: not what the killed processes took to exit.
                interrupted_at = self._cpu_of_those_before(process_tree(*self.roots))
            elif interrupted_at is not None and (
                self._cpu_of_those_before(tree) > interrupted_at + self.grace or self._kernel_forks(tree, known)
            ):
                # The cell ignored the interrupt: it computes on, or its kernel starts processes still (a fork
                # bomb spends its time in Python's at-fork handlers, where a KeyboardInterrupt is only
                # printed). The kernel is restarted, the rest graded.
                kill_tree(*self.roots)
                return
            rounds += 1
            if rounds % 4 == 0:
                size, files = folder_usage(self.folder, self.max_files)
                if size > self.disk_bytes or files > self.max_files:
                    self.reason = "disk"
                    kill_tree(*self.roots)
                    return
