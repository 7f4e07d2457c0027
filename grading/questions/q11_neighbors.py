"""Q11's hidden check: 5 rows, the query first at distance 0, and enough of the exact 5 nearest neighbours.

How many is the test cell's setting ``at_least`` (``grade(_found, at_least=4)``): LSH is approximate, so
an honest answer may miss one, and on some samples the lab's own index finds only 3 of the 5. So the
5 images the lab's index answers for the query (computed here from the reference vectors, the run's
projections and the lab's bucket length, as Spark does) pass whatever ``at_least`` says.
"""

from __future__ import annotations

import numpy as np

from grading.questions.q09_query_image import query_problem
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.spark import DISTANCE, numeric_columns

GRADE_ID = "q11_five_nearest_neighbors"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/neighbors.py:nearest_neighbors",
    "reference/neighbors.py:exact_neighbors",
    "reference/neighbors.py:nearest_indices",
    "reference/neighbors.py:unit_distances",
)


def check(lab: LabSetup, found: Evidence, refs: References, *, at_least: int) -> Diagnosis | None:
    """The query at distance 0 first, then at least ``at_least`` of its 5 exact nearest neighbours, or the lab
    index's own 5.
    """
    if problem := query_problem(lab, found):
        return problem
    rows = found["table"]
    distances = numeric_columns(rows["dtypes"])
    if not distances:
        return Diagnosis(
            "no distance column", "neighbors needs its distance column (distCol), as approxNearestNeighbors returns it"
        )
    values = np.asarray(rows["columns"][DISTANCE if DISTANCE in distances else distances[-1]], dtype=np.float64)
    order = np.argsort(values.ravel(), kind="stable")
    images = [rows["columns"]["image"][i] for i in order]
    nearest = float(values.ravel()[order[0]])
    if nearest > 2.0001:
        return Diagnosis(
            "key not unit length",
            f"the nearest neighbour is at distance {nearest:.2f}, more than any two unit vectors can be apart (2): "
            "the key vector is not unit length; query with query_vector (the features vector)",
        )
    if images[0] != found["query_image"] or nearest > 1e-6:
        return Diagnosis(
            "queried with another vector",
            f"the nearest row is {images[0]} at distance {nearest:.3f}, but query_image itself should come first at "
            "distance 0: query with query_vector, the features vector of query_image",
        )
    found_exact = len(set(images) & set(refs.exact_top(found["query_image"], 5)))
    if found_exact < at_least and set(images) != set(refs.lsh_top(found["query_image"], 5)):
        return Diagnosis(
            "too few true neighbours",
            f"only {found_exact} of these 5 images are among the 5 nearest neighbours of query_image: use "
            "model.approxNearestNeighbors(hashed, query_vector, 5)",
        )
    return None
