"""Q6 · ``assembled`` keeps ``image`` and adds ``features``: each image's 512 numbers as one unit-length vector."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, table
from helpers.questions.q05_dataframe import not_a_spark_dataframe

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q6_features_vector"


def collect(lab: LabSetup, assembled: object = None) -> Evidence:
    """The DataFrame's column types, and the rows of image and features (vectors as arrays)."""
    return table(assembled, keep=("image", "features"))


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """Image and a vector column features whose first vector has 512 entries and length 1."""
    if problem := not_a_spark_dataframe(found, "assembled"):
        return problem
    columns = found.get("columns", {})
    if "features" not in columns or "image" not in columns:
        return Diagnosis("columns missing", "assembled needs the columns image and features")
    if "features" not in found["vector_columns"]:
        return Diagnosis("features not a vector column", "features must be a vector column (VectorAssembler)")
    first = columns["features"][0] if columns["features"] else np.zeros(0)
    if len(first) != EMBEDDING_DIM:
        return Diagnosis(
            "not 512 entries",
            f"features has {len(first)} entries, expected {EMBEDDING_DIM}: assemble every number column and "
            "nothing else",
        )
    if abs(np.linalg.norm(first) - 1) > 1e-6:
        if abs(np.abs(first).sum() - 1) < 1e-6:
            return Diagnosis(
                "normalised with p=1",
                "features sum to 1 in absolute value (p=1): normalise with Normalizer(p=2.0), to Euclidean length 1",
            )
        return Diagnosis(
            "not normalised",
            f"features must have length 1 (it is {np.linalg.norm(first):.3g}): apply Normalizer(p=2.0)",
        )
    return None
