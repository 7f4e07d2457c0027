"""helpers.vectors: unit vectors, distances, exact neighbours and the embedding comparison the checks use."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.reference.neighbors import exact_neighbors, nearest_indices, unit_distances
from helpers.vectors import cosine, same_vectors, unit_vectors


def test_unit_vectors_leave_zero_rows_alone():
    """unit_vectors scales rows to length 1 and keeps an all-zero row at zero instead of dividing by 0."""
    np.testing.assert_allclose(unit_vectors(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(unit_vectors(np.array([0.0, 2.0])), [0.0, 1.0])


def test_exact_neighbors_orders_by_distance():
    """exact_neighbors returns the k nearest by Euclidean distance, ties broken by name."""
    names = ["c", "a", "b", "d"]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    found = exact_neighbors(names, vectors, np.array([1.0, 0.0]), k=3)
    assert found["image"].tolist() == ["a", "c", "b"]
    np.testing.assert_allclose(found["distance"], [0.0, 0.0, np.sqrt(2)])


def test_unit_distances_match_the_direct_formula():
    """Distances via dot products equal norms of differences of the unit vectors."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 8)), rng.normal(size=(3, 8))
    direct = np.linalg.norm(unit_vectors(a)[:, None, :] - unit_vectors(b)[None, :, :], axis=2)
    np.testing.assert_allclose(unit_distances(a, b), direct, atol=1e-7)


def test_nearest_indices_exclude_the_row_itself():
    """Each row's nearest other rows, nearest first, never the row itself."""
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert nearest_indices(vectors, 1).ravel().tolist() == [1, 0, 3, 2]


@pytest.mark.parametrize(
    ("actual", "same"),
    [
        ([[2.0, 0.0]], True),  # the same vector
        ([[2.0, 0.001]], True),  # float noise
        ([[0.0, 2.0]], False),  # another direction
        ([[4.0, 0.0]], False),  # the same direction, twice as long
        ([[2.0, 0.0, 0.0]], False),  # another length of vector
    ],
)
def test_same_vectors_needs_direction_and_length(actual, same):
    """Two embeddings are the same when their difference is tiny next to their length (float noise only)."""
    assert same_vectors(np.array(actual), np.array([[2.0, 0.0]])).tolist() == [same]


def test_cosine_is_row_wise():
    """Cosine compares corresponding rows."""
    np.testing.assert_allclose(
        cosine(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [-1.0, -1.0]])), [1, -1]
    )
