"""Hidden checks of Part 3: the DataFrame (Q5), the features vector (Q6), the LSH model (Q7) and hashes (Q8)."""

from __future__ import annotations

import numpy as np

from grading.checks.references import References, lsh_hashes, lsh_projections
from helpers.checks import Evidence, numeric_columns
from helpers.lab import LabSetup
from helpers.spark import NUM_HASH_TABLES
from helpers.vectors import same_vectors

#: How far a student's unit vector may be from the reference one (CSV rounding, float32 arithmetic).
UNIT_TOLERANCE = 2e-4


def _rows(found: Evidence, column: str) -> dict[str, np.ndarray]:
    return dict(zip(found["columns"]["image"], found["columns"][column]))


def _same_images(lab: LabSetup, images: list[str], what: str) -> list[str]:
    if sorted(images) != sorted(lab.image_names):
        return [
            f"{what} must hold each of the {len(lab.image_names)} images of the run exactly once "
            f"(it has {len(images)} rows, {len(set(images))} different images)"
        ]
    return []


def q5_spark_dataframe(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """One row per image whose numeric columns, in order, are the image's embedding."""
    images = found["columns"]["image"]
    if problems := _same_images(lab, images, "df"):
        return problems
    numbers = np.column_stack([np.asarray(found["columns"][c], dtype=np.float64) for c in numeric_columns(found)])
    row = {name: i for i, name in enumerate(images)}
    names, reference = refs.embeddings
    wrong = ~same_vectors(numbers[[row[n] for n in names]], reference)
    if wrong.any():
        return [
            f"the numbers of {int(wrong.sum())} rows are not the embeddings in the CSV: read every column "
            "of EMBEDDINGS_CSV, with the header, without reordering the columns"
        ]
    return []


def q6_features_vector(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Features is each image's embedding scaled to unit length, components in their original order."""
    rows = _rows(found, "features")
    if problems := _same_images(lab, found["columns"]["image"], "assembled"):
        return problems
    wrong = [name for name in lab.image_names if not np.allclose(rows[name], refs.unit[name], atol=UNIT_TOLERANCE)]
    if wrong:
        return [
            f"features of {len(wrong)} images are not their normalised embeddings, e.g. {wrong[0]}: "
            "assemble the 512 number columns in their order (all columns but image) and normalise with p=2"
        ]
    return []


def q7_brp_model(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """A model fitted with the lab's bucket length, number of tables and seed."""
    projections = np.asarray(found["projections"])
    if projections.shape != (NUM_HASH_TABLES, 512):
        return [
            f"the model has {projections.shape[0]} hash tables of {projections.shape[-1]} dimensions, expected "
            f"NUM_HASH_TABLES ({NUM_HASH_TABLES}) on the 512-number features"
        ]
    if not np.allclose(projections, lsh_projections(NUM_HASH_TABLES), atol=1e-9):
        return [
            "the model's random projections are not those of seed=SEED: pass seed=SEED to "
            "BucketedRandomProjectionLSH so that everyone gets the same hashes"
        ]
    return []


def q8_hashed_dataframe(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Hashed holds every image once with the hashes that Q7's model gives its features."""
    table, model = found["table"], found["model"]
    images = table["columns"]["image"]
    if problems := _same_images(lab, images, "hashed"):
        return problems
    column = next(name for name, kind in table["dtypes"] if kind.startswith("array<"))
    got = {
        name: np.asarray(value, dtype=np.float64).reshape(-1) for name, value in zip(images, table["columns"][column])
    }
    features = _rows(table, "features") if "features" in table["columns"] else refs.unit
    vectors = np.stack([np.asarray(features[name], dtype=np.float64) for name in lab.image_names])
    if "projections" not in model:
        return ["model (Q7) is not a fitted LSH model, so hashed cannot hold its hashes: fix Q7, then run Q8 again"]
    expected = lsh_hashes(model["projections"], model["getBucketLength"], vectors)
    differ = [name for name, hashes in zip(lab.image_names, expected) if not np.array_equal(got[name], hashes)]
    if differ:
        return [
            f"{len(differ)} of {len(images)} images have other hashes than model (Q7) gives their features, "
            f"e.g. {differ[0]}: hashed must be model.transform(assembled)"
        ]
    return []
