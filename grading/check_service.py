"""Where a grading job's checks run: in one checker process, shared by every job of a class run.

A grading job (nbgrader, the kernel it runs and that kernel's JVM) needs the reference network only
for its checks (:mod:`grading.checks`). Imported in every job, torch and the network took ~0.7 GB of
each. :func:`grading.autograde.grade_class` starts one checker for the run (:func:`checker`) and each
job connects to it (:func:`connect`). ``nbgrader autograde`` on its own has no checker, so its
process checks for itself. The checker listens on a Unix socket in a private folder of the
grader's, with a key of its own: no sandboxed kernel sees either.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import TYPE_CHECKING

from grading.course import KERNEL_FOLDER
from helpers import lab as lab_plumbing

if TYPE_CHECKING:
    from grading.checks import Checks


@dataclass(frozen=True)
class Run:
    """One submission's run, as the job and the checker both name it: its folder, the dataset folder and the
    autograder's sample file (empty: the defaults).
    """

    folder: Path
    data_dir: str = ""
    sample: str = ""

    def lab(self) -> lab_plumbing.LabSetup:
        """The run's view of the lab (made once per process)."""
        return _lab(self)


@lru_cache(maxsize=8)
def _lab(run: Run) -> lab_plumbing.LabSetup:
    work = run.folder / KERNEL_FOLDER / lab_plumbing.WORK_DIR
    data_dir, sample = (Path(run.data_dir) if run.data_dir else None), (Path(run.sample) if run.sample else None)
    return lab_plumbing.setup(work, data_dir, sample)


@dataclass(frozen=True)
class Judged:
    """A test's verdict as a job needs it: passed, or the diagnosis' name and the message to show."""

    passed: bool
    diagnosis: str = ""
    message: str = ""


class CheckerManager(BaseManager):
    """The checker process's server (multiprocessing's manager; the bench finds the process by this name)."""


_own: dict[str, Checks] = {}  # "checks": this process's own, once made
_connected: dict[str, Checks] = {}  # "checks": the checker's, once connect() ran in this process
_making = threading.Lock()  # the checker makes its own from the first two jobs' threads at once


def own_checks() -> Checks:
    """The checks this process makes itself, once: the checker's, or those of a job that has no checker."""
    with _making:
        if "checks" not in _own:
            from grading.checks import Checks  # torch and the network: imported only by a process that checks

            _own["checks"] = Checks()
        return _own["checks"]


def _start_checker() -> None:
    """The checker's first step: its checks made in the background, so that it answers (and the jobs start) at once."""
    threading.Thread(target=own_checks, name="make-checks", daemon=True).start()


CheckerManager.register("checks", callable=own_checks)


@dataclass(frozen=True)
class Checker:
    """How a job reaches the run's checker."""

    address: str
    key: bytes


@contextlib.contextmanager
def checker() -> Iterator[Checker]:
    """A checker process for the block (spawned, as torch needs); it imports torch while the jobs start."""
    with tempfile.TemporaryDirectory(prefix="lab5-checker-") as folder:
        found = Checker(str(Path(folder) / "socket"), secrets.token_bytes(32))
        manager = CheckerManager(address=found.address, authkey=found.key, ctx=get_context("spawn"))
        manager.start(initializer=_start_checker)
        try:
            yield found
        finally:
            manager.shutdown()


def connect(found: Checker) -> None:
    """Check with the run's checker from now on (a job calls it when it starts)."""
    manager = CheckerManager(address=found.address, authkey=found.key)
    manager.connect()
    _connected["checks"] = manager.checks()


def checks() -> Checks:
    """The checks this process uses: the checker's once :func:`connect` ran, else its own."""
    return _connected["checks"] if "checks" in _connected else own_checks()


def forget(scratch: Path) -> None:
    """Drop what was kept for the runs in ``scratch`` (a finished submission's folder), here and in the checks."""
    _lab.cache_clear()
    with contextlib.suppress(EOFError, OSError):  # a checker that is gone keeps nothing (its jobs fail with why)
        checks().forget(scratch)
