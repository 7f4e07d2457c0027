"""Q4's hidden check: the CSV holds each image's embedding; a faithful copy of the notebook's own Q3 vectors counts."""

from __future__ import annotations

import numpy as np

from grading.questions.q03_embeddings import each_is_one_of
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.questions.q04_csv import csv_problems
from helpers.store import EmbeddingsFileError, read_embeddings
from helpers.vectors import same_vectors

GRADE_ID = "q4_embeddings_csv"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/storage.py:embeddings_frame",
    "reference/storage.py:write_embeddings",
    "reference/storage.py:embeddings_csv",
)
PROVIDES = "embeddings"


def _rounded_to(stored: np.ndarray, memory: np.ndarray) -> int | None:
    for decimals in range(1, 8):
        if np.allclose(stored, np.round(memory, decimals), atol=10.0 ** -(decimals + 3)):
            return decimals
    return None


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """The stored vectors are the reference embeddings, or exactly this notebook's Q3 vectors (rounding is named)."""
    problems = csv_problems(lab.embeddings_csv, lab)
    if not problems:
        return None
    if found["names"] is None or isinstance(found["vectors"], str):
        return problems[0]
    try:  # Q4 grades storing: writing this notebook's Q3 vectors faithfully is right even when Q3 is not.
        stored_names, stored = read_embeddings(lab.embeddings_csv, found["vectors"].shape[-1])
    except EmbeddingsFileError:
        return problems[0]
    row = {name: i for i, name in enumerate(found["names"])}
    if not stored_names or sorted(stored_names) != sorted(row) or set(stored_names) - set(lab.image_names):
        return problems[0]
    memory = found["vectors"][[row[n] for n in stored_names]]
    if same_vectors(stored, memory, 1e-5).all():
        return None
    if (decimals := _rounded_to(stored, memory)) is not None:
        return Diagnosis(
            "numbers rounded when written",
            f"{lab.embeddings_csv.name}: the numbers were rounded to {decimals} decimal(s) when written "
            "(float_format?): write them in full, pandas' default",
        )
    if each_is_one_of(stored, memory, 1e-5):
        return Diagnosis(
            "names next to other images' vectors",
            f"{lab.embeddings_csv.name}: each row holds the vector of another image than its name: write the "
            "image names in the same order as the rows of vectors",
        )
    return problems[0]
