"""The shortcut rule: an answer must do its question's work itself, not hand it to the lab's reference code.

The notebooks need the reference implementation on the student's machine (the Setup cells fall back
to it), so nothing stops an answer from calling it. During grading the sensor (``grading.sensor``)
reports every run of the functions below, however they were reached, with the notebook cells whose
code was on the stack. :class:`ShortcutLedger` turns those reports into the questions that lose
their points: the question of the innermost answer cell that asked for the work (for an inherited
method: the answer cell that defined the subclass). Reference code that runs on behalf of the locked
Setup and test cells is the lab's own plumbing and costs nothing. What an answer mentions in a
comment or imports without calling costs nothing either.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86
from nbformat import NotebookNode
from nbgrader.utils import is_locked, is_solution

from grading.course import grade_id, question_of

#: The lab's reference code, by the question whose work each function does (module.qualname).
REFERENCE_CODE: dict[str, tuple[str, ...]] = {
    "Q1": (
        "helpers.transforms.resize_folder",
        "helpers.transforms.resize_transform",
        "helpers.lab.reference_resized_dir",
    ),
    "Q2": (
        "helpers.embedder.Embedder.__init__",
        "helpers.embedder.Embedder.get_vec",
        "helpers.embedder.Embedder.embed_images",
        "helpers.embedder.Embedder.embed_tensor",
        "helpers.embedder.strip_classifier",
        "helpers.transforms.model_input_transform",
        "helpers.transforms.tensor_transform",
        "helpers.transforms.image_batch",
    ),
    "Q3": (
        "helpers.embedder.Embedder.embed_files",
        "helpers.embedder.Embedder.iter_files",
        "helpers.embedder.Embedder.embed_folder",
        "helpers.lab.reference_embeddings",
    ),
    "Q4": ("helpers.store.write_embeddings", "helpers.store.embeddings_frame", "helpers.lab.reference_embeddings_csv"),
    "Q5": ("helpers.spark.read_embeddings_df", "helpers.spark.embeddings_df"),
    "Q6": ("helpers.spark.assemble",),
    "Q7": ("helpers.spark.fit_lsh",),
    "Q8": ("helpers.lab.query_index",),
    "Q10": ("helpers.spark.vector_of",),
    "Q11": ("helpers.spark.nearest_neighbors", "helpers.vectors.exact_neighbors"),
    "Q12": ("helpers.display.show_neighbors",),
}


def _resolve(dotted: str) -> tuple[str, str]:
    """``helpers.spark.assemble`` -> (its source file, its code's qualname)."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        code = inspect.unwrap(target).__code__
        return code.co_filename, code.co_qualname
    raise ValueError(f"{dotted} is not an importable function")


@lru_cache(maxsize=1)
def _resolved() -> dict[tuple[str, str], str]:
    return {_resolve(dotted): question for question, functions in REFERENCE_CODE.items() for dotted in functions}


def watched_code() -> list[tuple[str, str]]:
    """(file, qualname) of every reference function, for the sensor's settings."""
    return list(_resolved())


def question_for(file: str, qualname: str) -> str:
    """The question whose work a reference function does (for the feedback message)."""
    return _resolved().get((file, qualname), "another question")


def cell_file(source: str) -> str:
    """The file name ipykernel gives the code of a cell with this source (what tracebacks show)."""
    return f"{murmur2_x86(source, get_tmp_hash_seed())}.py"


@dataclass
class ShortcutLedger:
    """What the sensor reported while one notebook ran, and which questions it costs."""

    cells: list[NotebookNode]
    costs: dict[str, str] = field(default_factory=dict)
    tampering: list[str] = field(default_factory=list)

    def _answer_question(self, index: int) -> str | None:
        """Q<n> of an answer cell; for a cell the student added, the question of the next answer cell."""
        for cell in self.cells[index:]:
            if is_solution(cell) and grade_id(cell):
                return question_of(grade_id(cell))
        return None

    def _student_cells(self) -> dict[str, int]:
        return {
            cell_file(cell.source): index
            for index, cell in enumerate(self.cells)
            if cell.cell_type == "code" and not is_locked(cell)
        }

    def _defining_cell(self, class_name: str) -> int | None:
        pattern = re.compile(rf"^\s*class\s+{re.escape(class_name.split('.')[-1])}\b", re.M)
        return next(
            (
                index
                for index, cell in enumerate(self.cells)
                if cell.cell_type == "code" and not is_locked(cell) and pattern.search(cell.source)
            ),
            None,
        )

    def record(self, kind: str, detail: object, executing: int | None, last_answer: int | None) -> None:
        """One report from the sensor, received while cell ``executing`` ran (after answer ``last_answer``)."""
        if kind == "tamper":
            self.tampering.append(str(detail))
            return
        student = self._student_cells()
        if detail.get("class"):
            origin = self._defining_cell(detail["class"])
        elif detail.get("cell"):
            origin = student.get(detail["cell"])  # None: a locked cell (Setup, tests) using the lab's plumbing
        elif not detail["main_thread"]:
            # A thread or a process the student started, running reference code directly.
            origin = executing if executing in student.values() else last_answer
        else:
            origin = None
        question = self._answer_question(origin) if origin is not None else None
        if question and question not in self.costs:
            function = (
                f"{detail['function']} in {detail['file'].rsplit('/', 2)[-2]}/{detail['file'].rsplit('/', 1)[-1]}"
            )
            self.costs[question] = (
                f"{question}'s answer ran the lab's reference code ({function}, the reference for "
                f"{question_for(detail['file'], detail['function'])}) instead of doing the work itself. "
                "Answers may use what the Setup cells define (LAB, INPUT_DIR, EMBEDDINGS_CSV, spark, resnet, "
                "CAPTIONS, the LSH constants) and plain torchvision, PySpark, pandas and matplotlib, "
                "but not the functions in helpers that compute an answer."
            )
