"""One submission in, one result out: the unit of work of parallel grading.

:func:`grade_submission` copies what nbgrader needs into a scratch course (configuration, source
notebooks, a snapshot of the gradebook, the one submission), runs ``nbgrader autograde`` there for
that student only, and leaves the result in the scratch folder: the scratch gradebook (whose rows
for this student are merged into the course's gradebook by :mod:`grading.autograde`) and the
autograded notebooks. Nothing in it touches the course directory, so a worker can as well run on
another machine that has this repository, the dataset and the same environment.

nbgrader runs in the calling process: a grading worker (:func:`start_worker`) imports nbgrader once and
then grades one submission after another, instead of paying for those imports in a new ``nbgrader``
process per submission. Its checks run in the class run's checker (:mod:`grading.check_service`), so
the worker holds no torch. Everything the run prints, its kernels' output included, is captured at the
file descriptors into the submission's log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grading import check_service, records
from grading.course import ASSIGNMENT, KERNEL_FOLDER
from grading.samples import sample_for
from grading.submission_sandbox import close_current

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


def start_worker(checker: check_service.Checker | None = None) -> None:
    """A grading worker process starts: the environment nbgrader's runs need, the imports done once, and the
    connection to the run's ``checker`` (None: it checks for itself).
    """
    # nbgrader runs the kernel by name: this environment's bin/ must come first on the PATH.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    os.environ["LAB_SPARK_UI"] = "false"
    # ipykernel stops capturing output written straight to fd 2 (the JVM's) when it sees this variable,
    # which would hide from tests exactly the noise that costs students points in real grading.
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    import nbgrader.apps.autogradeapp  # noqa: F401

    import grading.preprocessors.sandboxed_execute  # noqa: F401

    if checker is not None:
        check_service.connect(checker)


def _autograde(course: Path, arguments: list[str]) -> tuple[int, str]:
    """``nbgrader autograde ARGUMENTS`` in ``course``, in this process: its exit status and everything it printed."""
    from nbgrader.apps.autogradeapp import AutogradeApp

    previous = Path.cwd()
    with tempfile.TemporaryFile(mode="w+") as log, _captured(log):
        os.chdir(course)  # nbgrader reads the course's nbgrader_config.py from the working directory
        app = AutogradeApp.instance()
        try:
            app.initialize(arguments)
            app.start()
            status = 0
        except SystemExit as stop:  # nbgrader's fail() exits
            status = stop.code if isinstance(stop.code, int) else 1
        except Exception:  # a grader error fails this submission, not the whole class
            traceback.print_exc()
            status = 1
        finally:
            close_current()  # the submission's sandbox, after its last notebook
            AutogradeApp.clear_instance()
            os.chdir(previous)
            sys.stdout.flush()
            sys.stderr.flush()
        log.seek(0)
        return status, log.read()


@contextlib.contextmanager
def _captured(log) -> Iterator[None]:
    """File descriptors 1 and 2 (and Python's streams and loggers on them) sent to ``log`` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def grade_submission(
    course: Path,
    student: str,
    gradebook: Path,
    scratch: Path,
    seed: int,
    samples: Path,
    options: tuple[str, ...] = (),
) -> Graded:
    """Autograde one student's submission in ``scratch`` on the images of ``seed``, made in ``samples``
    (shared by the run's submissions: those on one seed share its images and reference artefacts);
    ``options``: more nbgrader command-line settings.
    """
    started = time.perf_counter()
    target = prepare(course, student, gradebook, scratch)
    sample = sample_for(seed, samples)
    sample_file = sample.write(scratch / "sample.json")
    status, log = _autograde(
        target,
        [
            ASSIGNMENT,
            "--student",
            student,
            "--create",
            "--force",
            f"--SandboxedExecute.grading_sample={sample_file}",
            f"--SandboxedExecute.data_dir={sample.data_dir}",
            *options,
        ],
    )
    check_service.forget(scratch)
    (scratch / "log.txt").write_text(log)
    autograded = target / "autograded" / student / ASSIGNMENT
    ok = status == 0 and autograded.is_dir() and "error processing assignment" not in log.lower()
    seconds = time.perf_counter() - started
    if ok:
        records.annotate(autograded, sample=sample.describe(), seconds=seconds)
    return Graded(student, ok, seconds, scratch, log, sample.unseen)
