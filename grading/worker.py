"""One submission in, one result out: the unit of work of parallel grading.

:func:`grade_submission` copies what nbgrader needs into a scratch course (configuration, source
notebooks, a snapshot of the gradebook, the one submission), runs ``nbgrader autograde`` there for
that student only, and leaves the result in the scratch folder: the scratch gradebook (whose rows
for this student are merged into the course's gradebook by :mod:`grading.autograde`) and the
autograded notebooks. Nothing in it touches the course directory, so a worker can as well run on
another machine that has this repository, the dataset and the same environment.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from grading import records
from grading.course import ASSIGNMENT, nbgrader
from grading.preprocessors.sandboxed_execute import KERNEL_FOLDER
from grading.samples import sample_for

#: What a submission or autograded folder may hold that grading never needs (the kernels' own folders included).
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "lab5_work", KERNEL_FOLDER, "feedback")


@dataclass(frozen=True)
class Graded:
    """The outcome of grading one submission in a scratch course."""

    student: str
    ok: bool
    seconds: float
    scratch: Path
    log: str
    unseen: bool = True  # graded on images the student never had

    @property
    def gradebook(self) -> Path:
        """The scratch gradebook that holds this student's scores."""
        return self.scratch / "course" / "gradebook.db"

    @property
    def autograded(self) -> Path:
        """The autograded notebooks (nbgrader's output for this student)."""
        return self.scratch / "course" / "autograded" / self.student / ASSIGNMENT


def prepare(course: Path, student: str, gradebook: Path, scratch: Path) -> Path:
    """A scratch course for one submission: config, source, a gradebook copy, the submission."""
    target = scratch / "course"
    target.mkdir(parents=True)
    shutil.copy2(course / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(course / "source", target / "source", ignore=IGNORED)
    shutil.copy2(gradebook, target / "gradebook.db")
    submitted = course / "submitted" / student / ASSIGNMENT
    shutil.copytree(submitted, target / "submitted" / student / ASSIGNMENT, ignore=IGNORED, symlinks=True)
    return target


def grade_submission(
    course: Path, student: str, gradebook: Path, scratch: Path, seed: int, options: tuple[str, ...] = ()
) -> Graded:
    """Autograde one student's submission in ``scratch`` on the images of ``seed`` (``options``: more nbgrader
    command-line settings).
    """
    started = time.perf_counter()
    target = prepare(course, student, gradebook, scratch)
    sample = sample_for(seed, scratch)
    sample_file = sample.write(scratch / "sample.json")
    result = nbgrader(
        target,
        "autograde",
        ASSIGNMENT,
        "--student",
        student,
        "--create",
        "--force",
        f"--SandboxedExecute.grading_sample={sample_file}",
        f"--SandboxedExecute.data_dir={sample.data_dir}",
        *options,
        check=False,
    )
    log = result.stdout + result.stderr
    (scratch / "log.txt").write_text(log)
    autograded = target / "autograded" / student / ASSIGNMENT
    ok = result.returncode == 0 and autograded.is_dir() and "error processing assignment" not in log.lower()
    seconds = time.perf_counter() - started
    if ok:
        records.annotate(autograded, sample=sample.describe(), seconds=seconds)
    return Graded(student, ok, seconds, scratch, log, sample.unseen)
