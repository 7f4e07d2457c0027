"""Q10's hidden check: query_vector is the unit-length features vector of query_image."""

from __future__ import annotations

import numpy as np

from grading.questions.q05_dataframe import UNIT_TOLERANCE
from grading.questions.q09_query_image import query_problem
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.vectors import cosine

GRADE_ID = "q10_query_vector"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = ("reference/neighbors.py:vector_of",)


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """The features vector of query_image: raw numbers, another image's vector and the like are named."""
    if problem := query_problem(lab, found):
        return problem
    vector, expected = found["query_vector"].ravel(), refs.unit[found["query_image"]]
    if np.allclose(vector, expected, atol=UNIT_TOLERANCE):
        return None
    if cosine(vector, expected) > 0.9999:
        return Diagnosis(
            "not unit length",
            f"query_vector points the right way but has length {np.linalg.norm(vector):.2f}: take the features "
            "column (scaled to length 1), not the raw numbers of the CSV or df",
        )
    owner = next((name for name, unit in refs.unit.items() if np.allclose(vector, unit, atol=UNIT_TOLERANCE)), None)
    if owner:
        return Diagnosis(
            "another image's vector",
            f"query_vector is the features vector of {owner}, not of query_image: filter hashed on the image "
            "column equal to query_image before taking features",
        )
    return Diagnosis(
        "another vector",
        "query_vector is not the features vector of query_image: take the row of query_image in hashed and its "
        "features column",
    )
