"""Q4's reference: embeddings written as the lab's CSV (``image``, then one column per component) or Parquet."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.data import IMAGE_COLUMN
from helpers.reference.vectors import embeddings
from helpers.store import atomic_write, component_names, format_of

if TYPE_CHECKING:
    from helpers.lab import LabSetup


def embeddings_frame(names: Sequence[str], vectors: np.ndarray) -> pd.DataFrame:
    """One row per image: the ``image`` name, then one float column per vector component."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(names):
        raise ValueError(f"expected {len(names)} vectors as a 2-D array, got shape {vectors.shape}")
    frame = pd.DataFrame(vectors, columns=component_names(vectors.shape[1]))
    frame.insert(0, IMAGE_COLUMN, list(names))
    return frame


def write_embeddings(names: Sequence[str], vectors: np.ndarray, path: Path) -> Path:
    """Write embeddings as CSV (header ``image,v0,...``) or Parquet, chosen by the suffix of ``path``."""
    frame = embeddings_frame(names, vectors)
    if format_of(path) == "csv":
        # %.9g keeps every float32 exactly, so reading the CSV back gives the same vectors.
        return atomic_write(path, lambda target: frame.to_csv(target, index=False, float_format="%.9g"))
    return atomic_write(path, lambda target: frame.to_parquet(target, index=False))


def embeddings_csv(lab: LabSetup) -> Path:
    """Q4's reference answer for the run: the reference embeddings as the lab's CSV."""
    from helpers import lab as lab_plumbing

    _, _, path = lab_plumbing.reference_embeddings_files(lab)
    if not path.is_file():
        write_embeddings(*embeddings(lab), path)
    return path
