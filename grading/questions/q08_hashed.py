"""Q8's hidden check: hashed holds every image once with the hashes that Q7's model gives its features."""

from __future__ import annotations

import numpy as np

from grading.questions.q05_dataframe import same_images
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.reference.spark_lsh import lsh_hashes
from helpers.spark import NUM_HASH_TABLES

GRADE_ID = "q8_hashed_dataframe"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/spark_lsh.py:lsh_projections",
    "reference/spark_lsh.py:lsh_hashes",
    "reference/spark_lsh.py:JavaRandom.next_double",
    "reference/spark_lsh.py:JavaRandom.next_gaussian",
    "reference/spark_lsh.py:query_index",
)


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """Every image's hashes are those Q7's model gives the vectors it reads; another model is named."""
    rows, model = found["table"], found["model"]
    images = rows["columns"]["image"]
    if problem := same_images(lab, images, "hashed"):
        return problem
    column = next(name for name, kind in rows["dtypes"] if kind.startswith("array<"))
    got = {
        name: np.asarray(value, dtype=np.float64).reshape(-1) for name, value in zip(images, rows["columns"][column])
    }
    read = model.get("getInputCol", "features")  # the vectors Q7's model hashes: features, unless told otherwise
    features = dict(zip(images, rows["columns"][read])) if read in rows["columns"] else refs.unit
    vectors = np.stack([np.asarray(features[name], dtype=np.float64) for name in lab.image_names])
    if "projections" not in model:
        return Diagnosis(
            "Q7's model not fitted",
            "model (Q7) is not a fitted LSH model, so hashed cannot hold its hashes: fix Q7, then run Q8 again",
        )
    expected = lsh_hashes(model["projections"], model["getBucketLength"], vectors)
    differ = [name for name, hashes in zip(lab.image_names, expected) if not np.array_equal(got[name], hashes)]
    if not differ:
        return None
    tables = {len(hashes) for hashes in got.values()}
    if tables == {NUM_HASH_TABLES}:
        other = lsh_hashes(refs.projections, model["getBucketLength"], vectors)
        if all(np.array_equal(got[name], hashes) for name, hashes in zip(lab.image_names, other)):
            return Diagnosis(
                "hashed with another model",
                "hashed was made by another model than Q7's model (one fitted with seed=SEED, while model was "
                "not): transform assembled with model itself",
            )
    return Diagnosis(
        "other hashes",
        f"{len(differ)} of {len(images)} images have other hashes than model (Q7) gives their features "
        f"({sorted(tables)} hashes per image): hashed must be model.transform(assembled), with Q7's model",
    )
