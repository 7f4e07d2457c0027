"""Grades the LMS takes: points per question, and Canvas's gradebook import merged with its roster.

``make grades`` writes, besides nbgrader's ``grades.csv``:

- ``reports/lab5/points_per_question.csv``: one row per student, a column per question, the late
  penalty and the total (every student the gradebook knows; no submission scores 0);
- ``reports/lab5/canvas.csv``: the roster the instructor exported from Canvas (Grades > Export), its
  identity columns kept, with the lab's column filled in: the total after the late penalty, 0 for an
  enrolled student without a submission. Canvas imports it under Grades > Import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grading.course import ASSIGNMENT, read_scores, score_table

#: Canvas's identity columns, in its export's order; a student is matched on one of the last three.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MATCHABLE = ("SIS Login ID", "SIS User ID", "ID")
POINTS_POSSIBLE = "Points Possible"
DEFAULT_COLUMN = "Lab 5"


class RosterError(ValueError):
    """The roster cannot be read as a Canvas gradebook export (the message names the file and the fix)."""


@dataclass(frozen=True)
class CanvasExport:
    """What the merge did: where it wrote, the column it filled, and students it could not place."""

    path: Path
    column: str
    matched_on: str
    without_submission: list[str]
    not_in_roster: list[str]


def points_per_question(course: Path) -> pd.DataFrame:
    """Students as rows: points per question, raw score, late penalty and total (never below 0)."""
    from nbgrader.api import Gradebook

    from grading.gradebook import url

    table = score_table(read_scores(course)).drop(columns="total")
    with Gradebook(url(course / "gradebook.db")) as gradebook:
        students = [student.id for student in gradebook.students]
        penalties = {
            submission.student_id: float(submission.late_submission_penalty or 0.0)
            for submission in gradebook.assignment_submissions(ASSIGNMENT)
        }
        max_score = float(gradebook.find_assignment(ASSIGNMENT).max_score)
    table = table.reindex(sorted(set(students) | set(table.index)), fill_value=0.0).fillna(0.0)
    table["raw_score"] = table.sum(axis=1)
    table["late_penalty"] = [penalties.get(student, 0.0) for student in table.index]
    table["total"] = (table["raw_score"] - table["late_penalty"]).clip(lower=0.0)
    table["max_score"] = max_score
    table["submitted"] = [student in penalties for student in table.index]
    table.index.name = "student"
    return table


def read_roster(path: Path) -> pd.DataFrame:
    """A Canvas gradebook export, every value as text (IDs keep their leading zeros)."""
    try:
        roster = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster; export it from Canvas (Grades > Export > CSV)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RosterError(f"{path}: not a CSV file ({error}); export the roster from Canvas again") from None
    roster.columns = [column.strip() for column in roster.columns]
    if "Student" not in roster.columns or not set(MATCHABLE) & set(roster.columns):
        raise RosterError(
            f"{path}: a Canvas roster needs a Student column and one of {', '.join(MATCHABLE)}; found "
            f"{', '.join(roster.columns) or 'no columns'}. Export it from Canvas (Grades > Export > CSV)"
        )
    return roster


def _assignment_column(roster: pd.DataFrame, column: str | None) -> str:
    """The roster's column for this lab: the one named, else one that starts with "Lab 5", else "Lab 5"."""
    if column:
        return column
    return next((name for name in roster.columns if name.lower().startswith(DEFAULT_COLUMN.lower())), DEFAULT_COLUMN)


def _matched_on(roster: pd.DataFrame, students: list[str]) -> str:
    """The identity column that holds most of the gradebook's student ids (nbgrader ids are LMS logins or ids)."""
    present = [name for name in MATCHABLE if name in roster.columns]
    return max(present, key=lambda name: (len(set(roster[name]) & set(students)), -present.index(name)))


def canvas_csv(table: pd.DataFrame, roster_path: Path, out: Path, column: str | None = None) -> CanvasExport:
    """Write Canvas's import file: the roster's identity columns and the lab's total for every enrolled student."""
    roster = read_roster(roster_path)
    column = _assignment_column(roster, column)
    is_points_row = roster["Student"].str.strip() == POINTS_POSSIBLE
    students = roster[~is_points_row]
    matched_on = _matched_on(students, list(table.index))
    totals = table["total"].where(table["submitted"], 0.0)
    merged = students[[name for name in CANVAS_IDENTITY if name in roster.columns]].copy()
    merged[column] = [f"{totals.get(key, 0.0):g}" for key in students[matched_on]]
    points = dict.fromkeys(merged.columns, "") | {"Student": POINTS_POSSIBLE, column: f"{table['max_score'].max():g}"}
    merged = pd.concat([pd.DataFrame([points]), merged], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out, index=False)
    enrolled = set(students[matched_on])
    return CanvasExport(
        path=out,
        column=column,
        matched_on=matched_on,
        without_submission=sorted(key for key in enrolled if not (key in totals.index and table["submitted"][key])),
        not_in_roster=sorted(student for student in table.index[table["submitted"]] if student not in enrolled),
    )


def export_grades(course: Path, out_dir: Path, roster: Path | None, column: str | None = None) -> list[str]:
    """``make grades``: points_per_question.csv, and canvas.csv when there is a roster; what to tell the instructor."""
    table = points_per_question(course)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "points_per_question.csv")
    lines = [f"points per question: {out_dir / 'points_per_question.csv'} ({len(table)} students)"]
    if roster is None:
        return [*lines, "no ROSTER given: export the roster from Canvas (Grades > Export) for canvas.csv"]
    export = canvas_csv(table, roster, out_dir / "canvas.csv", column)
    lines.append(f"Canvas import: {export.path} (column {export.column!r}, students matched on {export.matched_on})")
    if export.without_submission:
        lines.append(f"  no submission, 0 points: {', '.join(export.without_submission)}")
    if export.not_in_roster:
        lines.append(f"  graded but not in the roster (not in canvas.csv): {', '.join(export.not_in_roster)}")
    return lines
