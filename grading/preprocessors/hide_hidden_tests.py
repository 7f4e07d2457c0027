"""Feedback that teaches without giving the tests away (nbgrader issue #917).

nbgrader's ``generate_feedback`` renders every test cell with its hidden tests, and tracebacks quote
them. In the feedback (HTML and notebooks) this shows each test cell's visible part, its points and
the message that says what was wrong, and replaces the hidden part with one comment line; an error's
traceback becomes its last line, the message. The instructor's ``autograded/`` copy keeps everything.
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests

from grading.course import is_test_cell

NOTE = "# (hidden tests are not shown)"


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: the hidden region becomes a note, and tracebacks only their message."""

    def preprocess_cell(self, cell, resources, index):
        """Strip one test cell (other cells are left alone)."""
        if not is_test_cell(cell):
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        cell.source = f"{cell.source.rstrip()}\n{NOTE}"
        for output in cell.outputs:
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
