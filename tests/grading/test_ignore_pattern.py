"""nbgrader's IgnorePattern: known JVM and Spark lines on stderr cost no points, anything else on stderr does."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grading import course

pytestmark = pytest.mark.slow


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
