"""What each question's test checks on the student's machine: one module per question (``q07_lsh_model``).

A question's module declares ``GRADE_ID`` (its test cell's nbgrader id) and two functions:

* ``collect(lab, **answers)`` turns the answers into evidence, plain data (names, arrays, column
  types, the figure's pixels), so that nothing checks the student's objects themselves;
* ``visible(lab, found)`` is the visible test: the first thing wrong, as a :class:`Diagnosis`, or None.

A test cell calls :func:`test`. The autograder's hidden checks read the same evidence outside the
student's kernel (``grading/questions/``, which students do not get). The modules import nothing
heavy at the top, so that a notebook pays only for the libraries its own questions use.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from helpers.config import GRADER_DIR
from helpers.lab import restore_and_setup
from helpers.questions.evidence import Evidence, save


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong with an answer: ``name`` is the same for everyone who made this mistake (the class report
    counts it), ``message`` says what to fix in this answer.
    """

    name: str
    message: str


def modules_by_grade_id(package: ModuleType) -> dict[str, ModuleType]:
    """The question modules (``qNN_*``) of a package, by the ``GRADE_ID`` each declares, in question order."""
    modules = [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
        if info.name[:1] == "q" and info.name[1:3].isdigit()
    ]
    return {module.GRADE_ID: module for module in modules}


@cache
def questions() -> dict[str, ModuleType]:
    """Every question's module, by its test cell's grade_id, in question order."""
    return modules_by_grade_id(sys.modules[__name__])


def question(grade_id: str) -> ModuleType:
    """The module of the question whose test cell has this grade_id."""
    try:
        return questions()[grade_id]
    except KeyError:
        raise KeyError(f"{grade_id!r} is not one of the lab's tests: {', '.join(questions())}") from None


def test(grade_id: str, **answers: object) -> Evidence:
    """A test cell's visible part: collect the evidence of ``answers``, then fail with the first visible problem.

    Under the autograder the evidence is also handed to the grader, which checks it in full outside
    the notebook's kernel; the returned evidence is what the cell's hidden part checks elsewhere.
    """
    lab = restore_and_setup()
    module = question(grade_id)
    found = module.collect(lab, **answers)
    if (GRADER_DIR / "grader.json").is_file():
        save(found, _exports(), grade_id)
    problem = module.visible(lab, found)
    assert problem is None, problem.message
    return {"grade_id": grade_id, **found}


def _exports() -> Path:
    """The folder the autograder's sandbox collects evidence from (named in its settings)."""
    return Path(json.loads((GRADER_DIR / "grader.json").read_text())["exports"])
