"""NumPy-only comparisons of vectors: unit length, cosine similarity, and when two embeddings count as equal.

Nearest-neighbour search, the truth LSH approximates, is a question's work: it is in
:mod:`helpers.reference.neighbors`.
"""

from __future__ import annotations

import numpy as np

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
