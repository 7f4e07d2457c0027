"""Q10 · ``query_vector``: the unit-length ``features`` vector of ``query_image``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis, q09_query_image
from helpers.questions.evidence import Evidence, as_array

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q10_query_vector"


def collect(lab: LabSetup, query_image: object = None, query_vector: object = None) -> Evidence:
    """Q9's name and the vector as an array (or why it is not one)."""
    return {**q09_query_image.collect(lab, query_image), "query_vector": as_array(query_vector)}


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """512 numbers."""
    vector = found["query_vector"]
    if isinstance(vector, str):
        return Diagnosis("not numbers", f"query_vector must be a vector of numbers ({vector})")
    if vector.size != EMBEDDING_DIM:
        if vector.size < 16:
            return Diagnosis(
                "the hashes",
                f"query_vector has {vector.size} entries, expected {EMBEDDING_DIM}: those are the "
                "hashes; take the features column",
            )
        return Diagnosis("not 512 entries", f"query_vector has {vector.size} entries, expected {EMBEDDING_DIM}")
    return None
