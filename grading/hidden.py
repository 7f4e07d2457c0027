"""What a test cell's hidden part calls: ``grade(_found)``, on the evidence its visible part collected.

Under the autograder the visible part has already handed that evidence to the grader, which decides
outside the kernel (student code controls the kernel), so nothing happens here. Anywhere else (nbval
on the source notebooks in CI, ``nbgrader validate``) the hidden checks run right here.
"""

from __future__ import annotations

from helpers.config import GRADER_DIR
from helpers.questions.evidence import Evidence


def grade(found: Evidence) -> None:
    """Fail like a test when the hidden checks find the answer wrong (never inside the autograder's sandbox)."""
    if (GRADER_DIR / "grader.json").is_file():
        return
    from grading.verdicts import verdict
    from helpers import lab

    evidence = {key: value for key, value in found.items() if key != "grade_id"}
    result = verdict(found["grade_id"], lab.setup(), evidence)
    assert result.passed, result.message
