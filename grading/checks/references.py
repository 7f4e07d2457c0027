"""The reference values the hidden checks compare with, computed from the data alone and cached on disk.

One :class:`References` per run (dataset, subset, weights): each value is computed on first use, and
the expensive ones (embeddings, LSH projections) are kept in the cache folder, so a grading run
computes them once for all submissions.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from helpers import cache
from helpers import spark as lab_spark
from helpers.checks import probe_images
from helpers.config import SEED, cache_dir
from helpers.embedder import Embedder
from helpers.lab import EMBEDDING_DIM, LabSetup, embedding_input_dir, reference_embeddings, reference_resized_dir
from helpers.store import atomic_write
from helpers.transforms import load_rgb
from helpers.vectors import exact_neighbors, unit_vectors

THUMBNAIL = 16


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """A 16x16 grey thumbnail, normalised to mean 0 and deviation 1: the same picture at any size matches."""
    pixels = np.asarray(pixels)
    image = Image.fromarray(pixels.astype(np.uint8)).convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX)
    values = np.asarray(image, dtype=np.float64).ravel()
    return (values - values.mean()) / (values.std() + 1e-9)


def _save_npy(path: Path, values: np.ndarray) -> None:
    def write(target: Path) -> None:
        with target.open("wb") as stream:
            np.save(stream, values)

    atomic_write(path, write)


@lru_cache(maxsize=8)
def lsh_projections(num_hash_tables: int, dim: int = EMBEDDING_DIM, seed: int = SEED) -> np.ndarray:
    """The random unit vectors (one row per table) that BucketedRandomProjectionLSH fits with ``seed``.

    Spark draws them from the seed and the dimension alone, so any DataFrame of ``dim``-vectors gives
    the same matrix; it is computed once with Spark and then read from the cache.
    """
    import pyspark

    path = cache_dir() / "reference" / f"lsh-{cache.key(num_hash_tables, dim, seed, pyspark.__version__)}.npy"
    if path.is_file():
        return np.load(path)
    spark = lab_spark.get_spark()
    frame = lab_spark.embeddings_df(spark, ["x"], np.ones((1, dim)))
    model = lab_spark.fit_lsh(lab_spark.assemble(frame), num_hash_tables=num_hash_tables, seed=seed)
    matrix = model._java_obj.randMatrix()
    projections = np.asarray(matrix.toArray(), dtype=np.float64).reshape(matrix.numCols(), matrix.numRows()).T.copy()
    _save_npy(path, projections)
    return projections


def lsh_hashes(projections: np.ndarray, bucket_length: float, vectors: np.ndarray) -> np.ndarray:
    """BucketedRandomProjectionLSH's hashes of ``vectors``: floor(projection / bucket length), one per table."""
    return np.floor(np.asarray(vectors, dtype=np.float64) @ np.asarray(projections).T / bucket_length)


class References:
    """Reference values for one run of the lab."""

    def __init__(self, lab: LabSetup):
        self.lab = lab

    @cached_property
    def input_dir(self) -> Path:
        """The images the embeddings notebook reads: the student's Q1 output when valid, else the reference."""
        return embedding_input_dir(self.lab)[0]

    @cached_property
    def embeddings(self) -> tuple[list[str], np.ndarray]:
        """Names and fp32 ResNet-18 vectors of the images the embeddings notebook reads (Q3)."""
        return reference_embeddings(self.lab)

    @cached_property
    def unit(self) -> dict[str, np.ndarray]:
        """Each image's unit-length reference vector: the Spark notebooks' ``features``."""
        names, vectors = self.embeddings
        return dict(zip(names, unit_vectors(vectors)))

    def exact_top(self, image: str, k: int) -> list[str]:
        """Names of the k exact nearest neighbours of ``image`` (itself first)."""
        names = list(self.unit)
        return exact_neighbors(names, np.stack(list(self.unit.values())), self.unit[image], k)["image"].tolist()

    @cached_property
    def probe_vectors(self) -> dict[str, np.ndarray]:
        """The fp32 reference embedding of each Q2 probe image (the reference Q1 JPEGs)."""
        folder = reference_resized_dir(self.lab)
        embedder = Embedder("resnet18", self.lab.weights, precision="fp32")
        return {name: embedder.get_vec(load_rgb(folder / name)) for name in probe_images(self.lab)}

    @cached_property
    def thumbnails(self) -> tuple[list[str], np.ndarray]:
        """Each image of the run as a normalised 16x16 thumbnail, to recognise pictures in a figure (Q12)."""
        names = self.lab.image_names
        return names, np.stack([thumbnail(np.asarray(load_rgb(self.lab.image_dir / name))) for name in names])

    def identify(self, pixels: np.ndarray) -> str | None:
        """Which image of the run a picture shows (None when none matches closely)."""
        names, stacked = self.thumbnails
        correlation = stacked @ thumbnail(pixels) / stacked.shape[1]
        best = int(np.argmax(correlation))
        return names[best] if correlation[best] > 0.9 else None
