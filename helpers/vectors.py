"""NumPy-only vector maths: unit vectors, distances and exact nearest neighbours, the truth LSH approximates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: How far (relative to its length) an embedding may be from another of the same image and still count as
#: equal: float noise, batching and a CSV round trip stay far below; any change to the preprocessing or
#: the network (train mode, a colour order, another normalisation) lands above, even with random weights,
#: whose embeddings of all photos point almost the same way.
RELATIVE_TOLERANCE = 1e-3


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float64), as Spark's ``Normalizer(p=2.0)`` does; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def unit_distances(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Euclidean distances between the unit-length versions of two sets of vectors (via dot products)."""
    gram = unit_vectors(rows) @ unit_vectors(columns).T
    return np.sqrt(np.clip(2.0 - 2.0 * gram, 0.0, None))


def exact_neighbors(names: Sequence[str], vectors: np.ndarray, query: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Brute-force k nearest neighbours by Euclidean distance (ties broken by name): ``image``, ``distance``."""
    distances = np.linalg.norm(np.asarray(vectors, dtype=np.float64) - np.asarray(query, dtype=np.float64), axis=1)
    order = np.lexsort((np.asarray(names), distances))[:k]
    return pd.DataFrame({"image": [names[i] for i in order], "distance": distances[order]})


def nearest_indices(vectors: np.ndarray, k: int) -> np.ndarray:
    """For every row, the indices of its k nearest other rows by unit-vector distance (itself excluded)."""
    distances = unit_distances(vectors, vectors)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two equally shaped sets of vectors."""
    return np.sum(unit_vectors(a) * unit_vectors(b), axis=-1)


def same_vectors(actual: np.ndarray, expected: np.ndarray, tolerance: float = RELATIVE_TOLERANCE) -> np.ndarray:
    """Row-wise: ``actual`` lies within ``tolerance`` times the length of ``expected`` from it."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if actual.size != expected.size:
        return np.zeros(len(expected), dtype=bool)
    actual = actual.reshape(expected.shape)
    return np.linalg.norm(actual - expected, axis=1) <= tolerance * np.linalg.norm(expected, axis=1)
