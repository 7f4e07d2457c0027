"""The lab's notebooks as documents: nbgrader metadata, the points table, the committed release, JupyterLab."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grading import course
from helpers.config import PROJECT_ROOT

ROOT = PROJECT_ROOT
NOTEBOOKS = course.notebook_names()


def _cells(name: str, folder: Path | None = None) -> list[nbformat.NotebookNode]:
    folder = folder or course.source_dir()
    return nbformat.read(folder / name, as_version=4).cells


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_four_numbered_topic_notebooks():
    """The lab is four notebooks named by order and topic."""
    assert NOTEBOOKS == [
        "1_data_and_transforms.ipynb",
        "2_embeddings.ipynb",
        "3_spark_lsh.ipynb",
        "4_nearest_neighbors.ipynb",
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_notebooks_are_clean(name):
    """Source notebooks carry no outputs or execution counts (CI executes them)."""
    for cell in _cells(name):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_starts_with_a_locked_setup_cell(name):
    """The first code cell of every notebook is the locked Setup cell that calls lab.setup()."""
    first = next(cell for cell in _cells(name) if cell.cell_type == "code")
    assert _nbgrader(first).get("grade_id") == "setup" and _nbgrader(first).get("locked")
    assert "lab.setup()" in first.source


def test_twelve_questions_each_with_answer_and_test_cell():
    """Q1-Q12 each have one answer cell with solution markers, then one test cell q<N>_... with points."""
    answers, tests = {}, {}
    for name in NOTEBOOKS:
        for cell in _cells(name):
            meta = _nbgrader(cell)
            if meta.get("solution"):
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, meta["grade_id"]
                answers[meta["grade_id"]] = name
            if meta.get("grade"):
                tests[meta["grade_id"]] = (name, meta["points"], cell.source)
    assert sorted(answers, key=lambda g: int(g[1:].split("_")[0])) == [f"q{n}_answer" for n in range(1, 13)]
    numbers = sorted(int(re.match(r"q(\d+)_[a-z0-9_]+$", grade_id).group(1)) for grade_id in tests)
    assert numbers == list(range(1, 13))
    for grade_id, (name, points, source) in tests.items():
        assert points > 0
        assert answers[f"{grade_id.split('_')[0]}_answer"] == name, f"{grade_id} is not next to its answer"
        docstring = ast.get_docstring(
            ast.parse(source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", ""))
        )
        assert docstring and "\n" not in docstring.strip(), f"{grade_id} needs a one-line docstring"
        assert "### BEGIN HIDDEN TESTS" in source and "### END HIDDEN TESTS" in source, (
            f"{grade_id} has no hidden tests"
        )


def test_points_table_matches_the_test_cells():
    """The table at the top of notebook 1 lists exactly the points the test cells award."""
    table = _cells(NOTEBOOKS[0])[0].source
    listed = {f"q{n}": float(points) for n, points in re.findall(r"^\| Q(\d+) \|.*\| (\d+) \|$", table, re.M)}
    awarded = {grade_id.split("_")[0]: points for grade_id, points in course.test_points().items()}
    assert listed == awarded
    total = re.search(r"\*\*Total\*\* \| \*\*(\d+)\*\*", table)
    assert total and float(total.group(1)) == sum(awarded.values())


@pytest.mark.slow
def test_committed_release_is_up_to_date(tmp_path):
    """release/lab5 is exactly what nbgrader generate_assignment makes from source/ today."""
    release = course.generate_release(course.prepare_course(tmp_path / "course"))
    for name in NOTEBOOKS:
        committed = ROOT / "release" / "lab5" / name
        assert committed.is_file(), f"{committed} is missing: run `make release` and commit release/"
        assert committed.read_text() == (release / name).read_text(), (
            f"{committed} is stale: run `make release` and commit release/"
        )


def test_release_hides_solutions_and_hidden_tests():
    """Students see stubs instead of solutions and none of the hidden tests."""
    for name in NOTEBOOKS:
        for cell in _cells(name, ROOT / "release" / "lab5"):
            assert "BEGIN SOLUTION" not in cell.source and "BEGIN HIDDEN TESTS" not in cell.source
            if _nbgrader(cell).get("solution"):
                assert "raise NotImplementedError()" in cell.source


@pytest.mark.slow
def test_jupyterlab_has_the_nbgrader_extension():
    """`jupyter labextension list` shows @jupyter/nbgrader enabled and OK, so students get Validate."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert re.search(r"@jupyter/nbgrader v0\.9\.\d+ enabled OK", listing), listing


@pytest.mark.slow
def test_validate_invert_passes_on_the_release(tmp_path):
    """`nbgrader validate --invert` passes the untouched release: every stub fails its tests.

    The solutions' side is covered twice elsewhere: nbval runs source/, and the golden solution
    scores full marks when the class is graded (tests/grading/test_class.py).
    """
    course_dir = course.prepare_course(tmp_path / "course")
    release = course.generate_release(course_dir)
    inverted = course.nbgrader(
        course_dir, "validate", "--invert", *sorted(str(p) for p in release.glob("*.ipynb")), check=False
    )
    assert inverted.returncode == 0, inverted.stdout[-3000:]
    assert inverted.stdout.count("Success!") == len(NOTEBOOKS), inverted.stdout[-3000:]
