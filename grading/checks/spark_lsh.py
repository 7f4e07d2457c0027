"""Hidden checks of Part 3 with their diagnoses: the DataFrame (Q5), features (Q6), LSH model (Q7), hashes (Q8)."""

from __future__ import annotations

import numpy as np

from grading.checks.references import References, lsh_hashes, lsh_projections
from helpers.checks import Evidence, numeric_columns
from helpers.lab import LabSetup
from helpers.spark import NUM_HASH_TABLES
from helpers.vectors import same_vectors, unit_vectors

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


def _permuted(got: np.ndarray, expected: np.ndarray) -> bool:
    """Whether the rows of ``got`` hold the numbers of ``expected`` in another order of components."""
    return bool(np.allclose(np.sort(got, axis=1), np.sort(expected, axis=1), atol=UNIT_TOLERANCE * 10))


def _rows_problems(
    got: np.ndarray, expected: np.ndarray, equal: np.ndarray, what: str, reordered: str, otherwise: str
) -> list[str]:
    """What is wrong with rows of vectors: nothing, the right numbers in another column order, or other numbers."""
    if equal.all():
        return []
    if _permuted(unit_vectors(got), unit_vectors(expected)):  # sorting each row ignores the column order
        return [f"{what} holds the right numbers in another order: {reordered}"]
    return [f"{what} of {int((~equal).sum())} of {len(equal)} images are not what they should be: {otherwise}"]


def q5_spark_dataframe(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """One row per image whose numeric columns, in order, are the image's embedding."""
    images = found["columns"]["image"]
    if problems := _same_images(lab, images, "df"):
        return problems
    numbers = np.column_stack([np.asarray(found["columns"][c], dtype=np.float64) for c in numeric_columns(found)])
    names, reference = refs.embeddings
    got = numbers[[images.index(name) for name in names]]
    return _rows_problems(
        got,
        reference,
        same_vectors(got, reference),
        "df",
        "read EMBEDDINGS_CSV as it is, without selecting or reordering its 512 columns",
        "read EMBEDDINGS_CSV (the Setup cell chose it: your Q4 CSV when it was valid, else the reference copy)",
    )


def q6_features_vector(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Features is each image's embedding scaled to unit length, components in their original order."""
    if problems := _same_images(lab, found["columns"]["image"], "assembled"):
        return problems
    rows = _rows(found, "features")
    got = np.stack([np.asarray(rows[name], dtype=np.float64) for name in lab.image_names])
    expected = np.stack([refs.unit[name] for name in lab.image_names])
    equal = np.array([np.allclose(a, b, atol=UNIT_TOLERANCE) for a, b in zip(got, expected)])
    return _rows_problems(
        got,
        expected,
        equal,
        "features",
        "the assembler's inputCols must be the 512 number columns in the CSV's order (df.columns "
        "without image, not sorted: as text v10 comes before v2)",
        "assemble the 512 number columns of df, all but image, and normalise with Normalizer(p=2.0)",
    )


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
    column_in = model.get("getInputCol", "features")  # the vectors Q7's model hashes: features, unless told otherwise
    features = _rows(table, column_in) if column_in in table["columns"] else refs.unit
    vectors = np.stack([np.asarray(features[name], dtype=np.float64) for name in lab.image_names])
    if "projections" not in model:
        return ["model (Q7) is not a fitted LSH model, so hashed cannot hold its hashes: fix Q7, then run Q8 again"]
    expected = lsh_hashes(model["projections"], model["getBucketLength"], vectors)
    differ = [name for name, hashes in zip(lab.image_names, expected) if not np.array_equal(got[name], hashes)]
    if not differ:
        return []
    tables = {len(hashes) for hashes in got.values()}
    if tables == {NUM_HASH_TABLES}:
        other = lsh_hashes(lsh_projections(NUM_HASH_TABLES), model["getBucketLength"], vectors)
        if all(np.array_equal(got[name], hashes) for name, hashes in zip(lab.image_names, other)):
            return [
                "hashed was made by another model than Q7's model (one fitted with seed=SEED, while model was "
                "not): transform assembled with model itself"
            ]
    return [
        f"{len(differ)} of {len(images)} images have other hashes than model (Q7) gives their features "
        f"({sorted(tables)} hashes per image): hashed must be model.transform(assembled), with Q7's model"
    ]
