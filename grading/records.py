"""What grading found, kept for the instructor: one JSON file beside each student's autograded notebooks.

``lab5_grading.json`` holds, per notebook, each test's outcome with the name of the mistake the grader
diagnosed, what each cell cost (wall and CPU time), the limits it hit, shortcuts, tampering and dead
kernels, and the sample the notebooks ran on. The class report reads it; nbgrader ignores it (it is
in ``CourseDirectory.ignore``), so it never reaches students' feedback.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from helpers.store import atomic_write

RECORD = "lab5_grading.json"


def update(folder: Path, notebook: str, record: dict) -> None:
    """Add (or replace) one notebook's record in the submission's file."""
    path = Path(folder) / RECORD
    saved = read(folder)
    saved.setdefault("notebooks", {})[notebook] = record
    _save(path, saved)


def annotate(folder: Path, **fields: object) -> None:
    """Add submission-level fields (the sample, the time it took) to the submission's file."""
    path = Path(folder) / RECORD
    saved = read(folder)
    saved.update(fields)
    _save(path, saved)


def _save(path: Path, saved: dict) -> None:
    """Write the record atomically, in the mode it had: nbgrader makes autograded files read-only (0444),
    which only root could otherwise write through.
    """
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    atomic_write(path, lambda target: target.write_text(json.dumps(saved, indent=1, sort_keys=True)))
    if mode is not None:
        path.chmod(mode)


def read(folder: Path) -> dict:
    """The submission's record (empty when it was not graded by this lab's grader)."""
    path = Path(folder) / RECORD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
