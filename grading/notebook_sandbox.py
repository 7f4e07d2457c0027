"""One notebook's kernel: forked in its submission's sandbox, or (for trusted code only) started unprotected.

Sandboxed, the kernel sees exactly the reference artefacts its notebook may read
(:meth:`grading.checks.Checks.publish` makes them): stand-ins for earlier notebooks' answers and what its
own tests read, never one of its own answers. The sensor's settings name the notebook's locked cells,
its socket and the folder the tests export their evidence to; see :mod:`grading.submission_sandbox`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.utils import is_locked

from grading.submission_sandbox import ForkedKernel, SubmissionSandbox
from grading.watchdog import process_tree
from helpers.config import PROJECT_ROOT
from helpers.lab import LabSetup

#: A code line that imports Spark, directly or through the lab's helpers: the notebook's kernel attaches to the
#: submission's driver JVM (``grading.submission_sandbox``).
SPARK_IMPORT = re.compile(
    r"^\s*(?:import\s+pyspark\b|from\s+pyspark[\s.]|(?:import|from)\s+helpers\.spark\b"
    r"|from\s+helpers\s+import\s.*\bspark\b)",
    re.MULTILINE,
)


def uses_spark(cells: list[NotebookNode]) -> bool:
    """Whether a code cell of the notebook imports Spark."""
    return any(cell.cell_type == "code" and SPARK_IMPORT.search(cell.source) for cell in cells)


class NotebookSandbox:
    """One notebook's kernel, in ``submission``'s sandbox (None: the same kernel, unprotected, for trusted code)."""

    def __init__(
        self,
        cells: list[NotebookNode],
        lab: LabSetup,
        published: list[Path],
        sample: Path | None,
        submission: SubmissionSandbox | None,
        threads: dict[str, str] | None = None,
    ):
        self.lab, self.sample, self.submission = lab, sample, submission
        self.spark = uses_spark(cells)
        self.threads = threads or {}  # the unprotected kernel's thread settings (a sandbox has its own)
        if submission is None:
            self.runtime = Path(tempfile.mkdtemp(prefix="lab5-"))
            self.exports = self.runtime / "exports"
            for folder in (self.runtime / "kernel", self.exports):
                folder.mkdir()
            return
        self.runtime, self.exports = submission.runtime, submission.exports
        settings = {
            "lab_root": str(PROJECT_ROOT / "helpers"),
            "locked_cells": [
                {"index": index, "source": cell.source}
                for index, cell in enumerate(cells)
                if cell.cell_type == "code" and is_locked(cell)
            ],
        }
        submission.admit(settings, published)
        self.sensor_socket = submission.sensor_socket

    def configure(self, manager: object) -> None:
        """Point a kernel manager at this kernel: IPC sockets in the runtime folder, forked or started wrapped."""
        manager.transport = "ipc"
        manager.ip = str(self.runtime / "kernel" / "k")
        manager.connection_file = str(self.runtime / "kernel" / "connection.json")
        if self.submission is None:
            manager.wrap = self.unprotected_command
        else:
            manager.fork = self.fork

    def fork(self, argv: list[str]) -> ForkedKernel:
        """The kernel, forked in the submission's sandbox from the kernelspec's command line ``argv``."""
        if self.submission.uid is not None:
            with contextlib.suppress(OSError):
                shutil.chown(self.runtime / "kernel" / "connection.json", self.submission.uid, self.submission.uid)
        return self.submission.fork(argv, self.spark)

    def watched(self, root: int) -> list[int]:
        """The processes whose trees a cell's CPU time counts: the kernel's ``root`` and the submission's driver
        JVM while it lives (a notebook that does not use Spark still counts it: its code could reach it).
        """
        return [root, *(self.submission.driver_roots() if self.submission is not None else ())]

    def unprotected_command(self, argv: list[str]) -> list[str]:
        """The kernel's command line when it runs unsandboxed: in the notebook's folder, on the run's images."""
        env = {"LAB_DATA_DIR": str(self.lab.dataset.root), "LAB_WEIGHTS": self.lab.weights, "LAB_SPARK_UI": "false"}
        env |= self.threads
        if self.sample is not None:
            env["LAB_GRADING_SAMPLE"] = str(self.sample)
        return ["env", "-C", str(self.lab.notebook_dir), *(f"{k}={v}" for k, v in env.items()), *argv]

    def kernel_pid(self, root: int) -> int | None:
        """The kernel's own process, to interrupt it: ``root`` when it was forked, else the first process of the
        tree with its command line (below ``env``; what the kernel forks has the same one).
        """
        if self.submission is not None:
            return root
        for pid in process_tree(root):
            with contextlib.suppress(OSError):
                words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if Path(words[0].decode()).name != "env" and b"-f" in words:
                    return pid
        return None

    def reap(self) -> None:
        """Kill what is left of the kernel's processes (a fork bomb's) before a new kernel starts."""
        if self.submission is not None:
            self.submission.clear()

    def close(self) -> None:
        """Kill what is left of this notebook's processes; the unprotected kernel's runtime folder goes."""
        if self.submission is None:
            shutil.rmtree(self.runtime, ignore_errors=True)
        else:
            self.submission.clear()
