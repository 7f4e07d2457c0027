"""Execute each submitted notebook in a sandbox, with CPU-time limits, and decide its points outside it.

The grading pipeline's executor (``nbgrader_config.py``). For one notebook, :meth:`SandboxedExecute.preprocess`
runs these steps, in this order:

1. the run: the submission's sample (images it never had);
2. the submission's sandbox (started on its first notebook, :mod:`grading.submission_sandbox`), readied to
   show exactly the reference files this notebook may read (made by the checks,
   :mod:`grading.check_service`; see :mod:`grading.notebook_sandbox`), and the grader's end of the sensor
   (:mod:`grading.listener`);
3. the kernel is forked in the sandbox; every cell runs under a CPU-time and disk watchdog
   (:mod:`grading.watchdog`); a dead kernel costs only its cell: the kernel is restarted and the Setup
   cells run again; after each test cell the checks compute its verdict from the evidence it exported
   (:mod:`grading.checks`);
4. before the kernel is killed, the sensor's ledger is frozen: what it does while it dies costs nothing;
5. once every report is in, shortcuts and tampering cost their questions (:mod:`grading.shortcuts`);
6. what is left of the kernel's processes is killed, and what grading found goes into the submission's
   record (:mod:`grading.records`).

Sandboxing can be turned off only for trusted code (``--SandboxedExecute.sandboxed=False``, which
``--unsafe-no-sandbox`` sets); then the kernel judges its own hidden tests, as in plain nbgrader.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_solution
from traitlets import Bool, Float, Int, Unicode

from grading import records, sandbox
from grading.check_service import Run, checks
from grading.course import grade_id, is_setup_cell, is_test_cell, question_of
from grading.hidden import settings_of
from grading.listener import SensorListener
from grading.notebook_sandbox import NotebookSandbox
from grading.outputs import cap_outputs, fail, has_error
from grading.shortcuts import ShortcutLedger, carried_forward
from grading.submission_sandbox import for_submission
from grading.watchdog import CellWatchdog
from helpers.config import DEFAULT_SUBSET
from helpers.questions import questions
from helpers.questions.evidence import MAX_EVIDENCE_BYTES, EvidenceError, load

DIED = (
    "The kernel died while this cell ran (os._exit, a crash or running out of memory). "
    "This cell scores 0; the cells after it ran in a restarted kernel with the Setup cells run again."
)
LIMITS = sandbox.Limits()


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is forked by ``fork`` (in the sandbox) or started through ``wrap``."""

    wrap = None
    fork = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernelspec's command line, wrapped."""
        command = super().format_kernel_cmd(extra_arguments)
        return self.wrap(command) if self.wrap else command

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: object) -> None:
        """The kernel forked from ``kernel_cmd`` when ``fork`` is set, else started by the provisioner."""
        if self.fork is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            return
        kernel = self.fork(kernel_cmd)
        # The provisioner handles the forked kernel as the process it would have started; its group is its own.
        self.provisioner.process, self.provisioner.pid, self.provisioner.pgid = kernel, kernel.pid, kernel.pid
        self._reconcile_connection_info(self.provisioner.connection_info)


class SandboxedExecute(Execute):
    """Execute in a sandbox, limit cells by CPU time, and judge test cells outside the kernel."""

    sandboxed = Bool(True, help="Run kernels in the bubblewrap sandbox (False only for trusted code)").tag(config=True)
    cpu_timeout = Float(
        120.0, help=f"CPU seconds a cell may use at LAB_SUBSET={DEFAULT_SUBSET}; scaled up with the number of images"
    ).tag(config=True)
    grading_sample = Unicode("", help="The autograder's sample file for this submission (make autograde sets it)").tag(
        config=True
    )
    data_dir = Unicode("", help="The dataset the sample's images are in (default: LAB_DATA_DIR)").tag(config=True)
    memory_bytes = Int(LIMITS.memory_bytes, help="Address space of each process in the sandbox").tag(config=True)
    processes = Int(LIMITS.processes, help="Processes and threads of the sandbox user (as root)").tag(config=True)
    file_bytes = Int(LIMITS.file_bytes, help="Largest file the sandbox may write").tag(config=True)
    disk_bytes = Int(LIMITS.disk_bytes, help="Everything in the kernel's working folder together").tag(config=True)
    tmp_bytes = Int(LIMITS.tmp_bytes, help="The sandbox's private /tmp (memory)").tag(config=True)
    open_files = Int(LIMITS.open_files, help="Open files of each process in the sandbox").tag(config=True)
    kernel_threads = Int(
        LIMITS.threads, help="Threads of each kernel's torch and numpy (0: one per core; make autograde shares them)"
    ).tag(config=True)
    max_output_chars = Int(100_000, help="Output a cell may keep, in characters").tag(config=True)
    max_evidence_bytes = Int(MAX_EVIDENCE_BYTES, help="Largest evidence file a test may export").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        # The kernel is killed after the last cell, not asked to stop: the ledger is frozen by then, and a polite
        # shutdown waits for the zombie its Spark JVM leaves (ipykernel counts it among the children it stops).
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)

    def limits(self) -> sandbox.Limits:
        """The sandbox's limits, as configured."""
        return sandbox.Limits(
            self.memory_bytes,
            self.processes,
            self.file_bytes,
            self.disk_bytes,
            self.tmp_bytes,
            self.open_files,
            threads=self.kernel_threads,
        )

    # ------------------------------------------------------------ the steps

    def preprocess(self, nb, resources, km=None):
        """Grade one notebook: the steps of the module's docstring, in order."""
        started = time.perf_counter()
        if self.sandboxed:
            sandbox.require()
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        folder = Path(resources["metadata"]["path"]).resolve()
        name = f"{resources['nbgrader']['notebook']}.ipynb"
        # 1. the run
        self.run = Run(folder, self.data_dir, self.grading_sample)
        self.lab = self.run.lab()
        self.cell_cpu_limit = self.cpu_timeout * max(1.0, len(self.lab.image_names) / DEFAULT_SUBSET)
        self.verdicts: dict[str, dict] = {}
        self.timing = {"notebook": name, "cells": []}
        # 2. the sandbox and the sensor's socket
        # Reference work done in an earlier notebook of this submission for one of this notebook's questions.
        self.ledger = ShortcutLedger(nb.cells, shortcuts=carried_forward(records.read(folder), nb.cells))
        sample = Path(self.grading_sample) if self.grading_sample else None
        # Started first (on the submission's first notebook): its fork server imports while the checks publish.
        limits = self.limits()
        submission = for_submission(self.lab, sample, limits) if self.sandboxed else None
        published = checks().publish(self.run, name)
        self.box = NotebookSandbox(nb.cells, self.lab, published, sample, submission, limits.thread_settings())
        self.listener = SensorListener(self.box.sensor_socket, self.ledger.record) if self.sandboxed else None
        self.timing["prepare"] = time.perf_counter() - started
        try:
            # 3. the kernel, and every cell watched, then judged
            self._kernel_requested = time.perf_counter()
            with self.setup_kernel():
                self._kernel_started()
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                for index, cell in enumerate(self.nb.cells):
                    self.grade_cell(cell, index)
                # 4. the kernel is killed when this block ends
                with self._ledger_lock():
                    self.ledger.freeze(time.monotonic_ns())
            self.set_widgets_metadata()
            # 5. every report is in
            if self.listener:
                self.listener.close()
                self._charge_shortcuts()
        finally:
            # 6. the sandbox goes, the record stays
            self.box.close()
        self.timing["total"] = time.perf_counter() - started
        records.update(folder, name, self._record())
        # One line per notebook that the bench collects: where grading time goes (README, "Grading a class").
        self.log.info("TIMING %s", json.dumps(self.timing))
        return self.nb, self.resources

    def create_kernel_manager(self):
        """The kernel manager, pointed at this notebook's sandbox."""
        manager = super().create_kernel_manager()
        self.box.configure(manager)
        return manager

    # ------------------------------------------------------------ cells

    def _ledger_lock(self) -> contextlib.AbstractContextManager:
        return self.listener.lock if self.listener else contextlib.nullcontext()

    def _kernel_started(self) -> None:
        self.timing.setdefault("kernel_start", time.perf_counter() - self._kernel_requested)
        with self._ledger_lock():
            self.ledger.kernel_started(time.monotonic_ns())

    def _run_watched(self, cell: NotebookNode, index: int) -> tuple[str | None, bool, float]:
        """Run one cell under the watchdog, as the ledger's current cell: why the watchdog stopped it (or None),
        whether the kernel died, and the CPU time it used.
        """
        for path in self.box.exports.glob(f"{grade_id(cell)}.*") if is_test_cell(cell) else ():
            path.unlink()  # stale evidence: only what this run of the test exports counts
        with self._ledger_lock():
            self.ledger.cell_started(index, time.monotonic_ns())
        root = self.km.provisioner.process.pid
        died = False
        with CellWatchdog(
            self.box.watched(root),
            lambda: self.box.kernel_pid(root),
            self.cell_cpu_limit,
            self.lab.notebook_dir,
            self.disk_bytes,
        ) as watch:
            try:
                super().preprocess_cell(cell, self.resources, index)
            except DeadKernelError:
                died = True
        with self._ledger_lock():
            self.ledger.cell_finished(time.monotonic_ns())
        return watch.reason, died, watch.used

    def grade_cell(self, cell: NotebookNode, index: int) -> None:
        """Run a cell; record why it was stopped; after a dead kernel, restart it; judge a test cell."""
        if cell.cell_type != "code":
            return
        started = time.perf_counter()
        stopped, died, cpu = self._run_watched(cell, index)
        ran = time.perf_counter() - started
        if stopped == "cpu":
            fail(
                cell,
                f"This cell used more than {self.cell_cpu_limit:.0f} s of CPU time and was stopped (an endless "
                "loop?). The limit counts only this notebook's own computation, so a busy grader does not change it.",
                "CPUTimeLimit",
            )
        elif stopped == "disk":
            fail(
                cell,
                f"This cell wrote more than {self.disk_bytes // 2**30} GB (or too many files) into the notebook's "
                "folder and was stopped.",
                "DiskLimit",
            )
        if died:
            self.log.error("Kernel died in %s (cell %d): it scores 0; restarting it", grade_id(cell) or index, index)
            fail(cell, DIED, "DeadKernelError")
            self._restart(index)
        cap_outputs(cell, self.max_output_chars)
        if is_test_cell(cell) and self.sandboxed:
            self._judge(cell)
        outcome = stopped or ("died" if died else None)
        self.timing["cells"].append(
            {
                "cell": grade_id(cell) or index,
                "wall": ran,
                "cpu": cpu,
                "check": time.perf_counter() - started - ran,
                **({"stopped": outcome} if outcome else {}),
            }
        )

    def _restart(self, index: int) -> None:
        """A fresh kernel in place of the dead one (what is left of the sandbox killed), the Setup cells run again."""
        self.box.reap()
        self._kernel_requested = time.perf_counter()
        run_sync(self.km.restart_kernel)(now=True)
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        self._kernel_started()
        self.timing["restarts"] = self.timing.get("restarts", 0) + 1
        for position, earlier in enumerate(self.nb.cells[:index]):
            if is_setup_cell(earlier):
                # A throwaway copy, watched like any cell: the notebook keeps the Setup cell's original outputs.
                self._run_watched(copy.deepcopy(earlier), position)

    # ------------------------------------------------------------ verdicts and shortcuts

    def _judge(self, cell: NotebookNode) -> None:
        """The test's points depend on the verdict computed here, from the evidence the cell exported."""
        grade = grade_id(cell)
        if grade not in questions():
            # Not one of this lab's tests (tests/grading/test_questions.py ties every one to its checks): an
            # assignment of the instructor's own, graded by nbgrader's rule alone.
            self.log.warning("%s is not a test of this lab: graded by its cell's outcome only", grade)
            return
        # nbgrader reads a number printed as the cell's result as partial credit; the tests print none.
        cell.outputs = [output for output in cell.outputs if output.output_type != "execute_result"]
        try:
            found = load(self.box.exports, grade, self.max_evidence_bytes)
        except EvidenceError as error:
            self._verdict(cell, "unreadable results", f"the grader could not read this test's results: {error}")
            return
        if found is None:
            self._verdict(cell, *self._why_no_evidence(cell))
            return
        # The cell's source is the gradebook's (nbgrader put it back before this ran), never the student's.
        judged = checks().judge(self.run, grade, found, settings_of(cell.source))
        if judged.passed:
            self.verdicts[grade] = {"passed": True}
        else:
            self._verdict(cell, judged.diagnosis, judged.message)

    def _why_no_evidence(self, cell: NotebookNode) -> tuple[str, str]:
        """The diagnosis of a test that exported nothing: its answer not written, the error that stopped it, or
        (when it shows none) something that stopped it early.
        """
        question = question_of(grade_id(cell))
        stubs = [
            output.get("ename") == "NotImplementedError"
            for answer in self.nb.cells
            if is_solution(answer) and grade_id(answer) and question_of(grade_id(answer)) == question
            for output in answer.get("outputs", [])
        ]
        if any(stubs):
            return "not answered", f"{question} is not answered: its answer cell still raises NotImplementedError"
        if errors := [output for output in cell.outputs if output.output_type == "error"]:
            return f"error: {errors[0].ename}", f"the test stopped with {errors[0].ename}: {errors[0].evalue}"
        return "no results", "the grader received no results from this test: did something stop it early?"

    def _verdict(self, cell: NotebookNode, name: str, message: str) -> None:
        """A failed verdict: kept for the record, and shown in the cell unless it already shows an error."""
        errored = has_error(cell)
        if not errored:
            fail(cell, message)
        self.verdicts[grade_id(cell)] = {"passed": False, "diagnosis": name, "message": message, "shown": not errored}

    def _charge_shortcuts(self) -> None:
        """After the last cell: shortcuts and tampering reported by the sensor cost their questions."""
        for cell in self.nb.cells:
            if not is_test_cell(cell):
                continue  # a failed test says so too: the feedback should name the reference code that ran
            question = question_of(grade_id(cell))
            if self.ledger.tampering:
                fail(
                    cell,
                    f"this notebook tried to switch off the autograder's checks ({self.ledger.tampering[0]}), "
                    "so none of its tests can be trusted",
                )
            elif question in self.ledger.shortcuts:
                fail(cell, self.ledger.shortcuts[question].message)

    def _record(self) -> dict:
        """What grading this notebook found, for the instructor's report."""
        tests = {}
        for cell in self.nb.cells:
            if not is_test_cell(cell):
                continue
            grade = grade_id(cell)
            found = dict(self.verdicts.get(grade, {}))
            errors = [output for output in cell.outputs if output.output_type == "error"]
            question = question_of(grade)
            if not errors:
                found = {"passed": True}
            elif self.ledger.tampering:
                found = {"passed": False, "diagnosis": "tampering", "message": self.ledger.tampering[0]}
            elif question in self.ledger.shortcuts:
                shortcut = self.ledger.shortcuts[question]
                found = {
                    "passed": False,
                    "diagnosis": f"ran reference code ({shortcut.function})",
                    "message": shortcut.message,
                }
            elif not found or found.get("passed"):
                found = {"passed": False, "diagnosis": f"error: {errors[0].ename}", "message": errors[0].evalue}
            tests[grade] = found
        answers = {question_of(grade_id(cell)): cell for cell in self.nb.cells if is_solution(cell) and grade_id(cell)}
        cpu = {
            question_of(str(entry["cell"])): entry["cpu"]
            for entry in self.timing["cells"]
            if str(entry["cell"]).endswith("_answer") and question_of(str(entry["cell"])) in answers
        }
        stops = [
            {"cell": entry["cell"], "stopped": entry["stopped"]} for entry in self.timing["cells"] if "stopped" in entry
        ]
        return {
            "tests": tests,
            "answer_cpu_seconds": cpu,
            "stopped": stops,
            "shortcuts": [
                {"question": s.question, "function": s.function, "cell": s.cell, "message": s.message}
                for s in self.ledger.shortcuts.values()
            ],
            "tampering": self.ledger.tampering,
            "restarts": self.timing.get("restarts", 0),
            "images": len(self.lab.image_names),
            "graded_on_unseen_images": self.lab.graded,
        }
