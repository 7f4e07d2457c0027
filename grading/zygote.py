"""The kernels' fork server: one per submission, inside the submission's sandbox.

``grading.submission_sandbox`` starts it as ``python /run/lab5/zygote.py FD``: FD is its end of a socket
pair whose other end only the grader holds. It imports the big libraries once (the same for every
notebook), says it is ready, then forks one kernel per request. The child drops to its notebook's
sandbox user (when grading as root; the server is then the sandbox's root, with only the capabilities
to change user), arms the sensor (its settings are the notebook's, written by the grader before the
request) and runs ipykernel. Four notebooks then cost one import and four forks, not four imports.

A request for a notebook that uses Spark gets the submission's driver JVM: on the first such request the
server forks a child that drops to the same user and starts the JVM as ``helpers.spark.get_spark`` would
(``helpers.spark.start_driver``), then holds it. Each later Spark kernel attaches to it (pyspark's
``PYSPARK_GATEWAY_PORT``) after stopping the SparkContext an earlier kernel left in it, so notebook 4
starts in a warm JVM: about 4 s less for it than a JVM of its own (README, "Grading a class").

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
import signal
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
#: Seconds an attaching kernel waits for the driver JVM's answer before it starts a JVM of its own instead: far
#: more than the 0.1 s it takes, so only a JVM that an earlier kernel stopped or filled misses it.
DRIVER_PATIENCE = 30
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


def _drop(request, libc):
    """In a forked child: a process group of its own, the submission's user, no way back to the server's rights."""
    os.setpgid(0, 0)  # the grader signals the child's group, never the server's
    # The child's orphans (a daemon of the student's) stay in its tree, where the watchdog counts their CPU.
    _prctl(libc, PR_SET_CHILD_SUBREAPER, 1)
    uid = request["uid"]
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # every capability goes with root
    _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)
    _prctl(libc, PR_SET_DUMPABLE, 1)  # as any process its user starts (the server's own setting is not)


def _leave(status):
    """Leave as a process that ran to its end would (exit handlers, flushed streams), never back into the server."""
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _attach(driver):
    """Whether this kernel may use the submission's driver JVM: attached, with no SparkContext of an earlier
    kernel's left running in it. When the JVM does not answer (an earlier kernel stopped it, or filled it),
    it is killed and the kernel starts a JVM of its own, as outside the sandbox: slower, graded the same.
    """
    from py4j.java_gateway import GatewayParameters, JavaGateway

    parameters = GatewayParameters(port=driver["port"], auth_token=driver["secret"], read_timeout=DRIVER_PATIENCE)
    gateway = JavaGateway(gateway_parameters=parameters)
    try:
        # Scala's companion object: SparkContext.getActive is package-private in Scala, public to the JVM.
        contexts = getattr(getattr(gateway.jvm.org.apache.spark, "SparkContext$"), "MODULE$")
        active = contexts.getActive()
        if active.isDefined():
            active.get().stop()
        return True
    except Exception:
        with contextlib.suppress(OSError):
            os.killpg(driver["pid"], signal.SIGKILL)
        return False
    finally:
        gateway.close()


def _become_kernel(request, libc, sensor, driver):
    """In the forked child: the notebook's user, attached to the driver JVM if any, the sensor armed, ipykernel."""
    status = 1
    try:
        _drop(request, libc)
        import numpy

        numpy.random.seed()  # a new process's entropy, not the server's state
        if driver is not None and _attach(driver):
            os.environ["PYSPARK_GATEWAY_PORT"] = str(driver["port"])
            os.environ["PYSPARK_GATEWAY_SECRET"] = driver["secret"]
        sensor.start_kernel(request["argv"])
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        _leave(status)


def _become_driver(request, libc, sensor, report):
    """In the forked child: the submission's user, a driver JVM started, its gateway reported on ``report``, then
    held until it ends (it ends when this process does: its standard input closes).
    """
    status = 1
    try:
        _drop(request, libc)
        # The lab's helpers from the folder the sandbox shows, where the kernels' sensor finds them: the finder
        # of an editable install may name another (a course folder reached through a link, a venv made elsewhere).
        sys.path.insert(0, os.path.dirname(os.path.realpath(sensor._settings()["lab_root"])))
        from helpers.spark import start_driver

        port, secret, jvm = start_driver()
        os.write(report, json.dumps({"port": port, "secret": secret}).encode())
        os.close(report)
        jvm.wait()
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        _leave(status)


def _start_driver(request, libc, sensor, channel):
    """The submission's driver JVM, started in a child of the server: its pid (its group's), port and secret, or
    None when it could not start (each kernel then starts a JVM of its own).
    """
    reader, writer = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        channel.close()
        os.close(reader)
        _become_driver(request, libc, sensor, writer)
    os.close(writer)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()  # until the child closes it: reported, or ended
    return {"pid": pid, **json.loads(data)} if data else None


def _reap():
    """Collect the children that ended (a kernel's exit is the grader's to see, through its pid file descriptor);
    returns their pids.
    """
    ended = set()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.add(pid)


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
    driver = None
    while True:
        readable, _, _ = select.select([channel], [], [], 0.5)
        ended = _reap()
        if driver is not None and driver["pid"] in ended:
            driver = None
        if not readable:
            continue
        data = channel.recv(65536)
        if not data:
            os._exit(0)  # the grader is done with this submission: nothing here to tear down
        request = json.loads(data)
        if request["spark"] and driver is None:
            driver = _start_driver(request, libc, sensor, channel)
        _clear_tmp(keep)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _become_kernel(request, libc, sensor, driver if request["spark"] else None)
        with contextlib.suppress(OSError):  # the child got there first
            os.setpgid(pid, pid)  # also here: the grader may signal the group before the child has run at all
        channel.send(json.dumps({"pid": pid, "driver": driver and driver["pid"]}).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
