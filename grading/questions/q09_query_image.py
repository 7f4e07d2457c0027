"""Q9's hidden check: query_image is one of the run's images (a path, or an image outside the run, is named)."""

from __future__ import annotations

from pathlib import PurePath

from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence

GRADE_ID = "q9_random_query_image"


def query_problem(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A Diagnosis unless the evidence's query_image is an image of the run (Q10-Q12 query with it too)."""
    query = found["query_image"]
    if query in lab.image_names:
        return None
    if PurePath(query).name in lab.image_names:
        return Diagnosis(
            "a path, not a file name",
            f"query_image is a path ({query!r}): use the file name alone, as in LAB.image_names",
        )
    if (lab.image_dir / PurePath(query).name).is_file():
        return Diagnosis(
            "an image outside the run",
            f"query_image is {query!r}, an image of the dataset but not one of the {len(lab.image_names)} this run "
            "uses: choose from LAB.image_names",
        )
    return Diagnosis(
        "not an image of the run", f"query_image (Q9) is {query!r}, which is not one of the images in LAB.image_names"
    )


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """The name of one image of the run."""
    return query_problem(lab, found)
