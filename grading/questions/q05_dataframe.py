"""Q5's hidden check: one row per image whose numeric columns, in order, are the image's embedding."""

from __future__ import annotations

import numpy as np

from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.spark import numeric_columns
from helpers.vectors import same_vectors, unit_vectors

GRADE_ID = "q5_spark_dataframe"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/spark_lsh.py:read_embeddings_df",
    "reference/spark_lsh.py:embeddings_df",
)
#: How far a student's unit vector may be from the reference one (CSV rounding, float32 arithmetic).
UNIT_TOLERANCE = 2e-4


def same_images(lab: LabSetup, images: list[str], what: str) -> Diagnosis | None:
    """A Diagnosis unless ``images`` holds each image of the run exactly once (Q5, Q6 and Q8's tables)."""
    if sorted(images) != sorted(lab.image_names):
        return Diagnosis(
            "not every image once",
            f"{what} must hold each of the {len(lab.image_names)} images of the run exactly once "
            f"(it has {len(images)} rows, {len(set(images))} different images)",
        )
    return None


def rows_problem(
    got: np.ndarray, expected: np.ndarray, equal: np.ndarray, what: str, reordered: str, otherwise: str
) -> Diagnosis | None:
    """What is wrong with rows of vectors: nothing, the right numbers in another column order, or other numbers."""
    if equal.all():
        return None
    # Sorting each row's numbers ignores the order of the columns.
    if np.allclose(
        np.sort(unit_vectors(got), axis=1), np.sort(unit_vectors(expected), axis=1), atol=UNIT_TOLERANCE * 10
    ):
        return Diagnosis("columns in another order", f"{what} holds the right numbers in another order: {reordered}")
    return Diagnosis(
        "other numbers",
        f"{what} of {int((~equal).sum())} of {len(equal)} images are not what they should be: {otherwise}",
    )


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """Each image's numeric columns equal its reference embedding."""
    images = found["columns"]["image"]
    if problem := same_images(lab, images, "df"):
        return problem
    numbers = np.column_stack(
        [np.asarray(found["columns"][c], dtype=np.float64) for c in numeric_columns(found["dtypes"])]
    )
    names, reference = refs.embeddings
    got = numbers[[images.index(name) for name in names]]
    return rows_problem(
        got,
        reference,
        same_vectors(got, reference),
        "df",
        "read EMBEDDINGS_CSV as it is, without selecting or reordering its 512 columns",
        "read EMBEDDINGS_CSV (the Setup cell chose it: your Q4 CSV when it was valid, else the reference copy)",
    )
