"""The order a class's submissions are graded in (no grading here: the folders nbgrader collects)."""

from __future__ import annotations

from grading.autograde import grading_order
from grading.course import ASSIGNMENT


def _submit(course, student, notebooks):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for name in notebooks:
        (folder / name).write_text("{}")


def test_the_submissions_with_most_notebooks_start_first(tmp_path):
    """Four notebooks before two before one, names breaking ties; what is not a notebook does not count."""
    _submit(tmp_path, "zoe", ["1.ipynb", "2.ipynb", "3.ipynb", "4.ipynb"])
    _submit(tmp_path, "amy", ["1.ipynb", "notes.txt", "data.csv"])
    _submit(tmp_path, "bob", ["1.ipynb", "2.ipynb"])
    _submit(tmp_path, "ann", ["3.ipynb", "4.ipynb"])
    assert grading_order(tmp_path, ["amy", "bob", "zoe", "ann"]) == ["zoe", "ann", "bob", "amy"]


def test_a_student_with_no_folder_is_graded_last_and_still_graded(tmp_path):
    """A name with nothing submitted stays in the run (its job reports the missing folder), after the rest."""
    _submit(tmp_path, "bob", ["1.ipynb"])
    assert grading_order(tmp_path, ["ghost", "bob"]) == ["bob", "ghost"]
