"""Hidden checks of Part 4: the query image (Q9), its vector (Q10), its neighbours (Q11) and their figure (Q12)."""

from __future__ import annotations

import numpy as np

from grading.checks.references import References
from grading.checks.spark_lsh import UNIT_TOLERANCE
from helpers.checks import Evidence, numeric_columns
from helpers.lab import LabSetup


def _query_problems(lab: LabSetup, found: Evidence) -> list[str]:
    if found["query_image"] not in lab.image_names:
        return [f"query_image (Q9) is {found['query_image']!r}, which is not one of the images in LAB.image_names"]
    return []


def q9_random_query_image(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The name of one image of the run."""
    return _query_problems(lab, found)


def q10_query_vector(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The unit-length features vector of query_image."""
    if problems := _query_problems(lab, found):
        return problems
    right = np.allclose(found["query_vector"].ravel(), refs.unit[found["query_image"]], atol=UNIT_TOLERANCE)
    hint = "take the row of query_image in hashed and its features column"
    return [] if right else [f"query_vector is not the features vector of query_image: {hint}"]


def q11_five_nearest_neighbors(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """5 rows, the query first at distance 0, and at least 4 of the exact 5 nearest neighbours."""
    if problems := _query_problems(lab, found):
        return problems
    table = found["table"]
    distances = numeric_columns(table)
    if not distances:
        return ["neighbors needs its distance column (distCol), as approxNearestNeighbors returns it"]
    column = "distCol" if "distCol" in distances else distances[-1]
    order = np.argsort(np.asarray(table["columns"][column], dtype=np.float64).ravel(), kind="stable")
    images = [table["columns"]["image"][i] for i in order]
    nearest = float(np.asarray(table["columns"][column], dtype=np.float64).ravel()[order[0]])
    if images[0] != found["query_image"] or nearest > 1e-6:
        return [
            "the nearest neighbour should be query_image itself at distance 0: query with query_vector "
            "on hashed, the DataFrame that holds query_image"
        ]
    if len(set(images) & set(refs.exact_top(found["query_image"], 5))) < 4:
        return [
            "these are not the nearest neighbours of query_image: use model.approxNearestNeighbors(hashed, "
            "query_vector, 5)"
        ]
    return []


def q12_neighbor_figure(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The pictures in fig are the query's nearest neighbours, each identified by its pixels."""
    if problems := _query_problems(lab, found):
        return problems
    shown = [refs.identify(pixels) for pixels in found["pictures"]]
    if None in shown:
        return [
            f"{shown.count(None)} picture(s) in fig are not images of the dataset: show the original photos "
            "from LAB.image_dir"
        ]
    exact = refs.exact_top(found["query_image"], 5)
    if len(set(shown) & set(exact)) < 4 or not set(shown) <= set(refs.exact_top(found["query_image"], 10)):
        return ["fig does not show the nearest neighbours of query_image: draw one panel for each row of neighbors"]
    return []
