"""The hidden checks: one module per question, the grader's side of ``helpers/questions``.

A question's module declares ``GRADE_ID`` (its test cell's nbgrader id, as on the student's side)
and ``check(lab, found, refs)``: the first thing wrong with the evidence beyond the visible test, as a
:class:`~helpers.questions.Diagnosis` that names the mistake when the grader can reproduce it, or
None. It may also declare the reference artefacts it involves (``helpers.lab`` computes them):

* ``PROVIDES``: the artefact that stands in for this question's answer when the notebooks after it
  continue from the reference copy (Q1's resized images, Q4's embeddings);
* ``KERNEL_NEEDS``: artefacts its own test cell reads inside the sandbox (Q2 tries C on the reference
  224x224 images).

And ``REFERENCE_WORK``: the functions of ``helpers/reference`` (``file:qualname``) that do its work. When
one runs outside the lab's verified plumbing it costs this question, wherever it ran, so that an answer
cannot hand a later question's reference result over (:mod:`grading.shortcuts`).

A notebook's sandbox sees exactly the artefacts provided by earlier notebooks' questions and needed by
its own, never the answer to one of its own questions.
"""

from __future__ import annotations

import sys
from functools import cache
from types import ModuleType

from helpers.questions import modules_by_grade_id


@cache
def questions() -> dict[str, ModuleType]:
    """Every question's hidden-check module, by grade_id, in question order."""
    return modules_by_grade_id(sys.modules[__name__])


@cache
def reference_work() -> dict[str, tuple[str, ...]]:
    """The questions each reference function does the work of (``reference/resize.py:resize_folder``: Q1)."""
    from grading.course import question_of

    claims: dict[str, tuple[str, ...]] = {}
    for grade, module in questions().items():
        for function in getattr(module, "REFERENCE_WORK", ()):
            claims[function] = (*claims.get(function, ()), question_of(grade))
    return claims


def notebook_artefacts(notebook: str) -> set[str]:
    """The reference artefacts a notebook's kernel may see: those that stand in for the answers of earlier
    notebooks' questions (``PROVIDES``) and those its own tests read (``KERNEL_NEEDS``).
    """
    from grading.course import grade_id, is_test_cell, notebook_names, source_cells

    order = notebook_names()
    if notebook not in order:
        return set()  # an assignment of the instructor's own: no reference artefacts
    home = {
        grade_id(cell): order.index(name)
        for name, cells in source_cells().items()
        for cell in cells
        if is_test_cell(cell)
    }
    position = order.index(notebook)
    artefacts: set[str] = set()
    for grade, module in questions().items():
        if home[grade] < position and getattr(module, "PROVIDES", None):
            artefacts.add(module.PROVIDES)
        if home[grade] == position:
            artefacts.update(getattr(module, "KERNEL_NEEDS", ()))
    return artefacts
