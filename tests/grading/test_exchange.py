"""nbgrader's own path for courses on JupyterHub, end to end, through a local exchange directory.

release_assignment, fetch_assignment (as a student), submit, collect, autograde (sandboxed, two at a
time, as ``make autograde JOBS=2`` does, together with a second student's work collected from an LMS
download as ``make collect`` does), generate_feedback, release_feedback and fetch_feedback: the
student ends up with feedback pages that carry their scores and messages, and no hidden test.
"""

from __future__ import annotations

import html
import os
import pwd
import re
import subprocess
import sys

import nbformat
import pytest

from grading import course
from grading.autograde import grade_class
from grading.golden import solution_answers

pytestmark = pytest.mark.slow
COURSE_ID = "lab5-deep-learning-with-spark"
#: On JupyterHub every student is an OS user; here the student's commands run as the test's own user.
STUDENT = pwd.getpwuid(os.getuid()).pw_name
WRONG_Q12 = "fig = plt.figure()  # empty: no pictures at all\n"


def _as(folder, *arguments: str, exchange) -> str:
    """Run an nbgrader command in ``folder``, that folder as home (submissions are named after the OS user)."""
    environment = {**os.environ, "HOME": str(folder)}
    environment.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments, f"--Exchange.root={exchange}"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"nbgrader {arguments}: {result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_the_jupyterhub_exchange_round_trip(tmp_path):
    """A student fetches, answers, submits; the instructor collects, grades, returns feedback; the student reads it."""
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o777)
    instructor = course.prepare_course(tmp_path / "course")
    student = tmp_path / "student"
    student.mkdir()
    course.generate_release(instructor)
    _as(instructor, "release_assignment", course.ASSIGNMENT, exchange=exchange)

    _as(student, "fetch_assignment", course.ASSIGNMENT, f"--course={COURSE_ID}", exchange=exchange)
    answers = {**solution_answers(), "q12_answer": WRONG_Q12}
    for name in course.notebook_names():
        notebook = nbformat.read(student / course.ASSIGNMENT / name, as_version=4)
        for cell in notebook.cells:
            if course.grade_id(cell) in answers:
                cell.source = answers[course.grade_id(cell)]
        nbformat.write(notebook, student / course.ASSIGNMENT / name)
    # This student hands in notebook 4 only (its feedback is what the test reads); notebook 1 goes to
    # the second student below. The grading of the others is another test's claim.
    first, last = course.notebook_names()[0], course.notebook_names()[-1]
    first_answered = nbformat.read(student / course.ASSIGNMENT / first, as_version=4)
    for name in course.notebook_names()[:-1]:
        (student / course.ASSIGNMENT / name).unlink()
    _as(student, "submit", course.ASSIGNMENT, f"--course={COURSE_ID}", exchange=exchange)

    _as(instructor, "collect", course.ASSIGNMENT, exchange=exchange)
    assert sorted(p.name for p in (instructor / "submitted" / STUDENT / course.ASSIGNMENT).glob("*.ipynb")) == [last]
    # A second student's work arrives as an LMS (Canvas) download instead: `make collect` takes it in.
    # This student handed in notebook 1 only: graded alone, the others count as missing (0 points).
    archive = instructor / "downloaded" / course.ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    nbformat.write(first_answered, archive / f"canvas02_4711_900_{first}")
    course.nbgrader(instructor, "zip_collect", course.ASSIGNMENT, "--force")
    run = grade_class(instructor, jobs=2, progress=False)
    assert not run.failures and len(run.graded) == 2, run.summary()
    scores = course.read_scores(instructor).pivot_table(index="grade_id", columns="student", values="score")
    points = course.test_points()

    def notebook_points(name: str) -> float:
        return sum(points[course.grade_id(c)] for c in course.source_cells()[name] if course.is_test_cell(c))

    assert scores.fillna(0).sum().to_dict() == {
        "canvas02": notebook_points(first),
        STUDENT: notebook_points(last) - points["q12_neighbor_figure"],
    }
    assert scores.loc["q12_neighbor_figure"].fillna(0).tolist() == [0, 0]
    course.nbgrader(instructor, "generate_feedback", course.ASSIGNMENT, "--force")
    assert course.release_feedback(instructor, f"--Exchange.root={exchange}") == ["canvas02"]

    _as(student, "fetch_feedback", course.ASSIGNMENT, f"--course={COURSE_ID}", exchange=exchange)
    pages = sorted((student / course.ASSIGNMENT / "feedback").glob("*/*.html"))
    assert [page.name for page in pages] == [last.replace(".ipynb", ".html")]
    text = {page.name: html.unescape(re.sub(r"<[^>]+>", "", page.read_text())) for page in pages}
    assert "fig shows 0 images" in text["4_nearest_neighbors.html"]
    assert not [name for name, page in text.items() if "_hidden.check" in page or "BEGIN HIDDEN" in page]
