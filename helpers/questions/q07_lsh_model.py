"""Q7 · ``model``: a fitted BucketedRandomProjectionLSH model reading ``features``, with the lab's parameters and seed.

The evidence holds the model's random projections, so that the hidden checks can compare them with
those the seed gives, and Q8's with the hashes the model must produce.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, type_name

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q7_brp_model"


def collect(lab: LabSetup, model: object = None) -> Evidence:
    """The model's type, parameters and random projections (one row per hash table)."""
    from helpers.spark import model_projections

    found: Evidence = {"type": type_name(model)}
    for getter in ("getInputCol", "getOutputCol", "getBucketLength", "getNumHashTables"):
        with contextlib.suppress(Exception):  # not every object has every parameter
            found[getter] = getattr(model, getter)()
    if getattr(model, "_java_obj", None) is not None and hasattr(model, "approxNearestNeighbors"):
        found["projections"] = model_projections(model)
    return found


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A fitted model on features with BUCKET_LENGTH and NUM_HASH_TABLES."""
    from helpers.spark import BUCKET_LENGTH, NUM_HASH_TABLES

    kind = found["type"].rsplit(".", 1)[-1]
    if kind == "BucketedRandomProjectionLSH":
        return Diagnosis(
            "the estimator, not fitted", "model is the estimator: call .fit(assembled) and keep what it returns"
        )
    if kind != "BucketedRandomProjectionLSHModel" or "projections" not in found:
        return Diagnosis("not an LSH model", f"model must be a fitted BucketedRandomProjectionLSHModel, not {kind}")
    if found.get("getInputCol") != "features":
        return Diagnosis(
            "fitted on another column", f"the model reads {found.get('getInputCol')!r}; it must read 'features'"
        )
    if found.get("getBucketLength") != BUCKET_LENGTH or found.get("getNumHashTables") != NUM_HASH_TABLES:
        return Diagnosis(
            "other parameters",
            f"the model has bucketLength={found.get('getBucketLength')} and numHashTables="
            f"{found.get('getNumHashTables')}: use BUCKET_LENGTH and NUM_HASH_TABLES from the cell above",
        )
    return None
