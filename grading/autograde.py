"""``make autograde JOBS=N``: a whole class, N submissions at a time, into the course's one gradebook.

Every submission is graded by :func:`grading.worker.grade_submission` in a scratch course of its own
(each of its kernels runs as a sandbox user leased for it alone; its checks run in the run's one
checker process, :mod:`grading.check_service`), and this process is the gradebook's only writer: it
merges each finished submission's rows and copies its autograded notebooks back, one at a time. The
scores are the same as grading one submission after another.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from grading import sandbox
from grading.check_service import checker
from grading.course import ASSIGNMENT, generate_release, notebook_names, submission_problems
from grading.gradebook import merge_submission, snapshot
from grading.samples import assign_seeds
from grading.worker import IGNORED, Graded, grade_submission, start_worker
from helpers.spark import ensure_class_archive


@dataclass
class ClassRun:
    """What grading a class did: who was graded, who failed and why, and how long it took."""

    graded: list[Graded] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1

    @property
    def failures(self) -> list[Graded]:
        """Submissions nbgrader could not grade (their log says why)."""
        return [result for result in self.graded if not result.ok]

    @property
    def on_own_images(self) -> list[Graded]:
        """Submissions graded on the student's own images: the dataset had no others (see grading.samples)."""
        return [result for result in self.graded if result.ok and not result.unseen]

    def summary(self) -> str:
        """A few lines for the instructor."""
        per_hour = 3600 * len(self.graded) / self.seconds if self.seconds else 0.0
        lines = [
            f"graded {len(self.graded)} submissions with {self.jobs} job(s) in {self.seconds:.0f} s "
            f"({per_hour:.0f} submissions/hour); {len(self.failures)} failed"
        ]
        lines += [f"  FAILED {result.student}: see {result.scratch / 'log.txt'}" for result in self.failures]
        if self.on_own_images:
            lines.append(
                f"  NOTE: {len(self.on_own_images)} submission(s) ran on the students' own images: the dataset has "
                "no others (LAB_SUBSET=all, or too few images), so answers pasted as data are not caught "
                "(README, Grading integrity)"
            )
        return "\n".join(lines)


def submitted_students(course: Path) -> list[str]:
    """Students with a submission folder for the lab, sorted."""
    return sorted(path.parent.name for path in (course / "submitted").glob(f"*/{ASSIGNMENT}") if path.is_dir())


def grading_order(course: Path, students: list[str]) -> list[str]:
    """``students`` in the order their jobs start: those who submitted the most of the lab's notebooks first (then
    by name; a renamed notebook is not graded, so it does not count). The quickest submissions come last, so the
    jobs finish together instead of one grading a whole submission alone at the end while the others' cores wait.
    """
    graded = set(notebook_names())

    def notebooks(student: str) -> int:
        return sum(path.name in graded for path in (course / "submitted" / student / ASSIGNMENT).glob("*.ipynb"))

    return sorted(students, key=lambda student: (-notebooks(student), student))


def _ensure_assignment(course: Path) -> None:
    """The gradebook must know the assignment's cells before anything is graded (``make release`` does it)."""
    from nbgrader.api import Gradebook, MissingEntry

    from grading.gradebook import url

    try:
        with Gradebook(url(course / "gradebook.db")) as gradebook:
            gradebook.find_assignment(ASSIGNMENT)
    except MissingEntry:
        generate_release(course)


def _keep(result: Graded, course: Path) -> None:
    """Take a finished submission into the course: its gradebook rows and its autograded notebooks."""
    merge_submission(result.gradebook, course / "gradebook.db", ASSIGNMENT, result.student)
    target = course / "autograded" / result.student / ASSIGNMENT
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(result.autograded, target, ignore=IGNORED, symlinks=True)


def grade_class(
    course: Path,
    students: list[str] | None = None,
    jobs: int | None = None,
    sandboxed: bool = True,
    options: tuple[str, ...] = (),
    progress: bool = True,
    sample_pool: int | None = None,
) -> ClassRun:
    """Autograde ``students`` (default: every submission) ``jobs`` at a time, each on images of their own
    (``sample_pool``: from that many samples for the whole run); returns what happened.
    """
    if sandboxed:
        sandbox.require()
    cores = os.cpu_count() or 1
    jobs = max(1, jobs or cores)
    # Each job's kernel gets its share of the cores: two jobs' torch, two threads each, on two cores wait on each other.
    threads = () if jobs == 1 else (f"--SandboxedExecute.kernel_threads={max(1, cores // jobs)}",)
    options = (*threads, *options, *(() if sandboxed else ("--SandboxedExecute.sandboxed=False",)))
    students = students if students is not None else submitted_students(course)
    _ensure_assignment(course)
    ensure_class_archive()  # once per machine: every notebook's Spark then starts sooner
    run = ClassRun(jobs=jobs)
    started = time.perf_counter()
    seeds = assign_seeds(course, students, sample_pool)
    scratch = Path(tempfile.mkdtemp(prefix="lab5-grading-"))
    template = snapshot(course / "gradebook.db", scratch / "gradebook.db")
    samples = scratch / "samples"

    bar = tqdm(total=len(students), unit="submission", disable=not progress, desc="autograding")
    try:
        # Worker processes, each with nbgrader imported once, grade one submission at a time; one checker
        # process, with torch and the reference network, computes every worker's references and verdicts.
        with (
            checker() as found,
            ProcessPoolExecutor(
                max_workers=jobs, mp_context=get_context("spawn"), initializer=start_worker, initargs=(found,)
            ) as pool,
        ):
            futures = {
                pool.submit(
                    grade_submission, course, student, template, scratch / student, seeds[student], samples, options
                ): student
                for student in grading_order(course, students)
            }
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # the worker died (BrokenProcessPool), or a grader error escaped it
                    student = futures[future]
                    died = "the grading process died" if isinstance(error, BrokenProcessPool) else "grading failed"
                    log = f"{died} ({error!r}): grade again with --student {student}\n"
                    log += "".join(traceback.format_exception(error))
                    result = Graded(student, False, 0.0, scratch / student, log)
                    result.scratch.mkdir(parents=True, exist_ok=True)
                    (result.scratch / "log.txt").write_text(log)
                if result.ok:
                    _keep(result, course)
                run.graded.append(result)
                bar.update(1)
                bar.set_postfix(failed=len(run.failures))
    finally:
        bar.close()
        if not run.failures:  # kept otherwise: the logs say what went wrong
            shutil.rmtree(scratch, ignore_errors=True)
    run.seconds = time.perf_counter() - started
    return run


def main(
    course: Path,
    jobs: int | None,
    students: list[str] | None,
    unsafe: bool,
    sample_pool: int | None,
    regenerate: bool = False,
) -> int:
    """``python -m grading autograde``: report missing notebooks, grade, print the summary.

    ``regenerate`` (``make regrade``, after a hidden test in ``source/`` was fixed): generate the release
    first, since nbgrader grades with the tests its gradebook froze when the assignment was generated
    (nbgrader #1069, #1858); ``generate_assignment --force`` updates them, settings included. Every
    submission then keeps the sample it was graded on (``grading_samples.json``, while it is unchanged), its
    manual grades and comments (nbgrader keeps ``manual_score`` and ``manual_comment``), and its late
    penalty is computed afresh, never added twice.
    """
    if not unsafe and (reason := sandbox.unavailable_reason()):
        print(f"error: refusing to grade untrusted code without a sandbox: {reason}", file=sys.stderr)
        return 2
    if regenerate:
        generate_release(course)
    for problem in submission_problems(course):
        print(problem)
    run = grade_class(course, students, jobs, sandboxed=not unsafe, sample_pool=sample_pool)
    print(run.summary())
    return 1 if run.failures else 0
