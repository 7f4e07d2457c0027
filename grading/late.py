"""Late work: a share of each notebook's score per day late, and nothing after a last day.

nbgrader's ``AssignLatePenalties`` calls the plugin for every notebook of a late submission (the
submission's timestamp from the exchange, or from the LMS file names ``make collect`` reads, against
the assignment's due date) and resets the penalty before every grading, so a regrade never applies
it twice (nbgrader #723).
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float, Int

DAY = 24 * 3600


class PercentPerDayPenalty(LateSubmissionPlugin):
    """``percent_per_day`` of the score for each day or part of a day late; the whole score after ``max_days``."""

    percent_per_day = Float(10.0, help="Share of the notebook's score lost per (started) day late").tag(config=True)
    max_days = Int(5, help="Days late still accepted; later work scores zero").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        """The points ``student_id`` loses on a notebook that scored ``score``, ``total_seconds_late`` late."""
        days = math.ceil(total_seconds_late / DAY)
        if days > self.max_days:
            return score
        return score * min(1.0, days * self.percent_per_day / 100)
