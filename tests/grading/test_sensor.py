"""grading.sensor, in a real sandbox: every way of running reference code is reported, every way around it refused.

Each case runs a few lines of Python in a bubblewrap sandbox set up like a graded kernel's (the sensor
at /run/lab5, its settings and socket read-only, the lab's package importable) and collects what the
sensor sends. The kernel-only part (whether a locked cell asked) is graded in tests/grading/test_class.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest

from grading import sandbox
from helpers.config import GRADER_DIR, PROJECT_ROOT

pytestmark = [
    pytest.mark.slow,  # every case starts a sandboxed interpreter
    pytest.mark.skipif(sandbox.unavailable_reason() is not None, reason=str(sandbox.unavailable_reason())),
]

CALL = "import numpy as np\nfrom helpers.reference import storage\n"


@pytest.fixture
def run_in_sandbox(tmp_path):
    """Run code in a sandbox with the sensor armed; returns (exit status, stdout+stderr, reports)."""

    def run(code: str) -> tuple[int, str, list]:
        sensor, work, identity = tmp_path / "sensor", tmp_path / "work", tmp_path / "identity"
        for folder in (sensor, work, identity):
            folder.mkdir(exist_ok=True)
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        channel.bind(str(sensor / "sensor.sock"))
        (sensor / "sensor.sock").chmod(0o666)
        settings = {"sensor_socket": str(sensor / "sensor.sock"), "lab_root": str(PROJECT_ROOT / "helpers")}
        (sensor / "grader.json").write_text(json.dumps(settings))
        user = sandbox.SandboxUser() if sandbox.running_as_root() else None
        if user:
            work.chmod(0o777)
        read_only = {path: path for path in sandbox.python_paths()}
        read_only |= {
            PROJECT_ROOT / "helpers": PROJECT_ROOT / "helpers",
            sensor: sensor,
            GRADER_DIR / "grader.json": sensor / "grader.json",
            GRADER_DIR / "sensor.py": PROJECT_ROOT / "grading" / "sensor.py",
        }
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LAB_WEIGHTS": "random", "PYTHONDONTWRITEBYTECODE": "1"}
        box = sandbox.Sandbox(identity, work, read_only, {work: work}, env, user.uid if user else None)
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
    return [detail["function"] for kind, _, _, detail in reports if kind == "reference"]


def _tampering(reports) -> list[str]:
    return [detail for kind, _, _, detail in reports if kind == "tamper"]


FRAME = "storage.embeddings_frame"
ARGS = "(['a'], np.zeros((1, 3)))"
SPELLINGS = {
    "direct": f"{FRAME}{ARGS}",
    "alias": f"from helpers.reference.storage import embeddings_frame as frame\nframe{ARGS}",
    "star-import": f"from helpers.reference.storage import *\nembeddings_frame{ARGS}",
    "strings": "import importlib\n"
    f"getattr(importlib.import_module('helpers.reference.' + 'sto' + 'rage'), 'embeddings_' + 'frame'){ARGS}",
    "exec": f'exec("{FRAME}{ARGS}")',
    "its-own-code-elsewhere": f"import types\ntypes.FunctionType({FRAME}.__code__, {{'__builtins__': __builtins__, "
    "'np': np, 'pd': __import__('pandas'), 'component_names': lambda n: [str(i) for i in range(n)], "
    f"'IMAGE_COLUMN': 'image'}}){ARGS}",
    "borrowed-file-name": "import os\nsource = 'def go(f, a):\\n    return f(*a)\\n'\n"
    "space = {}\nexec(compile(source, os.__file__, 'exec'), space)\n"
    f"space['go']({FRAME}, {ARGS})",
    "thread": f"import threading\nt = threading.Thread(target={FRAME}, args={ARGS})\nt.start()\nt.join()",
    "raw-thread": f"import _thread, time\n_thread.start_new_thread({FRAME}, {ARGS})\ntime.sleep(2)",
    "subprocess": "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import numpy; from helpers.reference "
    'import storage; storage.embeddings_frame(["a"], numpy.zeros((1, 3)))\'], check=True)',
    "fork": f"import os\nif os.fork() == 0:\n    {FRAME}{ARGS}\n    os._exit(0)\nos.wait()",
    "finaliser": f"import weakref\nclass Box: pass\nbox = Box()\nweakref.finalize(box, {FRAME}, *{ARGS})\ndel box",
    "atexit": f"import atexit\natexit.register({FRAME}, *{ARGS})",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_way_of_running_reference_code_is_reported(run_in_sandbox, spelling):
    """However the call is spelled or whoever makes it, the sensor reports the reference function that ran."""
    status, output, reports = run_in_sandbox(CALL + spelling)
    assert status == 0, output
    assert "embeddings_frame" in _called(reports) and not _tampering(reports)


def test_the_reference_function_called_is_told_from_those_it_calls(run_in_sandbox):
    """embeddings_frame called by the student is the entry; called by write_embeddings it is marked inner."""
    code = CALL + "import tempfile, pathlib\n" + f"{FRAME}{ARGS}\n"
    code += f"storage.write_embeddings(*{ARGS}, pathlib.Path(tempfile.mkdtemp()) / 'v.csv')\n"
    status, output, reports = run_in_sandbox(code)
    assert status == 0, output
    calls = [(detail["function"], detail["inner"]) for kind, _, _, detail in reports if kind == "reference"]
    assert calls[:3] == [("embeddings_frame", False), ("write_embeddings", False), ("embeddings_frame", True)], calls


def test_mentioning_or_importing_without_calling_is_not_reported(run_in_sandbox):
    """A comment, an import and a reference kept in a variable cost nothing."""
    status, output, reports = run_in_sandbox(CALL + f"# {FRAME} would do it\nkept = {FRAME}\n")
    assert status == 0, output
    assert reports == []


REFERENCE_FILE = "import helpers.reference.storage as module\npath = module.__file__\n"
TAMPERING = {
    "compile-again": REFERENCE_FILE + "exec(compile(open(path).read(), path, 'exec'), {})",
    "compile-a-syntax-tree": REFERENCE_FILE + "import ast\ntree = ast.parse(open(path).read())\n"
    "exec(compile(tree, path, 'exec'), {})",
    "runpy": REFERENCE_FILE + "import runpy\nrunpy.run_path(path)",
    "unmarshal": REFERENCE_FILE + "import marshal\nmarshal.loads(marshal.dumps(path))",
    "rebuild-code": CALL + f"code = {FRAME}.__code__\ncode.replace(co_consts=tuple(c for c in code.co_consts))",
    "rebuild-code-elsewhere": CALL + f"code = {FRAME}.__code__\ncode.replace(co_filename='/tmp/mine.py')",
    "replace-code": CALL + f"{FRAME}.__code__ = (lambda names, vectors: None).__code__",
    "standard-loader": "import sys, types, helpers\n"
    "sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, types.SimpleNamespace)]\n"
    "import helpers.reference.neighbors",
    "ctypes-in-the-kernel": "import ctypes, runpy\n"  # as in the kernel: ctypes loaded before the sensor arms
    "runpy.run_path('/run/lab5/sensor.py')['install'](kernel=True)\nctypes.pythonapi.PyEval_SetProfile",
}


@pytest.mark.parametrize("tampering", TAMPERING.values(), ids=TAMPERING.keys())
def test_every_way_around_the_sensor_is_refused_and_reported(run_in_sandbox, tampering):
    """Getting the lab's code without its reports fails with the sandbox's message and is reported as tampering."""
    _, output, reports = run_in_sandbox(tampering)
    assert "autograder" in output, output
    assert _tampering(reports), reports


def test_honest_work_reports_nothing(run_in_sandbox):
    """Threads, forks, a traceback through lab code (read from its file), sys.settrace and profiling: all quiet."""
    code = CALL + textwrap.dedent("""
        import gc, os, sys, threading, time, traceback
        threads = [threading.Thread(target=time.sleep, args=(0.3,)) for _ in range(4)]
        [t.start() for t in threads]
        for _ in range(5):
            if os.fork() == 0:
                os._exit(0)
            os.wait()
        [t.join() for t in threads]
        gc.collect()
        from helpers import store
        try:
            store.read_embeddings("missing.csv")
        except ValueError:
            traceback.format_exc()
        import IPython.core.ultratb, sys
        try:
            store.read_embeddings("missing.csv")
        except ValueError:
            IPython.core.ultratb.VerboseTB().text(*sys.exc_info())
        sys.settrace(None)
        sys.setprofile(lambda *args: None)
        sys.setprofile(None)
    """)
    status, output, reports = run_in_sandbox(code)
    assert status == 0, output
    assert reports == []
