"""Q7's hidden check: the model was fitted with the lab's number of tables and the run's seed."""

from __future__ import annotations

import numpy as np

from grading.references import References
from helpers.lab import LabSetup
from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.spark import NUM_HASH_TABLES

GRADE_ID = "q7_brp_model"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/spark_lsh.py:fit_lsh",
    "reference/spark_lsh.py:query_index",
)


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """The model's random projections are NUM_HASH_TABLES x 512 and those of seed=SEED."""
    projections = np.asarray(found["projections"])
    if projections.shape != (NUM_HASH_TABLES, EMBEDDING_DIM):
        return Diagnosis(
            "other tables or dimensions",
            f"the model has {projections.shape[0]} hash tables of {projections.shape[-1]} dimensions, expected "
            f"NUM_HASH_TABLES ({NUM_HASH_TABLES}) on the {EMBEDDING_DIM}-number features",
        )
    if not np.allclose(projections, refs.projections, atol=1e-9):
        return Diagnosis(
            "not seeded with SEED",
            "the model's random projections are not those of seed=SEED: pass seed=SEED to "
            "BucketedRandomProjectionLSH so that everyone gets the same hashes",
        )
    return None
