"""One submission's sandbox: its notebooks' kernels are forked in it, one notebook after another.

The sandbox (:mod:`grading.sandbox`) starts once per submission, with the kernels' fork server
(``grading/zygote.py``) inside, which imports the big libraries once. What differs from one notebook to
the next the grader shows through folders the sandbox binds once and that it refills before each
notebook (:meth:`SubmissionSandbox.admit`): the reference files the notebook may read (hard links in a
staging folder shown as the lab's cache), the sensor's settings, the sandbox user's identity, and the
runtime folders (the kernel's sockets, the evidence its tests export). Before each kernel, every other
process of the sandbox is killed: nothing of an earlier notebook's sees the next notebook's files. One
exception: the notebooks that use Spark share the submission's driver JVM (``grading/zygote.py``), which
lives from the first of them to the end of the submission. Each kernel stops the SparkContext an earlier
one left in it, and everything the JVM started is killed with the rest; what it holds is the student's
own (nothing of the grader's passes through it, and an earlier notebook's grades are in by then).

Read-only, the sandbox shows the Python environment, the lab's ``helpers`` package, the sensor, the two
files of ``grading`` that hidden test cells import, the run's images (in ``GRADER_DIR``), the
autograder's sample file and the network's weights. It writes the submission's working folder (shown at
/home/student/lab5, where ``lab5_work/`` is made) and its part of the runtime folder.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grading import sandbox
from grading.watchdog import children_of, kill_tree, living, process_tree
from helpers.config import GRADER_DIR, PROJECT_ROOT, cache_dir, java_home_setting, subset_setting
from helpers.java import require_java
from helpers.lab import LabSetup
from helpers.models import hub_dir
from helpers.spark import class_archive

#: Where the kernel starts inside the sandbox: a neutral path, so that nothing it prints names the grader's folders.
WORKDIR = Path("/home/student/lab5")
#: The grading files a hidden test cell imports, and the two the kernels start through.
KERNEL_SIDE = ("__init__.py", "hidden.py")
SERVER_SIDE = ("sensor.py", "zygote.py")


class ForkedKernel:
    """A kernel the fork server forked, handled as jupyter_client handles the ``Popen`` of a kernel it started.

    It is not the grader's child: its end shows on a pid file descriptor, and its exit status is the
    server's (reported here as 0 once it has ended).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._ended = os.pidfd_open(pid)

    def poll(self) -> int | None:
        """None while the kernel runs."""
        return self.wait(0) if self.returncode is None else self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the kernel has ended (at most ``timeout`` seconds)."""
        if self.returncode is None and select.select([self._ended], [], [], timeout)[0]:
            os.close(self._ended)
            self.returncode = 0
        return self.returncode

    def send_signal(self, number: int) -> None:
        """Signal the kernel (not its group)."""
        if self.poll() is None:
            os.kill(self.pid, number)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)


def _global_pid(root: int, namespace_pid: int) -> int | None:
    """The pid, as the grader sees it, of the process in ``root``'s tree that is ``namespace_pid`` in the sandbox."""
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("NSpid:") and int(line.split()[-1]) == namespace_pid:
                    return pid
    return None


def _stage(source: Path, target: Path) -> None:
    """``source`` (a file or a folder) shown at ``target``: hard links where they can be made, else copies."""

    def link(origin: str, destination: str) -> None:
        try:
            os.link(origin, destination)
        except OSError:
            shutil.copy2(origin, destination)

    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=link)
    else:
        link(str(source), str(target))


def _chown_tree(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            os.chown(path, uid, uid, follow_symlinks=False)


def _empty(folder: Path) -> None:
    """Remove what ``folder`` holds (links are removed, never followed)."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class SubmissionSandbox:
    """The sandbox of one submission's kernels and its fork server; :meth:`admit` readies it for a notebook."""

    def __init__(self, lab: LabSetup, sample: Path | None, limits: sandbox.Limits):
        self.lab, self.sample, self.limits = lab, sample, limits
        self.runtime = Path(tempfile.mkdtemp(prefix="lab5-"))
        for folder in ("kernel", "exports", "sensor", "identity"):
            (self.runtime / folder).mkdir()
        self.exports = self.runtime / "exports"
        self.grader_json = self.runtime / "sensor" / "grader.json"
        self.grader_json.write_text("{}")
        cache_dir().mkdir(parents=True, exist_ok=True)
        # Beside the cache, so that the reference files are hard links, not copies.
        self.staging = Path(tempfile.mkdtemp(prefix="lab5-staging-", dir=cache_dir()))
        self.staging.chmod(0o755)
        self.archive = class_archive(require_java())
        # As root, the submission's kernels run as a user of its own, leased for the submission.
        self.user = sandbox.SandboxUser() if sandbox.running_as_root() else None
        self.uid = self.user.uid if self.user else None
        if self.uid is not None:
            self.runtime.chmod(0o711)
        self.box = self._sandbox()
        self._notebooks = 0
        self._start()

    def _sandbox(self) -> sandbox.Sandbox:
        read_only = {path: path for path in sandbox.python_paths()}
        read_only[PROJECT_ROOT / "helpers"] = PROJECT_ROOT / "helpers"
        read_only |= {PROJECT_ROOT / "grading" / name: PROJECT_ROOT / "grading" / name for name in KERNEL_SIDE}
        read_only |= {GRADER_DIR / name: PROJECT_ROOT / "grading" / name for name in SERVER_SIDE}
        read_only[GRADER_DIR / "grader.json"] = self.grader_json
        read_only[self.runtime / "sensor"] = self.runtime / "sensor"
        read_only[GRADER_DIR / "data"] = self.lab.dataset.root
        read_only[GRADER_DIR / "cache"] = self.staging
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
        env |= self.limits.thread_settings()
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
        # As root the server stays the sandbox's root (with only the capabilities to change user): each kernel
        # drops to the submission's user itself.
        return sandbox.Sandbox(
            self.runtime / "identity", WORKDIR, read_only, writable, env, self.uid, self.limits, drop=False
        )

    # ------------------------------------------------------------ the fork server

    def _start(self) -> None:
        """The sandbox with its fork server, started; it imports while the grader prepares the notebook."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = self.box.command([sys.executable, str(GRADER_DIR / "zygote.py"), str(theirs.fileno())])
        self.process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self.channel = ours
        self.server: int | None = None  # its pid, once it is ready
        self.spare: set[tuple[int, str]] = set()
        self.driver: int | None = None  # the driver JVM's holder, once a Spark notebook has started it
        self._driver_spare: set[tuple[int, str]] = set()  # the holder and its JVM

    def _ready(self) -> int:
        """The server's pid, once it has imported what the kernels use."""
        if self.server is None:
            reply = json.loads(self.channel.recv(65536) or b"{}")
            if "ready" not in reply:
                raise RuntimeError(f"the kernels' fork server ended before it was ready (exit {self.process.wait()})")
            self.server = _global_pid(self.process.pid, reply["ready"])
            # bubblewrap's two processes and the server: what the sandbox runs when no kernel does.
            self.spare = {identity for pid in process_tree(self.process.pid) if (identity := living(pid))}
        return self.server

    def clear(self, patience: float = 60.0) -> None:
        """Kill every process of the sandbox but the server (and bubblewrap's) and the driver JVM, and wake them if
        stopped.
        """
        if self.server is None:
            return
        deadline = time.monotonic() + patience
        while kill_tree(self.process.pid, spare=self.spare | self._driver_spare) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Stopped by an earlier kernel (same user), the server and the driver JVM would hold up the next one.
        held = [self.server, *(pid for pid, started in self._driver_spare if living(pid) == (pid, started))]
        for pid in held:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)

    def driver_roots(self) -> list[int]:
        """The driver JVM's holder, while it lives: its tree is the running kernel's too (the watchdog counts it)."""
        return [self.driver] if self.driver is not None and living(self.driver) in self._driver_spare else []

    def fork(self, argv: list[str], spark: bool) -> ForkedKernel:
        """A kernel forked with ipykernel's arguments in ``argv`` (after ``ipykernel_launcher``); with ``spark``,
        attached to the submission's driver JVM (started first when there is none).
        """
        if self.process.poll() is not None:  # killed by a kernel of an earlier notebook (it runs as their user)
            self.channel.close()
            self._start()
        self._ready()
        self.clear()
        position = argv.index("ipykernel_launcher")
        request = {"argv": argv[position + 1 :], "uid": self.uid, "spark": spark}
        self.channel.send(json.dumps(request).encode())
        reply = json.loads(self.channel.recv(65536) or b"{}")
        pid = _global_pid(self.process.pid, reply["pid"]) if "pid" in reply else None
        if pid is None:
            raise RuntimeError("the kernels' fork server could not fork a kernel")
        driver = _global_pid(self.process.pid, reply["driver"]) if reply.get("driver") else None
        if driver != self.driver:  # started now (the holder's only child is its JVM), or gone
            self.driver = driver
            holder = [driver, *children_of(driver)] if driver else []
            self._driver_spare = {identity for pid in holder if (identity := living(pid))}
        return ForkedKernel(pid)

    # ------------------------------------------------------------ one notebook after another

    def admit(self, settings: dict, published: list[Path]) -> None:
        """The sandbox readied for the next notebook: nothing left of the last one's, ``published`` (reference
        files in the lab's cache) shown, the sensor's ``settings`` in place, its folders the kernel's user's.
        """
        self.clear()
        for folder in (self.runtime / "kernel", self.exports, self.staging):
            _empty(folder)
        for path in published:
            _stage(path, self.staging / path.relative_to(cache_dir()))
        if self.archive.is_file():  # Spark's class archive: its JVMs start sooner
            _stage(self.archive, self.staging / self.archive.relative_to(cache_dir()))
        self._notebooks += 1
        settings = {**settings, "sensor_socket": str(self.sensor_socket), "exports": str(self.exports)}
        self.grader_json.write_text(json.dumps(settings))  # in place: the sandbox shows this file, not its name
        if self.uid is not None:
            for folder in (self.runtime / "kernel", self.exports):
                os.chown(folder, self.uid, self.uid)
            _chown_tree(self.lab.notebook_dir, self.uid)

    @property
    def sensor_socket(self) -> Path:
        """Where the current notebook's sensor reports (a new socket per notebook)."""
        return self.runtime / "sensor" / f"sensor-{self._notebooks}.sock"

    def close(self) -> None:
        """The server and every process of the sandbox gone (it holds nothing to save), its folders removed."""
        self.channel.close()
        kill_tree(self.process.pid)
        self.process.wait()
        if self.user:
            self.user.release()
            _chown_tree(self.lab.notebook_dir, os.getuid())
        shutil.rmtree(self.runtime, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)


_lock = threading.Lock()
_current: tuple[tuple, SubmissionSandbox] | None = None


def for_submission(lab: LabSetup, sample: Path | None, limits: sandbox.Limits) -> SubmissionSandbox:
    """The sandbox of the submission being graded, started on its first notebook (one submission at a time
    per process; the previous one's is closed when the next starts).
    """
    global _current
    key = (lab.notebook_dir, lab.dataset.root, lab.weights, sample, limits)
    with _lock:
        if _current is not None and _current[0] == key:
            return _current[1]
        if _current is not None:
            _current[1].close()
        _current = (key, SubmissionSandbox(lab, sample, limits))
        return _current[1]


@atexit.register
def close_current() -> None:
    """Close the sandbox of the submission graded last (after its last notebook)."""
    global _current
    with _lock:
        if _current is not None:
            _current[1].close()
            _current = None
