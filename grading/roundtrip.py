"""The nbgrader round trip on the golden submissions, in a scratch course (the real gradebook is never touched).

Release, submit the golden submissions, autograde, write feedback and grades, and compare every
score with :func:`grading.golden.expected_scores`. ``make demo`` and the tests run it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from grading.course import ASSIGNMENT, generate_release, nbgrader, prepare_course, read_scores, score_table, submit
from grading.golden import expected_scores, golden_submissions


def round_trip(course: Path, students: list[str] | None = None) -> pd.DataFrame:
    """Release, submit the golden submissions, autograde, write feedback and grades.csv; return the scores."""
    if course.exists():
        shutil.rmtree(course)
    prepare_course(course)
    release = generate_release(course)
    golden = golden_submissions(release)
    for student in students or list(golden):
        submit(course, student, golden[student])
    started = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--create", "--force")
    seconds = time.perf_counter() - started
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    scores = read_scores(course)
    scores.attrs["autograde_seconds"] = seconds
    return scores


def mismatches(scores: pd.DataFrame) -> list[str]:
    """Every score that differs from the expected one, as a sentence."""
    expected = expected_scores()
    return [
        f"{row.student} {row.grade_id}: scored {row.score:g}, expected {expected[row.student][row.grade_id]:g}"
        for row in scores.itertuples()
        if row.score != expected[row.student][row.grade_id]
    ]


def report(course: Path) -> int:
    """``python -m grading roundtrip``: grade the golden submissions, print the table; 1 on any mismatch."""
    scores = round_trip(course)
    table = score_table(scores)
    print(f"autograded {len(table)} golden submissions in {scores.attrs['autograde_seconds']:.0f} s\n")
    print(table.to_string(float_format=lambda v: f"{v:g}"))
    wrong = mismatches(scores)
    for line in wrong:
        print(f"MISMATCH {line}")
    print(f"\nfeedback HTML: {course / 'feedback'}\ngrades: {course / 'grades.csv'}")
    return 1 if wrong else 0
