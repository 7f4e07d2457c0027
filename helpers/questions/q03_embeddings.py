"""Q3 · ``names`` lists every image of the run once and ``vectors[i]`` is the ResNet-18 embedding of ``names[i]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, as_array, type_name

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q3_all_embeddings"


def collect(lab: LabSetup, names: object = None, vectors: object = None) -> Evidence:
    """The names as strings (None when not a list) and the vectors as an array (or why they are not one)."""
    listed = isinstance(names, (list, tuple, np.ndarray))
    return {
        "names": [str(n) for n in names] if listed else None,
        "names_type": type_name(names),
        "vectors": as_array(vectors),
    }


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """Names are the run's images, each once; vectors is a (len(names), 512) array."""
    names, vectors = found["names"], found["vectors"]
    if names is None:
        return Diagnosis(
            "names not a list", f"names must be a list of file names, not {found['names_type'].rsplit('.', 1)[-1]}"
        )
    if sorted(names) != sorted(lab.image_names):
        return Diagnosis(
            "not every image once",
            f"names must be the {len(lab.image_names)} images of LAB.image_names, each once (got {len(names)} names)",
        )
    if isinstance(vectors, str):
        return Diagnosis("vectors not numbers", f"vectors must be a NumPy array of numbers ({vectors})")
    if vectors.shape != (len(names), EMBEDDING_DIM):
        return Diagnosis(
            "vectors of the wrong shape", f"vectors has shape {vectors.shape}, expected ({len(names)}, {EMBEDDING_DIM})"
        )
    return None
