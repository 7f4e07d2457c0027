"""What a hidden test cell calls: ``_verdict = hidden.check("q3_all_embeddings", _found)``.

Under the autograder the cell runs in the student's sandboxed kernel, which student code controls,
so nothing decided there can count: ``check`` only hands the evidence (plain data) to the grader
outside the sandbox, which computes the verdict itself with :mod:`grading.checks` after the cell.
Anywhere else (nbval in CI, ``nbgrader validate``) ``check`` computes the verdict right here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grading.sensor import SETTINGS
from helpers.checks import Evidence


@dataclass(frozen=True)
class Verdict:
    """A test's outcome: passed, or the message that says what is wrong."""

    passed: bool
    message: str = ""


def check(grade_id: str, found: Evidence) -> Verdict:
    """The verdict of the hidden checks of ``grade_id`` on ``found``."""
    if Path(SETTINGS).is_file():
        from grading import evidence

        evidence.save(found, Path(json.loads(Path(SETTINGS).read_text())["exports"]), grade_id)
        return Verdict(True, "the grader checks this outside the notebook's kernel")
    from grading.checks import verdict
    from helpers import lab

    return verdict(grade_id, lab.setup(), found)
