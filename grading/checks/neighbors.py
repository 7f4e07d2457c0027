"""Hidden checks of Part 4 with their diagnoses: query image (Q9), its vector (Q10), neighbours (Q11), figure (Q12)."""

from __future__ import annotations

from pathlib import PurePath

import numpy as np

from grading.checks.references import References
from grading.checks.spark_lsh import UNIT_TOLERANCE
from helpers.checks import Evidence, numeric_columns
from helpers.lab import LabSetup
from helpers.vectors import cosine


def _query_problems(lab: LabSetup, found: Evidence) -> list[str]:
    query = found["query_image"]
    if query in lab.image_names:
        return []
    if PurePath(query).name in lab.image_names:
        return [f"query_image is a path ({query!r}): use the file name alone, as in LAB.image_names"]
    if (lab.image_dir / PurePath(query).name).is_file():
        return [
            f"query_image is {query!r}, an image of the dataset but not one of the {len(lab.image_names)} this "
            "run uses: choose from LAB.image_names"
        ]
    return [f"query_image (Q9) is {query!r}, which is not one of the images in LAB.image_names"]


def q9_random_query_image(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The name of one image of the run."""
    return _query_problems(lab, found)


def q10_query_vector(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The unit-length features vector of query_image."""
    if problems := _query_problems(lab, found):
        return problems
    vector, expected = found["query_vector"].ravel(), refs.unit[found["query_image"]]
    if np.allclose(vector, expected, atol=UNIT_TOLERANCE):
        return []
    if cosine(vector, expected) > 0.9999:
        return [
            f"query_vector points the right way but has length {np.linalg.norm(vector):.2f}: take the features "
            "column (scaled to length 1), not the raw numbers of the CSV or df"
        ]
    owner = next((name for name, unit in refs.unit.items() if np.allclose(vector, unit, atol=UNIT_TOLERANCE)), None)
    if owner:
        return [
            f"query_vector is the features vector of {owner}, not of query_image: filter hashed on the image "
            "column equal to query_image before taking features"
        ]
    return [
        "query_vector is not the features vector of query_image: take the row of query_image in hashed and its "
        "features column"
    ]


def q11_five_nearest_neighbors(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """5 rows, the query first at distance 0, and at least 4 of the exact 5 nearest neighbours."""
    if problems := _query_problems(lab, found):
        return problems
    table = found["table"]
    distances = numeric_columns(table)
    if not distances:
        return ["neighbors needs its distance column (distCol), as approxNearestNeighbors returns it"]
    values = np.asarray(table["columns"]["distCol" if "distCol" in distances else distances[-1]], dtype=np.float64)
    order = np.argsort(values.ravel(), kind="stable")
    images = [table["columns"]["image"][i] for i in order]
    nearest = float(values.ravel()[order[0]])
    if nearest > 2.0001:
        return [
            f"the nearest neighbour is at distance {nearest:.2f}, more than any two unit vectors can be apart (2): "
            "the key vector is not unit length; query with query_vector (the features vector)"
        ]
    if images[0] != found["query_image"] or nearest > 1e-6:
        return [
            f"the nearest row is {images[0]} at distance {nearest:.3f}, but query_image itself should come first at "
            "distance 0: query with query_vector, the features vector of query_image"
        ]
    found_exact = len(set(images) & set(refs.exact_top(found["query_image"], 5)))
    if found_exact < 4:
        return [
            f"only {found_exact} of these 5 images are among the 5 nearest neighbours of query_image: use "
            "model.approxNearestNeighbors(hashed, query_vector, 5)"
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
            "from LAB.image_dir with imshow"
        ]
    if len(set(shown)) == 1 and len(shown) > 1:
        return [
            f"fig shows the same picture {len(shown)} times: draw one panel per row of neighbors, with that row's image"
        ]
    nearby = set(refs.exact_top(found["query_image"], 10))
    strangers = [name for name in shown if name not in nearby]
    if strangers or len(set(shown) & set(refs.exact_top(found["query_image"], 5))) < 4:
        return [
            f"{max(len(strangers), 1)} of the {len(shown)} pictures are not among the nearest neighbours of "
            "query_image: draw one panel for each row of neighbors, with that row's image"
        ]
    return []
