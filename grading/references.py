"""The reference values the hidden checks compare with, computed from the run's images alone.

One :class:`References` per run (images, weights, seed): each value is computed on first use. The
expensive ones (the resized images and the embeddings) are files in the run's reference folder, the
same files the notebooks' Setup cells fall back on, so the grader computes them once per run.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.images import load_rgb
from helpers.lab import LabSetup, embedding_input_dir
from helpers.questions.q02_class_c import probe_images
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import exact_neighbors
from helpers.reference.resize import resized_dir
from helpers.reference.spark_lsh import lsh_hashes, lsh_projections
from helpers.reference.vectors import embeddings
from helpers.spark import BUCKET_LENGTH, NUM_HASH_TABLES
from helpers.vectors import unit_vectors

THUMBNAIL = 16


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """A 16x16 grey thumbnail, normalised to mean 0 and deviation 1: the same picture at any size matches."""
    pixels = np.asarray(pixels)
    image = Image.fromarray(pixels.astype(np.uint8)).convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX)
    values = np.asarray(image, dtype=np.float64).ravel()
    return (values - values.mean()) / (values.std() + 1e-9)


class References:
    """Reference values for one run of the lab."""

    def __init__(self, lab: LabSetup):
        self.lab = lab

    @cached_property
    def resized_dir(self) -> Path:
        """Q1's reference output: the run's images as 224x224 JPEGs."""
        return resized_dir(self.lab)

    @cached_property
    def input_dir(self) -> Path:
        """The images the embeddings notebook reads: the student's Q1 output when valid, else the reference."""
        return embedding_input_dir(self.lab)[0]

    @cached_property
    def embeddings(self) -> tuple[list[str], np.ndarray]:
        """Names and fp32 ResNet-18 vectors of the images the embeddings notebook reads (Q3)."""
        return embeddings(self.lab)

    @cached_property
    def unit(self) -> dict[str, np.ndarray]:
        """Each image's unit-length reference vector: the Spark notebooks' ``features``."""
        names, vectors = self.embeddings
        return dict(zip(names, unit_vectors(vectors)))

    def exact_top(self, image: str, k: int) -> list[str]:
        """Names of the k exact nearest neighbours of ``image`` (itself first)."""
        names = list(self.unit)
        return exact_neighbors(names, np.stack(list(self.unit.values())), self.unit[image], k)["image"].tolist()

    def lsh_top(self, image: str, k: int) -> list[str]:
        """Names of what the lab's index answers for ``image`` (approxNearestNeighbors, single probe, with the
        lab's LSH settings and the run's seed): the k nearest of the images sharing a bucket with it in a table.
        """
        names = list(self.unit)
        vectors = np.stack(list(self.unit.values()))
        hashes = lsh_hashes(self.projections, BUCKET_LENGTH, vectors)
        shared = np.flatnonzero((hashes == hashes[names.index(image)]).any(axis=1))
        return exact_neighbors([names[i] for i in shared], vectors[shared], self.unit[image], k)["image"].tolist()

    @cached_property
    def projections(self) -> np.ndarray:
        """The random projections of BucketedRandomProjectionLSH with the lab's tables and the run's seed."""
        return lsh_projections(NUM_HASH_TABLES, seed=self.lab.seed)

    @cached_property
    def probe_vectors(self) -> dict[str, np.ndarray]:
        """The fp32 reference embedding of each Q2 probe image (the reference Q1 JPEGs)."""
        embedder = Embedder("resnet18", self.lab.weights, precision="fp32")
        return {name: embedder.get_vec(load_rgb(self.resized_dir / name)) for name in probe_images(self.lab)}

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
