"""A test's verdict from its evidence alone: the question's visible check, then its hidden one.

The autograder computes it outside the student's kernel, from the evidence the test cell exported;
the source notebooks compute it in place (nbval, ``nbgrader validate``) through ``grading.hidden``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from grading.questions import questions as hidden_checks
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis, question
from helpers.questions.evidence import Evidence


@dataclass(frozen=True)
class Verdict:
    """A test's outcome: passed, or the diagnosis that says what is wrong."""

    diagnosis: Diagnosis | None = None

    @property
    def passed(self) -> bool:
        """Nothing is wrong."""
        return self.diagnosis is None

    @property
    def message(self) -> str:
        """What the student reads when it failed (empty when it passed)."""
        return self.diagnosis.message if self.diagnosis else ""


def verdict(
    grade_id: str,
    lab: LabSetup,
    found: Evidence,
    refs: References | None = None,
    settings: Mapping[str, object] | None = None,
) -> Verdict:
    """The visible, then the hidden check of one question on its evidence (``settings``: its test cell's)."""
    problem = question(grade_id).visible(lab, found)
    return Verdict(problem or hidden_checks()[grade_id].check(lab, found, refs or References(lab), **(settings or {})))
