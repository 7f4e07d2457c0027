"""A dead kernel costs only the cell that killed it.

Enabled in ``nbgrader_config.py``. nbgrader itself already stops a cell that runs too long
(``Execute.timeout``), restores edited test cells from the gradebook (``OverwriteCells``) and
re-adds deleted ones (``OverwriteCells.add_missing_cells``). What it does not do is survive a
kernel that dies: it drops the student's whole submission. :class:`ResilientExecute` fixes that.
"""

from __future__ import annotations

import copy

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

from grading.course import grade_id, is_setup_cell

DIED = (
    "The kernel died while this cell ran (os._exit, a crash or running out of memory). "
    "This cell scores 0; the cells after it ran in a restarted kernel with the Setup cells re-run."
)


class ResilientExecute(Execute):
    """Execute, but a dead kernel costs only the cell that killed it (and what depended on its state)."""

    def preprocess_cell(self, cell, resources, index):
        """Run one cell; on kernel death record the error, restart the kernel and re-run the Setup cells."""
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.log.error(
                "Kernel died in %s (cell %d): it scores 0; restarting the kernel and continuing",
                grade_id(cell) or f"cell {index}",
                index,
            )
            cell.outputs.append(new_output("error", ename="DeadKernelError", evalue=DIED, traceback=[DIED]))
            self.restart_kernel()
            for position, earlier in enumerate(self.nb.cells[:index]):
                if is_setup_cell(earlier):
                    # A throwaway copy: the notebook keeps the Setup cell's original outputs.
                    super().preprocess_cell(copy.deepcopy(earlier), resources, position)
            return cell, self.resources

    def restart_kernel(self) -> None:
        """Start a fresh kernel in place of the dead one and wait until it answers."""
        run_sync(self.km.restart_kernel)(now=True)
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
