"""The autograder's sensor: inside a grading sandbox, it reports every run of the lab's reference code.

The sandbox mounts this file at /run/lab5/sensor.py with its settings in /run/lab5/grader.json. The
kernel starts through it (``python /run/lab5/sensor.py --kernel -f CONNECTION``), and
``helpers/__init__.py`` runs it in every other Python process of the sandbox that imports the lab's
package, so no way of calling the reference code escapes it: an alias, a star import, importlib, names
built from strings, a thread or a subprocess all end up executing the same code objects.

It reports, over a datagram socket to the grader outside the sandbox:

* ``reference``: a function of the reference table started, with who asked for it: the innermost
  notebook cell on the stack (by the file name ipykernel gives a cell's code) or the notebook-defined
  class whose inherited method it is;
* ``tamper``: code tried to switch the sensor off (``sys.settrace``, replacing the sensor's code).

The grader decides what an event costs (``grading.shortcuts``). The sensor changes nothing else, and
when it cannot report it ends the process rather than let reference code run unseen. Standard library
only: it runs before anything else is imported.
"""

import _thread
import json
import os
import socket
import sys
import sysconfig
import threading

SETTINGS = "/run/lab5/grader.json"
PING = "lab5.sensor.ping"


def _installed() -> bool:
    box = [False]
    sys.audit(PING, box)  # the installed sensor's audit hook answers by setting box[0]
    return box[0]


def install(kernel: bool = False) -> None:
    """Start reporting (once per process); ``kernel``: this process is the notebook's kernel."""
    if _installed():
        return
    with open(SETTINGS) as stream:
        settings = json.load(stream)
    watched = frozenset((path, qualname) for path, qualname in settings["reference_code"])
    files = frozenset(path for path, _ in watched)
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    main_thread = _thread.get_ident()
    kernel_pid = os.getpid() if kernel else -1

    def report(kind, detail, _send=channel.sendto, _to=settings["sensor_socket"], _pid=os.getpid, _exit=os._exit):
        try:
            _send(json.dumps([kind, _pid(), detail]).encode()[:60000], _to)
        except OSError:
            _exit(70)  # fail closed: nothing of the reference code may run unreported

    def origin(frame):
        """Who asked for the work: the innermost notebook cell on the stack (by its file name), or the
        notebook-defined class of a ``self`` on the way there (a subclass inheriting reference methods).
        """
        while frame is not None:
            name = frame.f_code.co_filename
            if "ipykernel_" in name or name.startswith("<ipython-input"):
                return {"cell": os.path.basename(name)}  # noqa: PTH119 - no pathlib on this path
            instance = frame.f_locals.get("self") if name in files else None
            if instance is not None and getattr(type(instance), "__module__", "") == "__main__":
                return {"class": type(instance).__qualname__}
            frame = frame.f_back
        return {}

    def tracer(frame, event, arg, _files=files, _watched=watched, _report=report, _origin=origin):
        code = frame.f_code
        if code.co_filename in _files and (code.co_filename, code.co_qualname) in _watched:
            # Only the kernel's own main thread runs the locked cells' plumbing; anything else the student started.
            main = _thread.get_ident() == main_thread and os.getpid() == kernel_pid
            _report(
                "reference",
                {"function": code.co_qualname, "file": code.co_filename, "main_thread": main, **_origin(frame)},
            )
        return None  # no line-by-line tracing: only calls are watched

    start = _thread.start_new_thread

    def start_traced(function, args, kwargs=None, _start=start, _settrace=sys.settrace, _tracer=tracer):
        def run(*positional, **named):
            _settrace(_tracer)
            return function(*positional, **named)

        return _start(run, args, kwargs or {})

    sys.settrace(tracer)
    threading.settrace(tracer)
    _thread.start_new_thread = start_traced
    threading._start_new_thread = start_traced
    # Who may still call sys.settrace: new threads arming the sensor (the event itself carries no argument).
    run_code = next(const for const in start_traced.__code__.co_consts if getattr(const, "co_name", "") == "run")
    bootstrap = threading.Thread._bootstrap_inner.__code__  # sets threading's hook, which must still be the sensor
    stdlib, site = sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]

    def suspicious(
        code, _run=run_code, _bootstrap=bootstrap, _threading=threading, _stdlib=stdlib, _site=site, _tracer=tracer
    ):
        """Whether a sys.settrace call comes from code a student controls (or a debugger they started).

        The interpreter itself also raises the event while it clears threads (after a fork, say), with
        whatever library code happens to be running: that is not tampering.
        """
        if code is _run:
            return False
        if code is _bootstrap:
            return _threading._trace_hook is not _tracer
        name = code.co_filename
        if name.startswith(_stdlib):
            return os.path.basename(name) in ("bdb.py", "pdb.py", "trace.py", "threading.py")  # noqa: PTH119
        if name.startswith(_site):
            return "/debugpy/" in name
        return True  # notebook cells, exec'd strings, the student's own files

    guarded = (tracer, report, origin, start_traced, suspicious)

    def audit(event, args, _report=report, _guarded=guarded, _suspicious=suspicious, _getframe=sys._getframe):
        if event == PING:
            args[0][0] = True
        elif event == "sys.settrace":
            try:
                caller = _getframe(1).f_code
            except ValueError:
                return  # raised by the interpreter itself, with no Python code running
            if _suspicious(caller):
                _report("tamper", f"sys.settrace from {caller.co_name} in {caller.co_filename}")
                raise RuntimeError("the autograder's sandbox does not allow sys.settrace")
        elif event == "object.__setattr__" and any(args[0] is function for function in _guarded):
            _report("tamper", f"replacing {args[1]} of the grader's sensor")
            raise RuntimeError("the autograder's sensor cannot be changed")
        elif event == "ctypes.dlsym" and any(word in str(args[-1]) for word in ("Trace", "Audit", "Profile")):
            _report("tamper", f"ctypes access to {args[-1]}")
            raise RuntimeError("the autograder's sandbox does not allow this ctypes call")

    sys.addaudithook(audit)


if __name__ == "__main__" and sys.argv[1:2] == ["--kernel"]:
    import runpy

    # ipykernel's debugger (debugpy) calls sys.settrace once when imported: let it, before the sensor arms.
    import ipykernel.debugger
    import ipykernel.ipkernel  # noqa: F401

    # The big libraries the notebook uses too: every call is traced once the sensor is armed, and
    # importing is nothing but calls. No reference code runs here; the Setup cell finds them imported.
    with open(SETTINGS) as stream:
        for library in json.load(stream).get("preimport", []):
            __import__(library)
    install(kernel=True)
    sys.argv = ["ipykernel_launcher", *sys.argv[2:]]
    sys.path[0] = os.getcwd()  # noqa: PTH109 - as for `python -m ipykernel_launcher`: the notebook's folder, not this one
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
elif __name__ == "lab5_sensor":  # runpy.run_path from helpers/__init__.py in any other sandboxed process
    install()
