"""The checker: a grading job holds no torch, its checks run in the class run's checker process, and a checker
that is gone makes the job fail loudly instead of scoring anyone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.config import PROJECT_ROOT

pytestmark = pytest.mark.slow  # fresh interpreters and a checker process

A_JOB_STARTS = """
import sys
from grading.worker import start_worker
start_worker()
print(sorted(name for name in ("torch", "torchvision") if name in sys.modules))
"""

A_JOB_CHECKS = """
import multiprocessing, os, signal, sys
from pathlib import Path
from grading import check_service

if __name__ == "__main__":
    with check_service.checker() as found:
        check_service.connect(found)
        check_service.checks().forget(Path("/no/such/submission"))  # answered by the checker
        print(sorted(name for name in ("torch", "torchvision") if name in sys.modules))
        [server] = [child for child in multiprocessing.active_children() if child.name.startswith("CheckerManager")]
        os.kill(server.pid, signal.SIGKILL)
        server.join()
        try:
            check_service.checks().forget(Path("/no/such/submission"))
        except (EOFError, OSError) as error:
            print("failed:", type(error).__name__)
"""


def _python(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_grading_job_holds_no_torch():
    """A worker ready to grade has imported nbgrader and the grading pipeline, but not torch (~0.7 GB)."""
    assert _python(A_JOB_STARTS) == ["[]"]


def test_a_job_checks_in_the_checker_and_fails_when_it_is_gone():
    """Calls reach the checker process (the job still imports no torch); once it is killed, the next call raises,
    which fails the submission (the grader's error) instead of returning a verdict.
    """
    lines = _python(A_JOB_CHECKS)
    assert lines[0] == "[]"
    assert lines[1].startswith("failed: "), lines
