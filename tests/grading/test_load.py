"""A student's score does not depend on the machine's load: grading next to busy loops that keep every core busy.

Time limits count the CPU time of the kernel's processes, not wall-clock time: a correct submission
graded while the test saturates the machine keeps full marks, and an endless loop still loses only
its own question (it uses CPU time as fast as it is given any, so it is stopped all the same).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grading import attacks, golden, roundtrip

pytestmark = pytest.mark.slow


#: A busy loop that ends by itself after 30 minutes, even if the test that started it dies. It bounds
#: itself rather than running under `timeout`: killing a `timeout` wrapper leaves its child spinning.
BUSY_LOOP = "import time\nend = time.monotonic() + 1800\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def busy_machine():
    """One busy loop per core (every core busy: grading gets about half of each), stopped after the test."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(os.cpu_count() or 1)]
    yield loops
    for loop in loops:
        loop.kill()
        loop.wait()


def test_correct_work_keeps_its_points_on_a_saturated_machine(busy_machine, tmp_path):
    """Correct: full marks; endless loop in Q1: only Q1 lost; both graded at once while every core is busy."""
    # Notebook 2 is the one whose answers use the most CPU (they embed the images); the loop is in notebook 1.
    submissions = {
        "correct": golden.Crafted(notebooks=(attacks.NB2,)),
        "infinite_loop": attacks.MISBEHAVING["infinite_loop"],
    }
    scores, run = roundtrip.round_trip(tmp_path / "course", submissions, jobs=2, options=roundtrip.QUICK_CPU_LIMIT)
    assert all(loop.poll() is None for loop in busy_machine), "a busy loop ended before grading did"
    assert not run.failures, run.summary()
    assert roundtrip.mismatches(scores, submissions) == []
