"""Q9 · ``query_image``: the file name of one image of the run, chosen with ``random.Random(SEED)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, type_name

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q9_random_query_image"


def collect(lab: LabSetup, query_image: object = None) -> Evidence:
    """The name (None when it is not a string) and its type."""
    return {
        "query_image": query_image if isinstance(query_image, str) else None,
        "query_image_type": type_name(query_image),
    }


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A string."""
    if found["query_image"] is None:
        return Diagnosis(
            "not a file name",
            f"query_image must be a file name (str), not {found['query_image_type'].rsplit('.', 1)[-1]}",
        )
    return None
