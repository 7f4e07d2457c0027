"""Q12's hidden check: the pictures in fig are the query's nearest neighbours, each recognised by its pixels.

How many of the 5 exact nearest neighbours must be among them is the test cell's ``at_least``, as for Q11:
a figure of an honest approximate answer passes whenever that answer does.
"""

from __future__ import annotations

from grading.questions.q09_query_image import query_problem
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence

GRADE_ID = "q12_neighbor_figure"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = ("reference/neighbors.py:show_neighbors",)


def check(lab: LabSetup, found: Evidence, refs: References, *, at_least: int) -> Diagnosis | None:
    """Every picture is a photo of the run, not all the same one, and ``at_least`` of the 5 nearest among them."""
    if problem := query_problem(lab, found):
        return problem
    shown = [refs.identify(pixels) for pixels in found["pictures"]]
    if None in shown:
        return Diagnosis(
            "pictures that are not dataset photos",
            f"{shown.count(None)} picture(s) in fig are not images of the dataset: show the original photos "
            "from LAB.image_dir with imshow",
        )
    if len(set(shown)) == 1 and len(shown) > 1:
        return Diagnosis(
            "the same picture repeated",
            f"fig shows the same picture {len(shown)} times: draw one panel per row of neighbors, with that row's "
            "image",
        )
    nearest = set(refs.exact_top(found["query_image"], 5))
    if len(set(shown) & nearest) < at_least:
        strangers = [name for name in shown if name not in nearest]
        return Diagnosis(
            "pictures that are not neighbours",
            f"{len(strangers)} of the {len(shown)} pictures are not among the nearest neighbours of "
            "query_image: draw one panel for each row of neighbors, with that row's image",
        )
    return None
