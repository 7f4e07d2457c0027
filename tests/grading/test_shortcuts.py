"""grading.shortcuts: which question a report of the sensor costs, decided from who asked for the work."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from grading import shortcuts
from grading.course import source_dir


@pytest.fixture
def cells():
    """Notebook 3 as a student submits it, with one cell the student added before Q7's answer."""
    notebook = nbformat.read(source_dir() / "3_spark_lsh.ipynb", as_version=4)
    position = next(
        i for i, cell in enumerate(notebook.cells) if cell.metadata.get("nbgrader", {}).get("grade_id") == "q7_answer"
    )
    notebook.cells.insert(position, new_code_cell("def helper(df):\n    return df"))
    return notebook.cells


def _index(cells, grade_id):
    return next(i for i, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _event(cells, index=None, **detail):
    origin = {"cell": shortcuts.cell_file(cells[index].source)} if index is not None else {}
    return {"function": "assemble", "file": "/x/helpers/spark.py", "main_thread": True, **origin, **detail}


def test_the_answer_cell_that_asked_loses_its_question(cells):
    """Reference code called from Q6's answer cell costs Q6 and nothing else."""
    ledger = shortcuts.ShortcutLedger(cells)
    ledger.record("reference", _event(cells, _index(cells, "q6_answer")), None, None)
    assert set(ledger.costs) == {"Q6"} and "assemble" in ledger.costs["Q6"]


def test_locked_cells_using_the_plumbing_cost_nothing(cells):
    """The Setup and test cells call the lab's helpers on the main thread: no question loses anything."""
    ledger = shortcuts.ShortcutLedger(cells)
    ledger.record("reference", _event(cells, _index(cells, "setup")), None, None)
    ledger.record("reference", _event(cells, _index(cells, "q6_features_vector")), None, None)
    assert ledger.costs == {}


def test_a_cell_the_student_added_counts_for_the_next_answer(cells):
    """Code in a student's own cell before Q7's answer is Q7's work."""
    ledger = shortcuts.ShortcutLedger(cells)
    ledger.record("reference", _event(cells, _index(cells, "q7_answer") - 1), None, None)
    assert set(ledger.costs) == {"Q7"}


def test_a_subclass_inheriting_the_work_costs_the_answer_that_defined_it():
    """A reference method run on an instance of the notebook's class C costs the question whose answer defines C."""
    notebook = nbformat.read(source_dir() / "2_embeddings.ipynb", as_version=4)
    ledger = shortcuts.ShortcutLedger(notebook.cells)
    ledger.record(
        "reference",
        {"function": "Embedder.get_vec", "file": "/x/helpers/embedder.py", "main_thread": True, "class": "C"},
        None,
        None,
    )
    assert set(ledger.costs) == {"Q2"}


def test_a_thread_or_process_without_notebook_code_costs_the_running_answer(cells):
    """Reference code started directly by a thread or subprocess counts for the answer running (or last run)."""
    ledger = shortcuts.ShortcutLedger(cells)
    ledger.record("reference", _event(cells, main_thread=False), _index(cells, "q8_answer"), None)
    ledger.record(
        "reference", _event(cells, main_thread=False), _index(cells, "q7_brp_model"), _index(cells, "q7_answer")
    )
    assert set(ledger.costs) == {"Q7", "Q8"}


def test_tampering_is_kept_apart(cells):
    """A report of tampering is recorded as such (the notebook's tests then all fail)."""
    ledger = shortcuts.ShortcutLedger(cells)
    ledger.record("tamper", "sys.settrace", None, None)
    assert ledger.tampering == ["sys.settrace"] and ledger.costs == {}


def test_every_reference_function_resolves_to_code():
    """The reference table names real functions (a rename in helpers would otherwise silently disable a rule)."""
    watched = shortcuts.watched_code()
    assert len(watched) == sum(len(functions) for functions in shortcuts.REFERENCE_CODE.values())
    assert all(path.endswith(".py") and "/helpers/" in path for path, _ in watched)
    assert shortcuts.question_for(*shortcuts._resolve("helpers.spark.fit_lsh")) == "Q7"
