"""The nbgrader round trip on crafted submissions, in a scratch course (the real gradebook is never touched).

Release, submit, autograde (``grading.autograde``, sandboxed, in parallel), write feedback and grades,
and compare every score with what each :class:`grading.golden.Crafted` submission must get.
``make demo`` and the tests run it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from grading.autograde import ClassRun, grade_class
from grading.course import ASSIGNMENT, generate_release, nbgrader, prepare_course, read_scores, score_table, submit
from grading.golden import GOLDEN, Crafted, make_submission

#: For tests: CPU seconds a cell may use, ~6x the heaviest correct cell (Q3, about 3.4 s), so that
#: never-ending cells stop sooner than under the production limit and the suite stays short.
QUICK_CPU_LIMIT = ("--SandboxedExecute.cpu_timeout=20",)


def round_trip(
    course: Path,
    submissions: dict[str, Crafted] | None = None,
    jobs: int | None = None,
    options: tuple[str, ...] = (),
    sample_pool: int | None = None,
) -> tuple[pd.DataFrame, ClassRun]:
    """Release, submit ``submissions`` (default: the golden ones), autograde (``sample_pool``: as
    ``make autograde --sample-pool``), write feedback and grades.csv.
    """
    submissions = submissions or GOLDEN
    if course.exists():
        shutil.rmtree(course)
    prepare_course(course)
    release = generate_release(course)
    for student, crafted in submissions.items():
        submit(course, student, make_submission(release, crafted))
    run = grade_class(course, list(submissions), jobs, options=options, progress=False, sample_pool=sample_pool)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return read_scores(course), run


def mismatches(scores: pd.DataFrame, submissions: dict[str, Crafted]) -> list[str]:
    """Every score that differs from the expected one, as a sentence (also students with no scores at all)."""
    found = {(row.student, row.grade_id): row.score for row in scores.itertuples()}
    wrong = []
    for student, crafted in submissions.items():
        for grade, expected in crafted.expected().items():
            got = found.get((student, grade))
            if got != expected:
                wrong.append(f"{student} {grade}: scored {got}, expected {expected:g}")
    return wrong


def report(course: Path, jobs: int | None = None) -> int:
    """``python -m grading roundtrip``: grade the golden submissions, print the table; 1 on any mismatch."""
    scores, run = round_trip(course, jobs=jobs)
    print(run.summary() + "\n")
    print(score_table(scores).to_string(float_format=lambda v: f"{v:g}"))
    wrong = mismatches(scores, GOLDEN)
    for line in wrong:
        print(f"MISMATCH {line}")
    print(f"\nfeedback HTML: {course / 'feedback'}\ngrades: {course / 'grades.csv'}")
    return 1 if wrong else 0
