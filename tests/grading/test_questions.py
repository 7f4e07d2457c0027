"""Every question lives in one place on each side of the student/grader line, and its test cell is short.

``helpers/questions/qNN_*.py`` (what the test collects, its visible check) and
``grading/questions/qNN_*.py`` (its hidden check) must exist for every graded cell of ``source/``,
and nothing else may: a question missing on one side would silently keep or lose its points.
"""

from __future__ import annotations

import inspect
import re

import pytest

from grading import questions as grading_questions
from grading.course import grade_id, is_test_cell, notebook_names, source_cells
from grading.hidden import settings_of
from helpers import questions as student_questions
from helpers.config import GRADER_DIR, PROJECT_ROOT

TESTS = {grade_id(cell): name for name, cells in source_cells().items() for cell in cells if is_test_cell(cell)}
SOURCES = {grade_id(cell): cell.source for cells in source_cells().values() for cell in cells if is_test_cell(cell)}


def test_every_graded_cell_has_exactly_one_entry_on_each_side():
    """The graded cells of source/, the student side's questions and the grader's checks are the same set."""
    assert list(student_questions.questions()) == list(grading_questions.questions()) == list(TESTS)
    for side in (student_questions, grading_questions):
        declared = [module.GRADE_ID for module in side.questions().values()]
        assert len(declared) == len(set(declared)), f"a grade_id is declared twice in {side.__name__}"


@pytest.mark.parametrize("grade", list(TESTS))
def test_each_question_declares_what_its_side_needs(grade):
    """Student side: collect and visible; grader side: check, and only artefacts the grader knows how to make."""
    student, grader = student_questions.question(grade), grading_questions.questions()[grade]
    assert {"collect", "visible"} <= set(vars(student)) and inspect.signature(student.visible).parameters.keys() == {
        "lab",
        "found",
    }
    check = inspect.signature(grader.check)
    assert list(check.parameters)[:3] == ["lab", "found", "refs"]
    # Further parameters are the test cell's settings, keyword-only and given there: it is their one home.
    settings = settings_of(SOURCES[grade])
    check.bind("lab", "found", "refs", **settings)
    assert [p.name for p in check.parameters.values() if p.kind is p.KEYWORD_ONLY] == list(settings)
    assert all(p.default is p.empty for p in check.parameters.values()), "a setting's default would be a second home"
    assert set(getattr(grader, "KERNEL_NEEDS", ())) | {getattr(grader, "PROVIDES", "resized")} <= {
        "resized",
        "embeddings",
    }
    assert student.__name__.rsplit(".", 1)[-1] == grader.__name__.rsplit(".", 1)[-1], "one file name per question"


@pytest.mark.parametrize("name", notebook_names())
def test_test_cells_name_their_grade_id_once(name):
    """A test cell is its docstring, the visible test with the answers it grades, and the hidden part: one grade_id."""
    for cell in source_cells()[name]:
        if is_test_cell(cell):
            assert cell.source.count(grade_id(cell)) == 1, grade_id(cell)
            code = [line for line in cell.source.splitlines() if line.strip() and not line.startswith(("#", '"""'))]
            assert len(code) <= 4, code


def test_no_notebook_sees_its_own_answers():
    """Each notebook's sandbox sees the stand-ins for earlier answers, never the artefact one of its questions makes."""
    for grade, module in grading_questions.questions().items():
        if provided := getattr(module, "PROVIDES", None):
            assert provided not in grading_questions.notebook_artefacts(TESTS[grade]), grade
    assert grading_questions.notebook_artefacts(notebook_names()[0]) == set()
    assert grading_questions.notebook_artefacts(notebook_names()[-1]) == {"resized", "embeddings"}


def test_the_graders_folder_in_the_sandbox_is_named_once():
    """helpers/__init__.py, the sandbox and the sensor's settings all use helpers.config.GRADER_DIR."""
    for path in (
        "helpers/__init__.py",
        "helpers/questions/__init__.py",
        "grading/hidden.py",
        "grading/submission_sandbox.py",
    ):
        source = (PROJECT_ROOT / path).read_text()
        assert "GRADER_DIR" in source and str(GRADER_DIR) not in source, path
    for name in ("sensor.py", "zygote.py"):  # inside the sandbox: they find their settings beside themselves
        assert not re.search(r"/run/lab5", (PROJECT_ROOT / "grading" / name).read_text().split('"""', 2)[2]), name
