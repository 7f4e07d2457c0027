"""The grader's work outside the sandbox that needs the reference network: reference artefacts and verdicts.

For each run (one submission's images, weights and seed) :class:`Checks` computes the reference
artefacts a notebook's kernel may read and each test's verdict from the evidence its cell exported.
Both need torch and the reference network, or reproduce a student's mistake with them (~0.7 GB):
:mod:`grading.check_service` runs one ``Checks`` for every grading job of a class, so that the
jobs themselves hold none of it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from grading.check_service import Judged, Run
from grading.questions import notebook_artefacts
from grading.references import References
from grading.verdicts import verdict
from helpers.lab import reference_embeddings_files
from helpers.questions.evidence import Evidence
from helpers.reference.storage import embeddings_csv


def artefact_files(artefact: str, refs: References) -> list[Path]:
    """The files of one reference artefact, made when missing (``resized``: Q1's images; ``embeddings``: Q3-Q4's)."""
    if artefact == "resized":
        return [refs.resized_dir]
    if artefact == "embeddings":
        refs.embeddings  # noqa: B018 - computed (and saved) here, outside the sandbox
        embeddings_csv(refs.lab)
        return list(reference_embeddings_files(refs.lab)[1:])
    raise ValueError(f"unknown reference artefact {artefact!r}")


class Checks:
    """The reference values and verdicts of the runs being graded, one run at a time each (jobs call from threads)."""

    def __init__(self) -> None:
        self._runs: dict[Run, tuple[threading.Lock, References]] = {}
        self._guard = threading.Lock()

    def _run(self, run: Run) -> tuple[threading.Lock, References]:
        with self._guard:
            if run not in self._runs:
                self._runs[run] = threading.Lock(), References(run.lab())
            return self._runs[run]

    def publish(self, run: Run, notebook: str) -> list[Path]:
        """The reference files the kernel of ``notebook`` may read in ``run`` (``questions.notebook_artefacts``)."""
        lock, refs = self._run(run)
        with lock:
            return [path for name in sorted(notebook_artefacts(notebook)) for path in artefact_files(name, refs)]

    def judge(self, run: Run, grade: str, found: Evidence, settings: Mapping[str, object]) -> Judged:
        """The verdict of test ``grade`` on its evidence (``settings``: its test cell's, as the gradebook has it)."""
        lock, refs = self._run(run)
        with lock:
            try:
                outcome = verdict(grade, refs.lab, found, refs, settings)
            except Exception as error:  # malformed evidence from student code must fail the test, not the grader
                return Judged(
                    False,
                    "answer could not be checked",
                    f"the answer could not be checked ({error.__class__.__name__}: {error})",
                )
        if outcome.passed:
            return Judged(True)
        return Judged(False, outcome.diagnosis.name, outcome.message)

    def forget(self, scratch: Path) -> None:
        """Drop the runs graded in ``scratch`` (a finished submission's folder): their files stay where they are."""
        with self._guard:
            for run in [run for run in self._runs if run.folder.is_relative_to(scratch)]:
                del self._runs[run]
