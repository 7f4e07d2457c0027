"""The kernels' fork server: one per submission, inside the submission's sandbox.

``grading.submission_sandbox`` starts it as ``python /run/lab5/zygote.py FD``: FD is its end of a socket
pair whose other end only the grader holds. It imports the big libraries once (the same for every
notebook), says it is ready, then forks one kernel per request. The child drops to its notebook's
sandbox user (when grading as root; the server is then the sandbox's root, with only the capabilities
to change user), arms the sensor (its settings are the notebook's, written by the grader before the
request) and runs ipykernel. Four notebooks then cost one import and four forks, not four imports.

Nothing of student code runs here: the server only forks. It cannot be traced or read by the kernels'
processes (it is not dumpable), and the grader kills every other process of the sandbox and wakes the
server up before each request, so a kernel of an earlier notebook cannot stop it or wait in it.
Standard library only, but for the preimports: it runs before anything else is imported.
"""

import atexit
import contextlib
import ctypes
import importlib.util
import json
import os
import select
import shutil
import socket
import sys
import traceback

#: Imported before any sensor arms, so that libraries loading themselves (ctypes finding its C library,
#: for one) are not refused: every library the lab's notebooks use, imported once per submission.
PREIMPORT = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "numpy",
    "pandas",
    "PIL.Image",
    "torch",
    "torchvision.models",
    "torchvision.transforms",
    "pyspark.sql",
    "pyspark.ml.feature",
    "matplotlib.pyplot",
)
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
HERE = os.path.dirname(os.path.abspath(__file__))


def _sensor():
    """The sensor module, loaded under a name that does not arm it (each kernel arms it after the fork)."""
    spec = importlib.util.spec_from_file_location("lab5_kernel_sensor", os.path.join(HERE, "sensor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prctl(libc, option, value):
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value})")


def _clear_tmp(keep):
    """The sandbox's /tmp as the server left it: what an earlier notebook's kernel wrote there is gone."""
    for name in set(os.listdir("/tmp")) - keep:
        path = os.path.join("/tmp", name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _become_kernel(request, libc, sensor):
    """In the forked child: the notebook's user, a process group of its own, the sensor armed, ipykernel."""
    status = 1
    try:
        os.setpgid(0, 0)  # the grader signals the kernel's group, never the server's
        # The kernel's orphans (a daemon of the student's) stay in its tree, where the watchdog counts their CPU.
        _prctl(libc, PR_SET_CHILD_SUBREAPER, 1)
        uid = request["uid"]
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # every capability goes with root
        _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)
        _prctl(libc, PR_SET_DUMPABLE, 1)  # as any process its user starts (the server's own setting is not)
        import numpy

        numpy.random.seed()  # a new process's entropy, not the server's state
        sensor.start_kernel(request["argv"])
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        # Leave as a process that ran ipykernel would (exit handlers, flushed streams), never back into the server.
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _reap():
    """Collect the kernels that ended (their exit is the grader's to see, through their pid file descriptors)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(fd):
    """Serve fork requests on ``fd`` until the grader closes its end."""
    channel = socket.socket(fileno=fd)
    sensor = _sensor()
    for library in PREIMPORT:
        __import__(library)
    libc = ctypes.CDLL(None, use_errno=True)
    _prctl(libc, PR_SET_DUMPABLE, 0)  # no process of a kernel's may trace this one or read its memory
    keep = set(os.listdir("/tmp"))
    channel.send(json.dumps({"ready": os.getpid()}).encode())
    while True:
        readable, _, _ = select.select([channel], [], [], 0.5)
        _reap()
        if not readable:
            continue
        data = channel.recv(65536)
        if not data:
            os._exit(0)  # the grader is done with this submission: nothing here to tear down
        request = json.loads(data)
        _clear_tmp(keep)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _become_kernel(request, libc, sensor)
        with contextlib.suppress(OSError):  # the child got there first
            os.setpgid(pid, pid)  # also here: the grader may signal the group before the child has run at all
        channel.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
