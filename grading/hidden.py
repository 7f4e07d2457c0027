"""What a test cell's hidden part calls: ``grade(_found, **settings)``, on the evidence its visible part collected.

Under the autograder the visible part has already handed that evidence to the grader, which decides
outside the kernel (student code controls the kernel), so nothing happens here. Anywhere else (nbval
on the source notebooks in CI, ``nbgrader validate``) the hidden checks run right here.

The call's keyword arguments are the instructor's settings of the question's check (Q11's
``at_least``, how many of the exact nearest neighbours must be found). The autograder reads them from
the test cell's source as the gradebook stores it (:func:`settings_of`), never from the kernel: a
changed setting in ``source/`` takes effect with ``make regrade``.
"""

from __future__ import annotations

import ast

from helpers.config import GRADER_DIR
from helpers.questions.evidence import Evidence

Settings = dict[str, object]


def grade(found: Evidence, **settings: object) -> None:
    """Fail like a test when the hidden checks find the answer wrong (never inside the autograder's sandbox)."""
    if (GRADER_DIR / "grader.json").is_file():
        return
    from grading.verdicts import verdict
    from helpers import lab

    evidence = {key: value for key, value in found.items() if key != "grade_id"}
    result = verdict(found["grade_id"], lab.setup(), evidence, settings=settings)
    assert result.passed, result.message


def settings_of(source: str) -> Settings:
    """The literal keyword arguments of the ``grade(...)`` call in a test cell's source (none: ``{}``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "grade":
            return {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords if keyword.arg}
    return {}
