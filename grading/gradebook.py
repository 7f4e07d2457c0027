"""One writer for the course's gradebook: scratch gradebooks of graded submissions merged into it.

nbgrader's SQLite gradebook takes concurrent writers badly, so parallel graders never write it:
each grades one submission in a scratch course with its own copy of the gradebook, and the parent
copies that one submission's rows into the course's gradebook, one submission at a time.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

STUDENT_FIELDS = ("first_name", "last_name", "email", "lms_user_id")


def url(path: Path) -> str:
    """The SQLAlchemy URL nbgrader uses for a gradebook file."""
    return f"sqlite:///{path}"


def snapshot(source: Path, target: Path) -> Path:
    """A consistent copy of a gradebook, taken with SQLite's backup API (safe while it is open elsewhere)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    return target


def merge_submission(scratch: Path, master: Path, assignment: str, student: str) -> None:
    """Copy one student's graded submission (scores, comments, flags, late penalties) into ``master``."""
    # nbgrader's update_or_create_submission warns under SQLAlchemy 2 about an autoflush it does not need;
    # the rows it writes are right, and the warning would only bury the instructor's progress bar.
    with warnings.catch_warnings(), Gradebook(url(scratch)) as source, Gradebook(url(master)) as target:
        warnings.simplefilter("ignore", SAWarning)
        graded = source.find_submission(assignment, student)
        person = graded.student
        target.update_or_create_student(
            student, **{name: getattr(person, name) for name in STUDENT_FIELDS if hasattr(person, name)}
        )
        target.update_or_create_submission(assignment, student, timestamp=graded.timestamp, extension=graded.extension)
        for notebook in graded.notebooks:
            try:
                copy = target.find_submission_notebook(notebook.name, assignment, student)
            except MissingEntry:
                continue  # a notebook the master's assignment does not have (never graded)
            copy.flagged, copy.late_submission_penalty = notebook.flagged, notebook.late_submission_penalty
            for grade in notebook.grades:
                mine = target.find_grade(grade.name, notebook.name, assignment, student)
                mine.auto_score, mine.manual_score = grade.auto_score, grade.manual_score
                mine.extra_credit, mine.needs_manual_grade = grade.extra_credit, grade.needs_manual_grade
            for comment in notebook.comments:
                mine = target.find_comment(comment.name, notebook.name, assignment, student)
                mine.auto_comment, mine.manual_comment = comment.auto_comment, comment.manual_comment
        target.db.commit()
