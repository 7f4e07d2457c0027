"""The sandbox every submission's kernel runs in: bubblewrap, an unprivileged user and resource limits.

Inside, the kernel sees the system read-only (``/usr``, ``/etc``, the Python environment, the lab's
``helpers`` package and the dataset), writes only its own working folder and a private ``/tmp``,
and has no network but its own loopback (which Spark needs). It cannot see the course directory,
the gradebook, other submissions or anyone's home. When the grader runs as root, the kernel runs as
a user of its own, leased for the notebook machine-wide (so that a fork bomb exhausts only that
user's processes, and what is left of it can be killed); otherwise it runs in a user namespace as
the instructor. Memory, processes, file sizes
and open files are capped with rlimits, ``/tmp`` is a size-capped tmpfs, and the working folder's
total size is watched by :mod:`grading.watchdog`.

The kernel talks to nbgrader over ZeroMQ IPC sockets (files in the sandbox's runtime folder, which
both sides see), since the network namespace shuts out TCP from the outside.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOSTNAME = "lab5-sandbox"
FIX = (
    "Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) on a kernel with user namespaces "
    "enabled (sysctl kernel.unprivileged_userns_clone=1 where that setting exists), or grade as root. "
    "Only if you trust every submission: pass --unsafe-no-sandbox."
)


class SandboxUnavailableError(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here; the message says how to fix it."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed kernel (and everything it starts) may use."""

    memory_bytes: int = 8 * 2**30  # address space per process: a 30 GB allocation fails at once
    processes: int = 1024  # per sandbox user (threads count: the JVM alone runs ~150)
    file_bytes: int = 2**30  # largest file it may write
    disk_bytes: int = 2 * 2**30  # everything in its working folder together (watched)
    tmp_bytes: int = 2**30  # its private /tmp (a tmpfs, so this is also memory)
    open_files: int = 4096
    cpu_seconds: int = 4 * 3600  # per process, a last resort behind the per-cell CPU limit
    threads: int = 0  # threads of its numerical libraries (OpenMP: torch, numpy); 0 leaves them one per core

    def thread_settings(self) -> dict[str, str]:
        """The environment that holds its numerical libraries to ``threads`` (read by OpenMP when torch loads)."""
        return {"OMP_NUM_THREADS": str(self.threads)} if self.threads else {}


#: The sandbox users' ids when grading as root; each running kernel leases one (see :class:`SandboxUser`).
USER_IDS = range(61000, 62000)
LEASES = Path(tempfile.gettempdir()) / "lab5-sandbox-users"


class SandboxUser:
    """A user id leased for one notebook's kernels, machine-wide: no other grading run uses it meanwhile.

    Its process limit then binds only this sandbox, and everything still running as it when the
    notebook ends (a fork bomb's processes) can be killed without touching anyone else's.
    """

    def __init__(self) -> None:
        LEASES.mkdir(mode=0o700, exist_ok=True)
        for uid in USER_IDS:
            lock = (LEASES / f"{uid}.lock").open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            self.uid, self._lock = uid, lock
            self.reap()  # left over by a grader that crashed
            return
        raise SandboxUnavailableError(f"all {len(USER_IDS)} sandbox user ids are in use")

    def processes(self) -> list[int]:
        """The processes running as this user right now."""
        found = []
        for entry in os.scandir("/proc"):
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and entry.stat().st_uid == self.uid:
                    found.append(int(entry.name))
        return found

    def reap(self, patience: float = 60.0) -> None:
        """Kill every process of this user and wait until they are gone (they count against its limit until then)."""
        deadline = time.monotonic() + patience
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def release(self) -> None:
        """Clear out the user's processes and give the id back."""
        self.reap()
        self._lock.close()


def running_as_root() -> bool:
    """Grading as root: the kernel then runs as a sandbox user of its own instead of in a user namespace."""
    return os.geteuid() == 0


@functools.cache
def unavailable_reason() -> str | None:
    """Why this machine cannot sandbox kernels (None when it can): bwrap is run once to find out."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed. {FIX}"
    probe = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
    if running_as_root():
        probe = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--ro-bind", "/", "/", "true"]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        return f"bubblewrap cannot create a sandbox here ({result.stderr.strip() or result.returncode}). {FIX}"
    return None


def require() -> None:
    """Raise SandboxUnavailableError with the fix when kernels cannot be sandboxed here."""
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailableError(reason)


#: Mounted whole (or made) before anything else; directories inside them are never created.
SYSTEM = (Path("/usr"), Path("/etc"), Path("/proc"), Path("/dev"), Path("/tmp"))


def _folders_to_create(targets: list[Path]) -> list[Path]:
    """Every folder above a mount target that the sandbox's empty root does not have yet, outermost first."""
    seen: set[Path] = set()
    for target in targets:
        seen.update(parent for parent in target.parents if parent != Path("/"))
    system = [root for root in SYSTEM if root != Path("/tmp")]
    keep = [
        folder
        for folder in seen
        if folder not in SYSTEM and not any(root in folder.parents for root in system) and folder not in targets
    ]
    return sorted(keep, key=lambda folder: len(folder.parts))


@dataclass
class Sandbox:
    """One kernel's sandbox: what it sees (read-only or writable, target in the sandbox -> source outside),
    where it starts, its environment and limits.
    """

    identity: Path  # a folder of the grader's for the sandbox's /etc/hosts, passwd and group
    workdir: Path  # where the kernel starts: a writable target
    read_only: dict[Path, Path] = field(default_factory=dict)
    writable: dict[Path, Path] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None  # the sandbox user when grading as root
    limits: Limits = field(default_factory=Limits)
    # As root: argv runs as ``uid`` (False: as the sandbox's root, with only the capabilities to change to it,
    # which the kernels' fork server needs).
    drop: bool = True

    def _system(self) -> list[str]:
        arguments: list[str] = []
        for name in ("usr", "etc"):
            arguments += ["--ro-bind", f"/{name}", f"/{name}"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64"):
            path = Path("/") / name
            if path.is_symlink():
                arguments += ["--symlink", str(path.readlink()), str(path)]
            elif path.is_dir():
                arguments += ["--ro-bind", str(path), str(path)]
        for name in ("hosts", "passwd", "group"):
            arguments += ["--ro-bind", str(self.identity / name), f"/etc/{name}"]
        return [*arguments, "--proc", "/proc", "--dev", "/dev"]

    def _write_identity(self) -> None:
        uid = self.uid if self.uid is not None else os.getuid()
        self.identity.mkdir(parents=True, exist_ok=True)
        (self.identity / "hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n")
        (self.identity / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/sh\nstudent:x:{uid}:{uid}:student:/tmp:/bin/sh\n"
        )
        (self.identity / "group").write_text(f"root:x:0:\nstudent:x:{uid}:\n")

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped: rlimits, then bubblewrap, then (as root, with ``drop``) the drop to the sandbox user."""
        self._write_identity()
        limits = self.limits
        rlimits = [
            "prlimit",
            f"--as={limits.memory_bytes}",
            f"--fsize={limits.file_bytes}",
            f"--nofile={limits.open_files}",
            f"--cpu={limits.cpu_seconds}",
            "--core=0",
        ]
        if self.uid is not None:
            rlimits.append(f"--nproc={limits.processes}")
        namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if self.uid is None:
            namespaces.append("--unshare-user")
        else:
            namespaces += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        binds = [("--ro-bind", source, target) for target, source in self.read_only.items()]
        binds += [("--bind", source, target) for target, source in self.writable.items()]
        binds.sort(key=lambda bind: len(bind[2].parts))  # a folder before what is mounted inside it
        arguments = [
            "bwrap",
            *namespaces,
            "--die-with-parent",
            "--new-session",
            "--hostname",
            HOSTNAME,
            *self._system(),
            "--size",
            str(limits.tmp_bytes),
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
        ]
        for folder in _folders_to_create([target for _, _, target in binds]):
            arguments += ["--perms", "0755", "--dir", str(folder)]
        for kind, source, target in binds:
            arguments += [kind, str(source), str(target)]
        arguments += ["--remount-ro", "/", "--clearenv"]
        for name, value in self.env.items():
            arguments += ["--setenv", name, value]
        arguments += ["--chdir", str(self.workdir), "--"]
        if self.uid is not None and self.drop:
            arguments += [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        return [*rlimits, "--", *arguments, *argv]


def python_paths() -> list[Path]:
    """What the kernel's Python needs to start: this environment and the interpreter it was made from."""
    return sorted({Path(sys.prefix), Path(sys.base_prefix)})
