"""The autograder round trip: golden submissions score exactly what they should, and noise on stderr is handled."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grading import course, golden, roundtrip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """All golden submissions autograded once in a scratch course."""
    course_dir = tmp_path_factory.mktemp("roundtrip") / "course"
    return course_dir, roundtrip.round_trip(course_dir)


def test_every_golden_submission_scores_exactly_as_expected(graded):
    """Per student and question, the autograder awards exactly the expected points."""
    _, scores = graded
    expected = golden.expected_scores()
    assert set(scores["student"]) == set(expected)
    got = {(row.student, row.grade_id): row.score for row in scores.itertuples()}
    want = {(student, grade_id): points for student, table in expected.items() for grade_id, points in table.items()}
    assert got == want


def test_solution_gets_full_marks_and_blank_gets_zero(graded):
    """The solution scores 20 of 20 and the untouched release 0."""
    _, scores = graded
    totals = scores.groupby("student")["score"].sum()
    assert totals["solution"] == scores.groupby("student")["max_score"].sum()["solution"] == 20
    assert totals["blank"] == 0


def test_wrong_answers_do_not_cascade_into_later_notebooks(graded):
    """A wrong Q1 or Q4 leaves every question of the later notebooks at full marks."""
    _, scores = graded
    wrong = scores[scores["student"] == "wrong_answers"].set_index("grade_id")["score"]
    assert wrong["q1_resize_224_jpeg"] == 0 and wrong["q2_class_c_get_vec"] == 3 and wrong["q3_all_embeddings"] == 2
    assert wrong["q4_embeddings_csv"] == 0 and wrong["q5_spark_dataframe"] == 1 and wrong["q6_features_vector"] == 2


def test_fallback_note_is_visible_to_the_student(graded):
    """The notebook after a broken answer says it continues from the reference artefact."""
    course_dir, _ = graded
    notebook = nbformat.read(course_dir / "autograded" / "wrong_answers" / "lab5" / "2_embeddings.ipynb", as_version=4)
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "your Q1 output is not usable" in printed


def test_feedback_and_grades_are_written(graded):
    """Every student gets feedback HTML for every notebook, and grades.csv lists every student."""
    course_dir, scores = graded
    for student in set(scores["student"]):
        for name in course.notebook_names():
            assert (course_dir / "feedback" / student / "lab5" / name.replace(".ipynb", ".html")).is_file()
    grades = pd.read_csv(course_dir / "grades.csv")
    assert set(grades["student_id"]) == set(scores["student"])


def _noise_assignment(course_dir: Path) -> None:
    source = course_dir / "source" / "noise"
    source.mkdir(parents=True)
    cells = []
    lines = {
        "jvm_banner": "WARNING: Using incubator modules: jdk.incubator.vector",
        "spark_warn": "12:34:56 WARN NativeCodeLoader: Unable to load native-hadoop library",
        "student_error": "something the student printed to stderr",
    }
    for grade_id, line in lines.items():
        # os.write on fd 2 is how the JVM's own lines arrive: below Python's sys.stderr. The kernel
        # forwards such output from a reader thread, so the cell waits a moment for it to arrive.
        code = (
            f'"""Writes {grade_id} noise to stderr, then passes."""\nimport os, time\n'
            f"os.write(2, {json.dumps(line + chr(10))}.encode())\ntime.sleep(1)\nassert True"
        )
        cells.append(
            new_code_cell(
                code,
                metadata={
                    "nbgrader": {
                        "grade": True,
                        "grade_id": grade_id,
                        "locked": True,
                        "points": 1,
                        "schema_version": 3,
                        "solution": False,
                    }
                },
            )
        )
    notebook = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nbformat.write(notebook, source / "noise.ipynb")


def test_ignore_pattern_forgives_spark_noise_but_not_other_stderr(tmp_path):
    """Known JVM/Spark lines on stderr cost no points (IgnorePattern); anything else on stderr still does."""
    course_dir = course.prepare_course(tmp_path / "course")
    _noise_assignment(course_dir)
    course.nbgrader(course_dir, "generate_assignment", "noise", "--force")
    submitted = course_dir / "submitted" / "student" / "noise"
    submitted.mkdir(parents=True)
    (submitted / "noise.ipynb").write_text((course_dir / "release" / "noise" / "noise.ipynb").read_text())
    course.nbgrader(course_dir, "autograde", "noise", "--create", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        scores = {
            grade.name: grade.score for grade in gradebook.find_submission_notebook("noise", "noise", "student").grades
        }
    assert scores == {"jvm_banner": 1, "spark_warn": 1, "student_error": 0}
