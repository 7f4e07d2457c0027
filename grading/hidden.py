"""What a hidden test cell calls: ``_verdict = hidden.check("q3_all_embeddings", _found)``.

The verdict comes from :mod:`grading.checks`, on the evidence that the cell's visible part already
collected from the answers (``helpers.checks.evidence``).
"""

from __future__ import annotations

from grading.checks import Verdict, verdict
from helpers import lab
from helpers.checks import Evidence


def check(grade_id: str, found: Evidence) -> Verdict:
    """The verdict of the hidden checks of ``grade_id`` on ``found``."""
    return verdict(grade_id, lab.setup(), found)
