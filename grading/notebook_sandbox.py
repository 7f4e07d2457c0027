"""One notebook's sandbox, prepared: what its kernel sees, where it writes, the sensor's settings.

Read-only, the kernel sees the Python environment, the lab's ``helpers`` package, the two files of
``grading`` that hidden test cells import, the run's images (in ``GRADER_DIR``), the autograder's
sample file, Spark's class archive, the network's weights, and exactly the reference artefacts its
notebook may read (:meth:`grading.checks.Checks.publish` makes them): stand-ins for earlier notebooks'
answers and what its own tests read, never one of its own answers. It writes its working folder
(shown at /home/student/lab5, where ``lab5_work/`` is made) and its part of the runtime folder: the
ZeroMQ sockets and the evidence its tests export. The sensor's settings and socket are read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.utils import is_locked

from grading import sandbox
from helpers.config import GRADER_DIR, PROJECT_ROOT, cache_dir, java_home_setting, subset_setting
from helpers.java import require_java
from helpers.lab import LabSetup
from helpers.models import hub_dir
from helpers.spark import class_archive

#: Where the kernel starts inside the sandbox: a neutral path, so that nothing it prints names the grader's folders.
WORKDIR = Path("/home/student/lab5")
#: The grading files a hidden test cell imports.
KERNEL_SIDE = ("__init__.py", "hidden.py")
#: Imported before the sensor arms, so that libraries loading themselves (ctypes finding its C library, for
#: one) are not refused: every kernel's (pandas and PIL: the lab's Setup imports them in every notebook), then
#: torch's, Spark's and matplotlib's when the notebook's code names them (a student's own ``import torch`` in
#: notebook 3 included). A library no cell names costs no kernel its import (matplotlib's is 0.7 s).
PREIMPORT = (
    "ctypes",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "numpy",
    "pandas",
    "PIL.Image",
)
PREIMPORT_FOR = {
    "torch": ("torch", "torchvision.models", "torchvision.transforms"),
    "spark": ("pyspark.sql", "pyspark.ml.feature"),
    "matplotlib": ("matplotlib.pyplot",),
}


def _chown_tree(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            os.chown(path, uid, uid, follow_symlinks=False)


class NotebookSandbox:
    """The sandbox of one notebook's kernel (``sandboxed=False``: the same kernel, unprotected, for trusted code)."""

    def __init__(
        self,
        cells: list[NotebookNode],
        lab: LabSetup,
        published: list[Path],
        sample: Path | None,
        sandboxed: bool,
        limits: sandbox.Limits,
    ):
        self.lab, self.sample, self.sandboxed = lab, sample, sandboxed
        self.runtime = Path(tempfile.mkdtemp(prefix="lab5-"))
        for folder in ("kernel", "exports", "sensor", "identity"):
            (self.runtime / folder).mkdir()
        self.exports = self.runtime / "exports"
        self.sensor_socket = self.runtime / "sensor" / "sensor.sock"
        self.user = sandbox.SandboxUser() if sandboxed and sandbox.running_as_root() else None
        self.uid = self.user.uid if self.user else None
        if self.uid is not None:
            self.runtime.chmod(0o711)
            for name in ("kernel", "exports"):
                os.chown(self.runtime / name, self.uid, self.uid)
            _chown_tree(lab.notebook_dir, self.uid)
        code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
        settings = {
            "preimport": [
                *PREIMPORT,
                *(name for word, names in PREIMPORT_FOR.items() if word in code for name in names),
            ],
            "sensor_socket": str(self.sensor_socket),
            "exports": str(self.exports),
            "lab_root": str(PROJECT_ROOT / "helpers"),
            "locked_cells": [
                {"index": index, "source": cell.source}
                for index, cell in enumerate(cells)
                if cell.cell_type == "code" and is_locked(cell)
            ],
        }
        (self.runtime / "sensor" / "grader.json").write_text(json.dumps(settings))
        self.box = self._sandbox(published, limits) if sandboxed else None

    def _sandbox(self, published: list[Path], limits: sandbox.Limits) -> sandbox.Sandbox:
        read_only = {path: path for path in sandbox.python_paths()}
        read_only[PROJECT_ROOT / "helpers"] = PROJECT_ROOT / "helpers"
        read_only |= {PROJECT_ROOT / "grading" / name: PROJECT_ROOT / "grading" / name for name in KERNEL_SIDE}
        read_only[GRADER_DIR / "sensor.py"] = PROJECT_ROOT / "grading" / "sensor.py"
        read_only[GRADER_DIR / "grader.json"] = self.runtime / "sensor" / "grader.json"
        read_only[self.runtime / "sensor"] = self.runtime / "sensor"
        read_only[GRADER_DIR / "data"] = self.lab.dataset.root
        read_only |= {GRADER_DIR / "cache" / path.relative_to(cache_dir()): path for path in published}
        if (archive := class_archive(require_java())).is_file():  # Spark's class archive: its JVMs start sooner
            read_only[GRADER_DIR / "cache" / archive.relative_to(cache_dir())] = archive
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "LAB_DATA_DIR": str(GRADER_DIR / "data"),
            "LAB_WEIGHTS": self.lab.weights,
            "LAB_SUBSET": str(subset_setting() or "all"),
            "LAB_CACHE_DIR": str(GRADER_DIR / "cache"),
            "LAB_ARTIFACTS_DIR": "/tmp/artifacts",
            "LAB_SPARK_UI": "false",
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # debugpy (imported by ipykernel) would warn on stderr
        }
        if self.sample is not None:
            read_only[GRADER_DIR / "sample.json"] = self.sample
            env["LAB_GRADING_SAMPLE"] = str(GRADER_DIR / "sample.json")
        checkpoints = hub_dir() / "checkpoints"
        if self.lab.weights == "imagenet" and checkpoints.is_dir():
            read_only[checkpoints] = checkpoints
            env["TORCH_HOME"] = str(hub_dir().parent)
        elif Path(self.lab.weights).is_file():
            weights = Path(self.lab.weights).resolve()
            read_only[weights] = weights
        if java_home := java_home_setting():
            read_only[Path(java_home)] = Path(java_home)
            env["JAVA_HOME"] = java_home
        writable = {WORKDIR: self.lab.notebook_dir}
        writable |= {self.runtime / name: self.runtime / name for name in ("kernel", "exports")}
        return sandbox.Sandbox(self.runtime / "identity", WORKDIR, read_only, writable, env, self.uid, limits)

    def configure(self, manager: object) -> None:
        """Point a kernel manager at this sandbox: IPC sockets in the runtime folder, the sandboxed command."""
        manager.transport = "ipc"
        manager.ip = str(self.runtime / "kernel" / "k")
        manager.connection_file = str(self.runtime / "kernel" / "connection.json")
        manager.wrap = self.kernel_command

    def kernel_command(self, argv: list[str]) -> list[str]:
        """The kernel's command line: started through the sensor in the sandbox, or (unsandboxed) in the folder."""
        if self.uid is not None:
            with contextlib.suppress(OSError):
                os.chown(self.runtime / "kernel" / "connection.json", self.uid, self.uid)
        if self.box is None:
            env = {"LAB_DATA_DIR": str(self.lab.dataset.root), "LAB_WEIGHTS": self.lab.weights, "LAB_SPARK_UI": "false"}
            if self.sample is not None:
                env["LAB_GRADING_SAMPLE"] = str(self.sample)
            return ["env", "-C", str(self.lab.notebook_dir), *(f"{k}={v}" for k, v in env.items()), *argv]
        position = argv.index("ipykernel_launcher")
        return self.box.command([sys.executable, str(GRADER_DIR / "sensor.py"), "--kernel", *argv[position + 1 :]])

    def kernel_pid(self, root: int) -> int | None:
        """The kernel's own process (below the sandbox's wrappers), to interrupt it: the first of the tree's
        processes with its command line, since what the kernel forks has the same one.
        """
        from grading.watchdog import process_tree

        for pid in process_tree(root):
            with contextlib.suppress(OSError):
                words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if Path(words[0].decode()).name not in ("prlimit", "bwrap", "setpriv", "env") and b"-f" in words:
                    return pid
        return None

    def reap(self) -> None:
        """Kill what is left of the sandbox (a fork bomb's processes) before a new kernel starts."""
        if self.user:
            self.user.reap()

    def close(self) -> None:
        """Clear out the sandbox, give the working folder back and remove the runtime folder."""
        if self.user:
            self.user.release()
        if self.uid is not None:
            _chown_tree(self.lab.notebook_dir, os.getuid())
        shutil.rmtree(self.runtime, ignore_errors=True)
