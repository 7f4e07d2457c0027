"""grading.shortcuts: what a report of the sensor costs, from where it ran, when, and what the sensor verified."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell

import helpers.reference
from grading import shortcuts
from grading.course import source_dir


@pytest.fixture
def ledger():
    """Notebook 3 as a student submits it, with one cell the student added before Q7's answer; a kernel at t=0."""
    notebook = nbformat.read(source_dir() / "3_spark_lsh.ipynb", as_version=4)
    position = _index(notebook.cells, "q7_answer")
    notebook.cells.insert(position, new_code_cell("def helper(df):\n    return df"))
    book = shortcuts.ShortcutLedger(notebook.cells)
    book.kernel_started(0)
    return book


def _index(cells, grade_id):
    return next(i for i, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _run(ledger, grade_id_or_index, start, end):
    index = grade_id_or_index if isinstance(grade_id_or_index, int) else _index(ledger.cells, grade_id_or_index)
    ledger.cell_started(index, start)
    ledger.cell_finished(end)
    return index


def _report(ledger, at, locked_cell=None, main=True, function="resized_dir", file="reference/resize.py"):
    """A sensor report (by default of a reference function that does no question's work by itself)."""
    detail = {"function": function, "file": file, "locked_cell": locked_cell, "main": main}
    ledger.record("reference", at, detail)


def test_the_setup_cells_own_plumbing_costs_nothing(ledger):
    """Verified by the sensor as the running Setup cell, on the main thread, before any other cell: plumbing."""
    setup = _run(ledger, "setup", 10, 20)
    _report(ledger, 15, locked_cell=setup)
    assert ledger.shortcuts == {}


def test_an_answer_cell_that_runs_reference_code_loses_its_question(ledger):
    """Reference code run while Q6's answer ran costs Q6, with a message naming the function."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q6_answer", 30, 40)
    _report(ledger, 35, function="assemble", file="reference/spark_lsh.py")
    assert set(ledger.costs) == {"Q6"}
    assert "assemble in helpers/reference/spark_lsh.py" in ledger.costs["Q6"] and "reference code" in ledger.costs["Q6"]


def test_code_run_during_a_test_costs_that_tests_question(ledger):
    """A callback or an object of the student's used by Q7's test (even claiming the test cell) costs Q7."""
    _run(ledger, "setup", 10, 20)
    test = _run(ledger, "q7_brp_model", 30, 40)
    _report(ledger, 35, locked_cell=test)
    assert set(ledger.costs) == {"Q7"} and "Q7's test" in ledger.costs["Q7"]


def test_a_setup_cell_after_student_code_is_not_plumbing(ledger):
    """Once any other cell has run, the Setup cell's reference code may be the student's: it costs the next answer."""
    _run(ledger, 4, 5, 8)  # a student cell added above the Setup cell
    setup = _run(ledger, "setup", 10, 20)
    _report(ledger, 15, locked_cell=setup)
    assert set(ledger.costs) == {"Q5"}


@pytest.mark.parametrize(
    ("locked_cell", "main"),
    [(None, True), ("q5_spark_dataframe", True), ("setup", False)],
    ids=["none", "other", "thread"],
)
def test_plumbing_must_be_verified_by_the_sensor(ledger, locked_cell, main):
    """During the Setup cell: no verified locked cell, another locked cell, or another thread: all the student's."""
    setup = _run(ledger, "setup", 10, 20)
    _report(ledger, 15, locked_cell=_index(ledger.cells, locked_cell) if locked_cell else None, main=main)
    assert set(ledger.costs) == {"Q5"} and ledger.shortcuts["Q5"].cell == setup


def test_code_between_cells_costs_the_last_answer(ledger):
    """A thread or callback that runs after Q6's answer and test, before the next cell, costs Q6."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q6_answer", 30, 40)
    _run(ledger, "q6_features_vector", 50, 60)
    _report(ledger, 65)
    assert set(ledger.costs) == {"Q6"}


def test_a_cell_the_student_added_counts_for_the_next_answer(ledger):
    """Code in a student's own cell before Q7's answer is Q7's work."""
    _run(ledger, "setup", 10, 20)
    added = _run(ledger, _index(ledger.cells, "q7_answer") - 1, 30, 40)
    _report(ledger, 35)
    assert set(ledger.costs) == {"Q7"} and ledger.shortcuts["Q7"].cell == added


def test_a_restarted_kernel_runs_its_setup_cells_as_plumbing(ledger):
    """After a kernel died, the fresh kernel's Setup cells are the lab's again; the dead kernel's time is not."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q6_answer", 30, 40)
    ledger.kernel_started(50)
    setup = _run(ledger, "setup", 60, 70)
    _report(ledger, 65, locked_cell=setup)
    assert ledger.shortcuts == {}


def test_what_the_kernel_does_after_the_last_cell_costs_nothing(ledger):
    """The kernel shutting down (atexit handlers, finalisers) cannot cost anything once the ledger is frozen."""
    _run(ledger, "q8_hashed_dataframe", 30, 40)
    ledger.freeze(50)
    _report(ledger, 55)
    ledger.record("tamper", 56, "late")
    assert ledger.shortcuts == {} and ledger.tampering == []


def test_tampering_is_kept_apart(ledger):
    """A report of tampering is recorded as such (the notebook's tests then all fail)."""
    ledger.record("tamper", 5, "ctypes.dlsym")
    assert ledger.tampering == ["ctypes.dlsym"] and ledger.costs == {}


def test_reference_work_costs_the_question_it_does_wherever_it_ran(ledger):
    """fit_lsh run in Q6's answer (to keep a model for Q7) costs Q6 and Q7; the message names both."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q6_answer", 30, 40)
    _report(ledger, 35, function="fit_lsh", file="reference/spark_lsh.py")
    assert set(ledger.costs) == {"Q6", "Q7"}
    assert "which does Q7's work" in ledger.costs["Q7"] and "Q6's answer" in ledger.costs["Q7"]


def test_only_the_reference_function_called_is_charged_for_its_work(ledger):
    """query_index (called by the student) does Q6-Q8's work; fit_lsh, which it calls, adds nothing more."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q5_answer", 30, 40)
    _report(ledger, 35, function="query_index", file="reference/spark_lsh.py")
    ledger.record("reference", 36, {"function": "assemble", "file": "reference/spark_lsh.py", "inner": True})
    assert set(ledger.costs) == {"Q5", "Q6", "Q7", "Q8"}
    assert "Q5's answer ran" in ledger.costs["Q7"] and "which does Q7's work" in ledger.costs["Q7"]


def test_a_later_notebooks_question_is_carried_forward():
    """Q3's reference run in notebook 1 is in its record: notebook 2's ledger starts with it, notebook 3's not."""
    notebook1 = nbformat.read(source_dir() / "1_data_and_transforms.ipynb", as_version=4)
    first = shortcuts.ShortcutLedger(notebook1.cells)
    first.kernel_started(0)
    _run(first, "q1_answer", 30, 40)
    _report(first, 35, function="Embedder.embed_files", file="reference/embedding.py")
    assert set(first.costs) == {"Q1", "Q3"}
    record = {
        "notebooks": {
            "1_data_and_transforms.ipynb": {
                "shortcuts": [
                    {"question": s.question, "function": s.function, "cell": s.cell, "message": s.message}
                    for s in first.shortcuts.values()
                ]
            }
        }
    }
    later = {
        name: nbformat.read(source_dir() / name, as_version=4).cells
        for name in ("2_embeddings.ipynb", "3_spark_lsh.ipynb")
    }
    assert set(shortcuts.carried_forward(record, later["2_embeddings.ipynb"])) == {"Q3"}
    assert shortcuts.carried_forward(record, later["3_spark_lsh.ipynb"]) == {}


def test_no_public_reference_function_hides_behind_a_cache():
    """Every function of helpers.reference runs its own code when called: a cache wrapper would skip the sensor's
    report on every call but the first.
    """
    for info in pkgutil.iter_modules(helpers.reference.__path__):
        module = importlib.import_module(f"helpers.reference.{info.name}")
        for name, value in vars(module).items():
            if callable(value) and getattr(value, "__module__", None) == module.__name__ and not name.startswith("_"):
                assert inspect.isfunction(value) or inspect.isclass(value), f"{module.__name__}.{name} is wrapped"


#: Public reference functions that do no question's work: a path, a container of results.
PLUMBING_ONLY = {
    "reference/resize.py:resized_dir",
    "reference/embedding.py:Embeddings.keep_readable",
}


def _public_functions() -> set[str]:
    """``file:qualname`` of every public function and method defined in helpers.reference."""
    found = set()
    for info in pkgutil.iter_modules(helpers.reference.__path__):
        module = importlib.import_module(f"helpers.reference.{info.name}")
        file = f"reference/{info.name}.py"
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                found.add(f"{file}:{name}")
            elif inspect.isclass(value):
                methods = {attribute: getattr(member, "__func__", member) for attribute, member in vars(value).items()}
                found |= {
                    f"{file}:{method.__qualname__}"
                    for attribute, method in methods.items()
                    if inspect.isfunction(method) and not attribute.startswith("_")
                }
    return found


def test_every_reference_function_does_a_named_questions_work_or_is_plumbing():
    """REFERENCE_WORK names only real functions, and none is forgotten: a new reference function must be claimed
    by the question it answers (or listed here as plumbing), else a result kept for later would cost nothing.
    """
    from grading.questions import reference_work

    claimed = set(reference_work())
    public = _public_functions()
    assert claimed <= public, claimed - public
    assert public - claimed == PLUMBING_ONLY, (public - claimed) ^ PLUMBING_ONLY


def test_reference_work_done_after_an_answer_does_not_cost_it(ledger):
    """query_index run during Q8's test costs Q8 only: Q6's and Q7's answers came before it ran."""
    _run(ledger, "setup", 10, 20)
    _run(ledger, "q8_hashed_dataframe", 30, 40)
    _report(ledger, 35, function="query_index", file="reference/spark_lsh.py")
    assert set(ledger.costs) == {"Q8"}
