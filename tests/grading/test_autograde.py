"""The order a class's submissions are graded in (no grading here: the folders nbgrader collects)."""

from __future__ import annotations

from grading.autograde import grading_order
from grading.course import ASSIGNMENT, notebook_names

NB1, NB2, NB3, NB4 = notebook_names()


def _submit(course, student, notebooks):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for name in notebooks:
        (folder / name).write_text("{}")


def test_the_submissions_with_most_notebooks_start_first(tmp_path):
    """Four notebooks before two before one, names breaking ties; what the grader does not grade does not count
    (other files, a renamed notebook).
    """
    _submit(tmp_path, "zoe", [NB1, NB2, NB3, NB4])
    _submit(tmp_path, "amy", [NB1, "notes.txt", "data.csv", "2_embeddings (copy).ipynb", "3_mine.ipynb"])
    _submit(tmp_path, "bob", [NB1, NB2])
    _submit(tmp_path, "ann", [NB3, NB4])
    assert grading_order(tmp_path, ["amy", "bob", "zoe", "ann"]) == ["zoe", "ann", "bob", "amy"]


def test_a_student_with_no_folder_is_graded_last_and_still_graded(tmp_path):
    """A name with nothing submitted stays in the run (its job reports the missing folder), after the rest."""
    _submit(tmp_path, "bob", [NB1])
    assert grading_order(tmp_path, ["ghost", "bob"]) == ["bob", "ghost"]
