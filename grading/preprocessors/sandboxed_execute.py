"""Execute each submitted notebook in a sandbox, with CPU-time limits, and decide its points outside it.

The grading pipeline's executor (``nbgrader_config.py``). On top of :class:`ResilientExecute`
(a dead kernel costs only its cell) it

* starts every kernel inside the bubblewrap sandbox of :mod:`grading.sandbox` (refusing to grade
  unprotected unless ``--SandboxedExecute.sandboxed=False``, which ``--unsafe-no-sandbox`` sets);
* stops a cell by the CPU time its processes use (:mod:`grading.watchdog`), so a busy machine cannot
  cost a student points, and keeps nbgrader's wall-clock ``timeout`` only as a backstop;
* after each test cell, computes the verdict outside the kernel from the evidence the cell exported
  (:mod:`grading.notebook_run`), and after the last cell applies the shortcut rule.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from traitlets import Bool, Float

from grading import sandbox
from grading.course import grade_id
from grading.notebook_run import NotebookRun, Settings
from grading.preprocessors.resilient_execute import ResilientExecute
from grading.watchdog import CellWatchdog
from helpers.config import DEFAULT_SUBSET


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command goes through ``wrap`` (the sandbox) when it is set."""

    wrap = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernelspec's command line, wrapped."""
        command = super().format_kernel_cmd(extra_arguments)
        return self.wrap(command) if self.wrap else command


class SandboxedExecute(ResilientExecute):
    """Execute in a sandbox, limit cells by CPU time, and judge test cells outside the kernel."""

    sandboxed = Bool(True, help="Run kernels in the bubblewrap sandbox (False only for trusted code)").tag(config=True)
    cpu_timeout = Float(
        120.0, help=f"CPU seconds a cell may use at LAB_SUBSET={DEFAULT_SUBSET}; scaled up with the number of images"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources, km=None):
        """Run the notebook inside its grading context and apply the shortcut rule at the end."""
        if self.sandboxed:
            sandbox.require()
        started = time.perf_counter()
        folder = Path(resources["metadata"]["path"]).resolve()
        name = f"{resources['nbgrader']['notebook']}.ipynb"
        self.grading = NotebookRun(nb, name, folder, Settings(self.sandboxed))
        self.cell_cpu_limit = self.cpu_timeout * max(1.0, len(self.grading.lab.image_names) / DEFAULT_SUBSET)
        self.timing = {"notebook": name, "prepare": time.perf_counter() - started, "cells": []}
        self._kernel_requested = time.perf_counter()
        try:
            nb, resources = super().preprocess(nb, resources, km)
            self.grading.finish()
        finally:
            self.grading.close()
        self.timing["total"] = time.perf_counter() - started
        # One line per notebook that the worker collects: where grading time goes (README, "Grading a class").
        self.log.info("TIMING %s", json.dumps(self.timing))
        return nb, resources

    def restart_kernel(self) -> None:
        """Clear out what is left of the dead sandbox (a fork bomb's processes) before starting the next."""
        self.grading.reap()
        super().restart_kernel()

    def create_kernel_manager(self):
        """The kernel manager, pointed at this notebook's sandbox."""
        manager = super().create_kernel_manager()
        self.grading.configure(manager)
        return manager

    def preprocess_cell(self, cell, resources, index):
        """Run one cell under the watchdog, then let the grader judge it."""
        self.grading.started(index, cell)
        if index == len(self.nb.cells) - 1:
            # nbclient shuts the kernel down right after the last cell, before preprocess() returns.
            cell, resources = self._run_cell(cell, resources, index)
            self.grading.freeze()
            return cell, resources
        return self._run_cell(cell, resources, index)

    def _run_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.km is None or not self.km.has_kernel:
            return super().preprocess_cell(cell, resources, index)
        self.timing.setdefault("kernel_start", time.perf_counter() - self._kernel_requested)
        started = time.perf_counter()
        root = self.km.provisioner.process.pid
        with CellWatchdog(
            root,
            lambda: self.grading.kernel_pid(root),
            self.cell_cpu_limit,
            self.grading.folder,
            self.grading.settings.limits.disk_bytes,
        ) as watch:
            cell, resources = super().preprocess_cell(cell, resources, index)
        if watch.reason == "cpu":
            message = (
                f"This cell used more than {self.cell_cpu_limit:.0f} s of CPU time and was stopped (an endless "
                "loop?). The limit counts only this notebook's own computation, so a busy grader does not change it."
            )
            cell.outputs.append(new_output("error", ename="CPUTimeLimit", evalue=message, traceback=[message]))
        elif watch.reason == "disk":
            message = (
                f"This cell wrote more than {self.grading.settings.limits.disk_bytes // 2**30} GB (or too many "
                "files) into the notebook's folder and was stopped."
            )
            cell.outputs.append(new_output("error", ename="DiskLimit", evalue=message, traceback=[message]))
        ran = time.perf_counter() - started
        self.grading.finished(index, cell)
        self.timing["cells"].append(
            {
                "cell": grade_id(cell) or index,
                "wall": ran,
                "cpu": watch.used,
                "check": time.perf_counter() - started - ran,
            }
        )
        return cell, resources
