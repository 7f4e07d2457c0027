"""Feedback that shows no path of the grading machine (the Python environment, the course, the grader's folders).

Student code runs with the grader's Python, so a traceback through a library names where that Python
lives, and a failure in the grader's own folders names them. In the feedback every such path becomes
a short label (``<python>/...``, ``<course>/...``); the instructor's ``autograded/`` copy keeps them.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from helpers.config import PROJECT_ROOT


def grader_paths(course_root: str) -> list[tuple[str, str]]:
    """(path, label) for every folder of the grading machine, longest first."""
    paths = {
        sys.prefix: "<python>",
        sys.base_prefix: "<python>",
        str(PROJECT_ROOT): "<lab>",
        course_root: "<course>",
    }
    return sorted(((path, label) for path, label in paths.items() if path and path != "/"), key=lambda p: -len(p[0]))


class HideGraderPaths(NbGraderPreprocessor):
    """Replace the grading machine's paths in every output of a feedback notebook by labels."""

    def preprocess(self, nb, resources):
        """Scrub each cell."""
        folder = Path(resources.get("metadata", {}).get("path", "")).resolve()  # <course>/autograded/<student>/<lab>
        self._paths = grader_paths(str(folder.parents[2]) if len(folder.parents) > 2 else "")
        self._scratch = re.compile(re.escape(tempfile.gettempdir()) + r"/lab5-[\w.-]+")
        return super().preprocess(nb, resources)

    def _scrub(self, text: str) -> str:
        for path, label in self._paths:
            text = text.replace(path, label)
        return self._scratch.sub("<grader>", text)

    def preprocess_cell(self, cell, resources, index):
        """Scrub one cell's outputs: streams, errors and rich data alike."""
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = self._scrub(output.text)
            if output.get("output_type") == "error":
                output.evalue = self._scrub(output.evalue)
                output.traceback = [self._scrub(line) for line in output.traceback]
            for kind, value in output.get("data", {}).items():
                if isinstance(value, str) and kind.startswith("text/"):
                    output.data[kind] = self._scrub(value)
        return cell, resources
