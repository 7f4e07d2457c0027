"""Q4 · ``LAB.embeddings_csv``: an ``image`` column and 512 number columns holding each image's embedding.

The test also collects Q3's ``names`` and ``vectors``: storing one's own vectors faithfully is what Q4
grades. :func:`csv_problems` is also what decides whether the Spark notebooks continue from the
student's CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis, q03_embeddings
from helpers.questions.evidence import Evidence
from helpers.store import EmbeddingsFileError, read_embeddings
from helpers.vectors import same_vectors

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q4_embeddings_csv"


def collect(lab: LabSetup, names: object = None, vectors: object = None) -> Evidence:
    """Q3's names and vectors, as Q3's test collects them (the answer itself is the file)."""
    return q03_embeddings.collect(lab, names, vectors)


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """The file exists, has an image column and 1 + 512 columns."""
    import pandas as pd

    path = lab.embeddings_csv
    if not path.is_file():
        return Diagnosis("CSV not written", f"write the CSV to {lab.shown(path)}")
    header = list(pd.read_csv(path, nrows=0).columns)
    if "image" not in header:
        return Diagnosis(
            "no image column",
            f"the CSV needs a column named 'image' with the file names; its header starts {header[:3]}",
        )
    if len(header) != EMBEDDING_DIM + 1:
        return Diagnosis(
            "index written",
            f"expected {EMBEDDING_DIM + 1} columns (image + {EMBEDDING_DIM} numbers), found {len(header)}: "
            "did you write the index too?",
        )
    return None


def csv_problems(path: Path, lab: LabSetup) -> list[Diagnosis]:
    """Why ``path`` does not hold the run's reference embeddings (empty list when it does)."""
    from helpers.reference.vectors import embeddings

    try:
        names, vectors = read_embeddings(path, EMBEDDING_DIM)
    except EmbeddingsFileError as error:
        return [Diagnosis("CSV unreadable", str(error).replace(str(path), lab.shown(path)))]
    reference_names, reference = embeddings(lab)
    if sorted(names) != sorted(reference_names):
        return [
            Diagnosis(
                "not the run's images",
                f"{lab.shown(path)}: the image names are not the {len(reference_names)} images of this run",
            )
        ]
    position = {name: i for i, name in enumerate(names)}
    wrong = ~same_vectors(vectors[[position[n] for n in reference_names]], reference)
    if wrong.any():
        return [
            Diagnosis(
                "vectors differ from the embeddings",
                f"{lab.shown(path)}: {int(wrong.sum())} vector(s) differ from ResNet-18's embedding of their "
                f"image, e.g. {reference_names[int(np.flatnonzero(wrong)[0])]}",
            )
        ]
    return []
