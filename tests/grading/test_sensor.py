"""grading.sensor, in a real sandbox: every way of running reference code is reported, tampering is refused.

Each case runs a few lines of Python in a bubblewrap sandbox set up like a graded kernel's (the
sensor at /run/lab5, the lab's package importable) and collects what the sensor sends.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest

from grading import sandbox, shortcuts
from helpers.config import PROJECT_ROOT

pytestmark = [
    pytest.mark.slow,  # every case starts a sandboxed interpreter
    pytest.mark.skipif(sandbox.unavailable_reason() is not None, reason=str(sandbox.unavailable_reason())),
]

CALL = "import numpy as np\nfrom helpers import store\n"


@pytest.fixture
def run_in_sandbox(tmp_path):
    """Run code in a sandbox with the sensor armed; returns (exit status, stdout+stderr, reports)."""

    def run(code: str) -> tuple[int, str, list]:
        runtime, work = tmp_path / "runtime", tmp_path / "work"
        runtime.mkdir(exist_ok=True)
        work.mkdir(exist_ok=True)
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        channel.bind(str(runtime / "sensor.sock"))
        (runtime / "sensor.sock").chmod(0o666)
        (runtime / "grader.json").write_text(
            json.dumps(
                {
                    "sensor_socket": str(runtime / "sensor.sock"),
                    "exports": str(runtime),
                    "reference_code": shortcuts.watched_code(),
                }
            )
        )
        user = sandbox.SandboxUser() if sandbox.running_as_root() else None
        if user:
            for path in (runtime, work):
                path.chmod(0o777)
        box = sandbox.Sandbox(
            runtime,
            work,
            [*sandbox.python_paths(), PROJECT_ROOT / "helpers"],
            {
                sandbox.RUN / "grader.json": runtime / "grader.json",
                sandbox.RUN / "sensor.py": PROJECT_ROOT / "grading" / "sensor.py",
            },
            {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LAB_WEIGHTS": "random"},
            user.uid if user else None,
        )
        try:
            result = subprocess.run(
                box.command([sys.executable, "-c", textwrap.dedent(code)]), capture_output=True, text=True, timeout=300
            )
        finally:
            if user:
                user.release()
        channel.setblocking(False)
        reports = []
        try:
            while True:
                reports.append(json.loads(channel.recv(65536)))
        except BlockingIOError:
            channel.close()
        return result.returncode, result.stdout + result.stderr, reports

    return run


def _called(reports) -> list[str]:
    return [detail["function"] for kind, _, detail in reports if kind == "reference"]


FRAME = "store.embeddings_frame"
ARGS = "(['a'], np.zeros((1, 3)))"
SPELLINGS = {
    "direct": f"{FRAME}{ARGS}",
    "alias": f"from helpers.store import embeddings_frame as frame\nframe{ARGS}",
    "star-import": f"from helpers.store import *\nembeddings_frame{ARGS}",
    "strings": "import importlib\n"
    f"getattr(importlib.import_module('helpers.' + 'st' + 'ore'), 'embeddings_' + 'frame'){ARGS}",
    "exec": f'exec("{FRAME}{ARGS}")',
    "copied-code": f"import types\ntypes.FunctionType({FRAME}.__code__, {FRAME}.__globals__){ARGS}",
    "thread": f"import threading\nt = threading.Thread(target={FRAME}, args={ARGS})\nt.start()\nt.join()",
    "raw-thread": f"import _thread, time\n_thread.start_new_thread({FRAME}, {ARGS})\ntime.sleep(2)",
    "thread-hook-removed": f"import threading\nthreading.settrace(None)\n"
    f"t = threading.Thread(target={FRAME}, args={ARGS})\nt.start()\nt.join()",
    "subprocess": "import subprocess, sys\nsubprocess.run([sys.executable, '-c', "
    "'import numpy; from helpers import store; store.embeddings_frame([\"a\"], numpy.zeros((1, 3)))'], check=True)",
    "fork": f"import os\nif os.fork() == 0:\n    {FRAME}{ARGS}\n    os._exit(0)\nos.wait()",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_way_of_running_reference_code_is_reported(run_in_sandbox, spelling):
    """However the call is spelled, the sensor reports the reference function that ran."""
    status, output, reports = run_in_sandbox(CALL + spelling)
    assert status == 0, output
    assert "embeddings_frame" in _called(reports)


def test_mentioning_or_importing_without_calling_is_not_reported(run_in_sandbox):
    """A comment, an import and a reference kept in a variable cost nothing."""
    status, output, reports = run_in_sandbox(
        CALL + "# store.embeddings_frame would do it\nkept = store.embeddings_frame\n"
    )
    assert status == 0, output
    assert reports == []


@pytest.mark.parametrize(
    "tampering",
    [
        "import sys\nsys.settrace(None)",
        "import threading\nthreading.settrace(lambda *args: None)\nt = threading.Thread(target=print)\n"
        "t.start()\nt.join()",
        "import sys\nsys.gettrace().__code__ = (lambda *args: None).__code__",
        "import ctypes\nctypes.pythonapi.PyEval_SetTrace",
    ],
    ids=["settrace", "thread-hook", "replace-code", "ctypes"],
)
def test_switching_the_sensor_off_is_refused_and_reported(run_in_sandbox, tampering):
    """Each attempt fails with the sandbox's message and is reported as tampering."""
    _, output, reports = run_in_sandbox(CALL + tampering)
    assert "autograder" in output
    assert [kind for kind, _, _ in reports] == ["tamper"]


def test_threads_and_forks_of_honest_code_report_nothing(run_in_sandbox):
    """Threads starting and ending, forks with threads alive, garbage collection: no tampering is reported."""
    code = CALL + textwrap.dedent("""
        import gc, os, threading, time
        threads = [threading.Thread(target=time.sleep, args=(0.3,)) for _ in range(4)]
        [t.start() for t in threads]
        for _ in range(5):
            if os.fork() == 0:
                os._exit(0)
            os.wait()
        [t.join() for t in threads]
        gc.collect()
    """)
    status, output, reports = run_in_sandbox(code)
    assert status == 0, output
    assert reports == []
