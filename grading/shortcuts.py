"""The shortcut rule: an answer must do its question's work itself, not hand it to the lab's reference code.

The notebooks need the reference implementation on the student's machine (the Setup cells fall back
to it), so nothing stops an answer from calling it. During grading the sensor (``grading.sensor``)
reports every run of ``helpers.reference`` code, however it was reached, with what it could verify
about who asked. :class:`ShortcutLedger` decides what each report costs.

A run is the lab's own plumbing, and costs nothing, only when all of this holds:

* the sensor found a locked cell on the stack, verified as that cell's compiled code, with only the
  lab's own verified code between it and the reference function, on the kernel's main thread;
* that cell is the one running, and it is a Setup cell (test cells never need reference code);
* no other cell has run in this kernel yet, so no code of the student's can be waiting anywhere
  (a callback, a patched function, a thread).

Everything else is the student's and costs the question of the cell that was running: a test cell's
own question, an answer cell's question, a cell the student added before an answer that answer's,
and code that runs between cells or in another locked cell the question of the last answer. It also
costs every question whose work the function does (``REFERENCE_WORK`` in ``grading.questions``; for the
function the student's code called, not for the reference functions that one calls in turn) and whose
answer comes later: a reference result computed in one cell and kept for a later answer, in this
notebook or a later one (the grader carries those costs forward), is not that answer's work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbformat import NotebookNode
from nbgrader.utils import is_locked, is_solution

from grading.course import grade_id, is_setup_cell, is_test_cell, question_of
from grading.questions import reference_work

#: What answers may use instead, said in every shortcut's feedback.
ALLOWED = (
    "Answers may use what the Setup cells define (LAB, INPUT_DIR, EMBEDDINGS_CSV, spark, resnet, CAPTIONS, "
    "the LSH constants) and plain torchvision, PySpark, pandas and matplotlib, but nothing of helpers.reference, "
    "the lab's reference answers: the grader notices when that code runs, however it is reached."
)


@dataclass(frozen=True)
class Shortcut:
    """One question lost to reference code: what ran, in which cell, and the feedback message."""

    question: str
    function: str
    cell: int | None
    message: str


@dataclass
class ShortcutLedger:
    """What the sensor reported while one notebook ran, and which questions it costs.

    The grader tells it when each kernel started and when each cell started and finished (on the
    monotonic clock the sandbox shares); each report is placed by the time it was sent.
    """

    cells: list[NotebookNode]
    shortcuts: dict[str, Shortcut] = field(default_factory=dict)
    tampering: list[str] = field(default_factory=list)
    runs: list[list] = field(default_factory=list)  # [cell index, started, finished or None], in order
    kernels: list[list] = field(default_factory=list)  # [started, first non-Setup cell started or None]
    frozen_at: int | None = None

    @property
    def costs(self) -> dict[str, str]:
        """The feedback message of every question lost, by question."""
        return {question: shortcut.message for question, shortcut in self.shortcuts.items()}

    def kernel_started(self, now: int) -> None:
        """A fresh kernel: nothing of the student's has run in it yet."""
        self.kernels.append([now, None])

    def cell_started(self, index: int, now: int) -> None:
        """A cell starts; any cell but a Setup cell may run (or leave behind) the student's code."""
        self.runs.append([index, now, None])
        if self.kernels and self.kernels[-1][1] is None and not is_setup_cell(self.cells[index]):
            self.kernels[-1][1] = now

    def cell_finished(self, now: int) -> None:
        """The cell that started last has finished."""
        if self.runs and self.runs[-1][2] is None:
            self.runs[-1][2] = now

    def freeze(self, now: int) -> None:
        """The last cell has run: what the kernel does from now on (shutting down) cannot cost anything."""
        self.frozen_at = now

    def _when(self, sent: int) -> tuple[int | None, int | None, bool]:
        """The cell running at ``sent`` (None: between cells), the last answer finished by then, and whether
        the kernel running then had run any cell but a Setup cell yet.
        """
        executing, last_answer = None, None
        for index, started, finished in self.runs:
            if started <= sent and (finished is None or sent <= finished):
                executing = index
            elif finished is not None and finished < sent and is_solution(self.cells[index]):
                last_answer = index
        kernel = next((kernel for kernel in reversed(self.kernels) if kernel[0] <= sent), None)
        tainted = kernel is None or (kernel[1] is not None and kernel[1] <= sent)
        return executing, last_answer, tainted

    def _next_answer(self, index: int) -> str | None:
        return next(
            (question_of(grade_id(cell)) for cell in self.cells[index:] if is_solution(cell) and grade_id(cell)), None
        )

    def _last(self, last_answer: int | None) -> str | None:
        return question_of(grade_id(self.cells[last_answer])) if last_answer is not None else None

    def _answered_later(self, question: str, executing: int | None, last_answer: int | None) -> bool:
        """Whether ``question``'s answer comes after the code that ran (in a later cell, or a later notebook): an
        answer written before it ran could not have used its result.
        """
        answers = [
            index
            for index, cell in enumerate(self.cells)
            if is_solution(cell) and grade_id(cell) and question_of(grade_id(cell)) == question
        ]
        ran = executing if executing is not None else last_answer if last_answer is not None else -1
        return not answers or max(answers) > ran

    def _charged(self, executing: int | None, last_answer: int | None) -> tuple[str | None, str]:
        """The question a report costs and where its code ran, in the words of the feedback."""
        cell = self.cells[executing] if executing is not None else None
        if cell is not None and (is_test_cell(cell) or is_solution(cell)) and grade_id(cell):
            question = question_of(grade_id(cell))
            where = f"{question}'s answer" if is_solution(cell) else f"code of yours that {question}'s test used"
            return question, where
        if cell is not None and cell.cell_type == "code" and not is_locked(cell):
            question = self._next_answer(executing) or self._last(last_answer)
            return question, f"a cell you added (counted for {question})"
        question = self._last(last_answer) or self._next_answer(executing or 0)
        return question, f"code of yours that ran between cells or before a Setup cell (counted for {question})"

    def record(self, kind: str, sent: int, detail: object) -> None:
        """One report from the sensor, sent at ``sent`` (monotonic nanoseconds)."""
        if self.frozen_at is not None and sent > self.frozen_at:
            return
        if kind == "tamper":
            self.tampering.append(str(detail))
            return
        if not isinstance(detail, dict):
            return
        executing, last_answer, tainted = self._when(sent)
        plumbing = (
            executing is not None
            and not tainted
            and detail.get("main") is True
            and detail.get("locked_cell") == executing
            and is_setup_cell(self.cells[executing])
        )
        if plumbing:
            return
        question, where = self._charged(executing, last_answer)
        function = f"{detail.get('function')} in helpers/{detail.get('file')}"
        if question is not None:
            self._charge(
                question,
                detail,
                executing,
                f"{where} ran the lab's reference code ({function}) instead of doing {question}'s work itself, "
                f"so {question} scores 0. {ALLOWED}",
            )
        entry = detail.get("inner") is not True  # the reference function the student's code called, not its parts
        for claimed in reference_work().get(f"{detail.get('file')}:{detail.get('function')}", ()) if entry else ():
            if self._answered_later(claimed, executing, last_answer):
                self._charge(
                    claimed,
                    detail,
                    executing,
                    f"{where} ran the lab's reference code ({function}), which does {claimed}'s work, so {claimed} "
                    f"scores 0 wherever its answer is. {ALLOWED}",
                )

    def _charge(self, question: str, detail: dict, executing: int | None, message: str) -> None:
        """The first shortcut found for ``question`` is the one its feedback names."""
        self.shortcuts.setdefault(question, Shortcut(question, str(detail.get("function")), executing, message))


def carried_forward(record: dict, cells: list[NotebookNode]) -> dict[str, Shortcut]:
    """The questions of these cells that reference code run in the submission's earlier notebooks already cost
    (from the submission's record, :mod:`grading.records`).
    """
    mine = {question_of(grade_id(cell)) for cell in cells if is_test_cell(cell) and grade_id(cell)}
    return {
        entry["question"]: Shortcut(entry["question"], entry["function"], None, entry["message"])
        for notebook in record.get("notebooks", {}).values()
        for entry in notebook.get("shortcuts", [])
        if entry["question"] in mine and "message" in entry
    }
