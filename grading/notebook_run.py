"""What the grader keeps outside the kernel while one submitted notebook runs, and the verdicts it decides.

For each notebook :class:`NotebookRun` prepares the sandbox (the reference artefacts that notebook's
Setup cell may read, and nothing more), listens to the sensor, and after every test cell computes the
verdict from the evidence the cell exported, with :mod:`grading.checks` running here, where student
code cannot reach it. A test cell then keeps its points only if it ran without error *and* the
verdict passed; nothing the kernel prints can add points.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.utils import is_solution

from grading import evidence, sandbox, shortcuts
from grading.checks import HIDDEN, verdict
from grading.checks.references import References
from grading.course import grade_id, is_test_cell, question_of
from helpers import lab
from helpers import spark as lab_spark
from helpers.config import PROJECT_ROOT, cache_dir, java_home_setting, subset_setting
from helpers.java import require_java

#: The grading files a kernel needs: what hidden test cells import, and the sensor.
KERNEL_SIDE = ("__init__.py", "hidden.py", "evidence.py", "sensor.py")
#: Output a cell may keep, in characters (a student's 100 MB print must not end up in every feedback file).
MAX_OUTPUT = 100_000
#: What each notebook's Setup cell may read of the reference artefacts (its fallbacks).
REFERENCES_NEEDED = {
    "2_embeddings.ipynb": ("resized",),
    "3_spark_lsh.ipynb": ("resized", "embeddings"),
    "4_nearest_neighbors.ipynb": ("resized", "embeddings"),
}
#: Imported before the sensor arms, so that the kernel does not trace their import (see grading/sensor.py).
PREIMPORT = ("numpy", "pandas", "PIL.Image", "torch", "torchvision.models", "torchvision.transforms")
SPARK_PREIMPORT = ("pyspark.sql", "pyspark.ml.feature")


@dataclass(frozen=True)
class Settings:
    """How to grade: sandboxed or not, and the limits."""

    sandboxed: bool = True
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)


def fail(cell: NotebookNode, message: str) -> None:
    """Record a failed test in the cell's outputs: the message only, never test code."""
    cell.outputs.append(
        new_output("error", ename="AssertionError", evalue=message, traceback=[f"AssertionError: {message}"])
    )


def _size(output: NotebookNode) -> int:
    if output.output_type == "stream":
        return len(output.text)
    if output.output_type == "error":
        return sum(map(len, output.traceback)) + len(output.evalue)
    return sum(len(str(value)) for value in output.get("data", {}).values())


def cap_outputs(cell: NotebookNode, limit: int = MAX_OUTPUT) -> None:
    """Keep at most ``limit`` characters of a cell's outputs; errors stay (shortened), the rest is cut."""
    kept, used = [], 0
    for output in cell.get("outputs", []):
        if used + _size(output) <= limit:
            kept.append(output)
            used += _size(output)
        elif output.output_type == "error":
            output.traceback = [f"{output.ename}: {output.evalue[:2000]}"]
            output.evalue = output.evalue[:2000]
            kept.append(output)
        elif output.output_type == "stream" and used < limit:
            output.text = output.text[: limit - used]
            kept.append(output)
            used = limit
    if used >= limit:
        kept.append(
            new_output("stream", name="stdout", text=f"\n[output cut by the grader after {limit} characters]\n")
        )
    cell.outputs = kept


def _chown_tree(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            os.chown(path, uid, uid, follow_symlinks=False)


class NotebookRun:
    """One notebook of one submission, graded: sandbox, sensor, references and verdicts."""

    def __init__(self, nb: NotebookNode, name: str, folder: Path, settings: Settings):
        self.nb, self.name, self.folder, self.settings = nb, name, folder, settings
        self.lab = lab.setup(folder / lab.WORK_DIR)
        self.refs = References(self.lab)
        self.ledger = shortcuts.ShortcutLedger(nb.cells)
        self.executing: int | None = None
        self.last_answer: int | None = None
        self.frozen = False
        self.runtime = Path(tempfile.mkdtemp(prefix="lab5-"))
        self.exports = self.runtime / "exports"
        self.exports.mkdir()
        (self.runtime / "kernel").mkdir()  # the kernel's IPC sockets, sandboxed or not
        self.user = sandbox.SandboxUser() if settings.sandboxed and sandbox.running_as_root() else None
        self.uid = self.user.uid if self.user else None
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.runtime / "sensor.sock"))
        (self.runtime / "sensor.sock").chmod(0o666)
        self._listener = threading.Thread(target=self._listen, name="sensor-listener", daemon=True)
        self._listener.start()
        if self.uid is not None:
            self.runtime.chmod(0o711)
            for path in (self.exports, self.runtime / "kernel"):
                os.chown(path, self.uid, self.uid)
            _chown_tree(folder, self.uid)
        self.sandbox = self._sandbox() if settings.sandboxed else None

    # ------------------------------------------------------------ the sandbox

    def _reference_mounts(self) -> dict[Path, Path]:
        """The reference artefacts this notebook's Setup reads, prepared here and shown read-only."""
        needed = REFERENCES_NEEDED.get(self.name, ())
        paths = []
        if "resized" in needed:
            paths.append(lab.reference_resized_dir(self.lab))
        if "embeddings" in needed:
            csv = lab.reference_embeddings_csv(self.lab)
            paths += [csv, csv.with_suffix(".npy")]
            if (archive := lab_spark.class_archive(require_java())).is_file():
                paths.append(archive)  # Spark's class archive: the notebooks' JVMs start sooner
        return {sandbox.RUN / "cache" / path.relative_to(cache_dir()): path for path in paths}

    def _preimport(self) -> list[str]:
        spark = "embeddings" in REFERENCES_NEEDED.get(self.name, ())
        return [*PREIMPORT, *(SPARK_PREIMPORT if spark else ())]

    def _sandbox(self) -> sandbox.Sandbox:
        settings = self.runtime / "grader.json"
        settings.write_text(
            json.dumps(
                {
                    "sensor_socket": str(self.runtime / "sensor.sock"),
                    "exports": str(self.exports),
                    "reference_code": shortcuts.watched_code(),
                    "preimport": self._preimport(),
                }
            )
        )
        mounts = {
            sandbox.RUN / "grader.json": settings,
            sandbox.RUN / "sensor.py": PROJECT_ROOT / "grading" / "sensor.py",
        }
        mounts |= {PROJECT_ROOT / "grading" / name: PROJECT_ROOT / "grading" / name for name in KERNEL_SIDE}
        mounts |= self._reference_mounts()
        read_only = [*sandbox.python_paths(), PROJECT_ROOT / "helpers", self.lab.dataset.root]
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "LAB_DATA_DIR": str(self.lab.dataset.root),
            "LAB_WEIGHTS": self.lab.weights,
            "LAB_SUBSET": str(subset_setting() or "all"),
            "LAB_CACHE_DIR": str(sandbox.RUN / "cache"),
            "LAB_ARTIFACTS_DIR": "/tmp/artifacts",
            "LAB_SPARK_UI": "false",
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # debugpy (imported by ipykernel) would warn on stderr
        }
        checkpoint = Path(torch.hub.get_dir()) / "checkpoints"
        if self.lab.weights == "imagenet" and checkpoint.is_dir():
            read_only.append(checkpoint)
            env["TORCH_HOME"] = str(checkpoint.parents[1])
        elif Path(self.lab.weights).is_file():
            read_only.append(Path(self.lab.weights).resolve())
        if java_home := java_home_setting():
            read_only.append(Path(java_home))
            env["JAVA_HOME"] = java_home
        return sandbox.Sandbox(self.runtime, self.folder, read_only, mounts, env, self.uid, self.settings.limits)

    def configure(self, manager: object) -> None:
        """Point a kernel manager at this run: IPC sockets in the runtime folder, the sandboxed command."""
        manager.transport = "ipc"
        manager.ip = str(self.runtime / "kernel" / "k")
        manager.connection_file = str(self.runtime / "connection.json")
        manager.wrap = self.kernel_command

    def kernel_command(self, argv: list[str]) -> list[str]:
        """The kernel's command line, started through the sensor and wrapped in the sandbox."""
        if self.uid is not None:
            with contextlib.suppress(OSError):
                os.chown(self.runtime / "connection.json", self.uid, self.uid)
        if self.sandbox is None:
            return argv
        position = argv.index("ipykernel_launcher")
        launcher = [sys.executable, str(sandbox.RUN / "sensor.py"), "--kernel", *argv[position + 1 :]]
        return self.sandbox.command(launcher)

    def kernel_pid(self, root: int) -> int | None:
        """The kernel's own process (below the sandbox's wrappers), to interrupt it."""
        from grading.watchdog import process_tree

        for pid in reversed(process_tree(root)):
            with contextlib.suppress(OSError):
                words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if Path(words[0].decode()).name not in ("prlimit", "bwrap", "setpriv") and b"-f" in words:
                    return pid
        return None

    # ------------------------------------------------------------ the sensor

    def _listen(self) -> None:
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                return  # closed at the end of the notebook
            self._record(data)

    def _record(self, data: bytes) -> None:
        with contextlib.suppress(ValueError, TypeError, KeyError, IndexError), self._lock:
            if self.frozen:
                return  # the kernel shutting down after the last cell cannot cost anything
            kind, _, detail = json.loads(data)
            self.ledger.record(kind, detail, self.executing, self.last_answer)

    def drain(self) -> None:
        """Read every report already sent (a report is sent before the call it reports returns)."""
        self._socket.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self._record(self._socket.recv(65536))
        self._socket.setblocking(True)

    def started(self, index: int, cell: NotebookNode) -> None:
        """A cell is about to run: stale evidence of its test is removed first."""
        with self._lock:
            self.executing = index
        if is_test_cell(cell):
            for path in self.exports.glob(f"{grade_id(cell)}.*"):
                path.unlink()

    def finished(self, index: int, cell: NotebookNode) -> None:
        """A cell ran: an answer becomes the latest answer; a test cell gets the verdict computed here."""
        cap_outputs(cell)
        self.drain()
        with self._lock:
            self.executing = None
            if is_solution(cell):
                self.last_answer = index
        if is_test_cell(cell) and self.sandbox is not None:
            self.judge(cell)

    # ------------------------------------------------------------ verdicts

    def freeze(self) -> None:
        """The last cell has run: what the sensor reports from now on (the kernel shutting down) is ignored."""
        self.drain()
        with self._lock:
            self.frozen = True

    def judge(self, cell: NotebookNode) -> None:
        """The test's points depend on the verdict computed here, from the evidence the cell exported."""
        if grade_id(cell) not in HIDDEN:
            return  # not one of this lab's tests: nbgrader's own rule applies
        # nbgrader reads a number printed as the cell's result as partial credit; the tests print none.
        cell.outputs = [output for output in cell.outputs if output.output_type != "execute_result"]
        if any(output.output_type == "error" for output in cell.outputs):
            return  # the visible test (or the kernel) already failed it, with its own message
        try:
            found = evidence.load(self.exports, grade_id(cell))
        except ValueError as error:
            fail(cell, f"the grader could not read this test's results ({error}); run the notebook from the top")
            return
        if found is None:
            fail(cell, "the grader received no results from this test: did something stop the test cell early?")
            return
        try:
            outcome = verdict(grade_id(cell), self.lab, found, self.refs)
        except Exception as error:  # malformed evidence from student code must fail the test, not the grader
            fail(cell, f"the answer could not be checked ({error.__class__.__name__}: {error})")
            return
        if not outcome.passed:
            fail(cell, outcome.message)

    def finish(self) -> None:
        """After the last cell: shortcuts and tampering reported by the sensor cost their questions."""
        for cell in self.nb.cells:
            if not is_test_cell(cell) or any(output.output_type == "error" for output in cell.outputs):
                continue
            question = question_of(grade_id(cell))
            if self.ledger.tampering:
                fail(
                    cell,
                    f"this notebook tried to switch off the autograder's checks ({self.ledger.tampering[0]}), "
                    "so none of its tests can be trusted",
                )
            elif question in self.ledger.costs:
                fail(cell, self.ledger.costs[question])

    def reap(self) -> None:
        """Kill what is left of the sandbox (a fork bomb's processes) before a new kernel starts."""
        if self.user:
            self.user.reap()

    def close(self) -> None:
        """Stop listening, clear out the sandbox, give the working folder back and remove the runtime folder."""
        self._socket.close()
        if self.user:
            self.user.release()
        if self.uid is not None:
            _chown_tree(self.folder, os.getuid())
        shutil.rmtree(self.runtime, ignore_errors=True)
