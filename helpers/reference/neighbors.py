"""Part 4's reference: the query's vector (Q10), its nearest neighbours (Q11), exact ones, their figure (Q12)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.ml.feature import BucketedRandomProjectionLSHModel
from pyspark.ml.linalg import DenseVector, Vectors
from pyspark.sql import DataFrame

from helpers.data import IMAGE_COLUMN
from helpers.images import load_rgb
from helpers.spark import DISTANCE, FEATURES
from helpers.vectors import unit_vectors


def vector_of(df: DataFrame, image: str, column: str = FEATURES) -> DenseVector:
    """Q10: the vector of one image, looked up by name."""
    rows = df.filter(df[IMAGE_COLUMN] == image).select(column).take(2)
    if len(rows) != 1:
        raise KeyError(f"{image!r} appears {len(rows)} times in the DataFrame, expected once")
    return rows[0][0]


def nearest_neighbors(
    model: BucketedRandomProjectionLSHModel, hashed: DataFrame, query: DenseVector | np.ndarray, k: int = 5
) -> pd.DataFrame:
    """Q11: the k approximate nearest neighbours of ``query``: ``image`` and ``distance``, nearest first.

    An image that is in the index is its own nearest neighbour, at distance 0.
    """
    key = query if isinstance(query, DenseVector) else Vectors.dense(np.asarray(query, dtype=float))
    found = model.approxNearestNeighbors(hashed, key, k, distCol=DISTANCE).select(IMAGE_COLUMN, DISTANCE)
    table = found.toPandas().rename(columns={DISTANCE: "distance"})
    return table.sort_values(["distance", IMAGE_COLUMN], kind="stable").reset_index(drop=True)


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


def show_neighbors(
    query: str,
    neighbors: pd.DataFrame,
    image_dir: Path,
    captions: Mapping[str, str] | None = None,
    panel_size: float = 2.6,
) -> Figure:
    """A one-row figure: the query image, then each neighbour with its caption and distance.

    ``neighbors`` has columns ``image`` and ``distance``, nearest first; ``captions`` maps an image
    name to a label such as its class name. Returns the Figure (nothing is shown or saved).
    """
    captions = captions or {}
    count = len(neighbors) + 1
    figure = Figure(figsize=(panel_size * count, panel_size * 1.25), layout="constrained")
    axes = figure.subplots(1, count, squeeze=False)[0]
    panels = [(query, f"query\n{query}\n{captions.get(query, '')}")]
    for row in neighbors.itertuples(index=False):
        name = getattr(row, IMAGE_COLUMN)
        panels.append((name, f"{name}\n{captions.get(name, '')}\ndistance {row.distance:.3f}"))
    for axis, (name, caption) in zip(axes, panels):
        axis.imshow(load_rgb(Path(image_dir) / name))
        axis.set_title(caption, fontsize=9)
        axis.set_axis_off()
    figure.suptitle(f"{len(neighbors)} nearest neighbours of {query}", fontsize=11)
    return figure
