"""A saved similarity index for the web app: embeddings plus a fitted LSH model, built once and reused.

The index lives in the gitignored cache, under a key made of the dataset's files (names, sizes,
modification times), the weights and the backbone: a changed dataset gets a new index, an unchanged
one is loaded in seconds instead of being embedded again.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image
from pyspark.ml.feature import BucketedRandomProjectionLSHModel
from pyspark.sql import DataFrame, SparkSession

from helpers import cache
from helpers.config import cache_dir
from helpers.data import Dataset
from helpers.default_dataset import lab_dataset
from helpers.images import to_rgb
from helpers.models import DEFAULT_BACKBONE, choose_weights
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import nearest_neighbors
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh
from helpers.reference.storage import write_embeddings
from helpers.store import read_embeddings
from helpers.vectors import unit_vectors

#: Uploads larger than this are refused before decoding (the app also caps the upload size).
MAX_UPLOAD_BYTES = 15 * 1024 * 1024


class UnreadableImageError(ValueError):
    """An uploaded file is not an image the app can use; the message says why, for the page."""


@dataclass
class SimilarityIndex:
    """The dataset's images hashed by LSH, ready to answer "which images look like this one?"."""

    dataset: Dataset
    names: list[str]
    captions: dict[str, str]
    weights: str
    note: str
    embedder: Embedder
    model: BucketedRandomProjectionLSHModel
    hashed: DataFrame
    folder: Path
    built: bool

    def query(self, image: Image.Image, k: int = 5) -> pd.DataFrame:
        """The k most similar images: ``image``, ``caption`` and ``distance``, nearest first."""
        vector = unit_vectors(self.embedder.get_vec(image))
        found = nearest_neighbors(self.model, self.hashed, vector, k)
        return found.assign(caption=found["image"].map(self.captions))[["image", "caption", "distance"]]


def read_upload(data: bytes, name: str = "upload") -> Image.Image:
    """Decode uploaded bytes in memory (never written to disk) as RGB, or raise UnreadableImageError."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UnreadableImageError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    if not data:
        raise UnreadableImageError(f"{name} is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return to_rgb(image)
    except Image.DecompressionBombError:
        raise UnreadableImageError(f"{name} has too many pixels to be a photo") from None
    except Exception as error:  # whatever Pillow cannot decode is reported, never a crash
        raise UnreadableImageError(f"{name} is not a readable JPEG or PNG image ({error.__class__.__name__})") from None


def build_or_load(
    spark: SparkSession, data_dir: Path | None = None, backbone: str = DEFAULT_BACKBONE
) -> SimilarityIndex:
    """Load the saved index of ``data_dir`` (default: the embedded dataset), building and saving it first if needed."""
    dataset = lab_dataset(data_dir)
    names = dataset.usable_labels()["image"].tolist()
    weights, note = choose_weights(backbone)
    # fp32: bf16 would change which neighbours the page shows (README "Performance").
    embedder = Embedder(backbone, weights, precision="fp32")
    # By name, size and mtime: an edited dataset gets a new index without reading every image first.
    key = cache.key(
        dataset.image_dir.resolve(),
        weights,
        backbone,
        embedder.precision,
        cache.files_key(map(dataset.image_path, names), False),
    )
    folder = cache_dir() / "index" / key
    built = not (folder / "index.json").is_file()
    if built:
        shutil.rmtree(folder, ignore_errors=True)
        embedded = embedder.embed_folder(dataset.image_dir, names, progress=True)
        write_embeddings(embedded.names, embedded.vectors, folder / "embeddings.parquet")
    indexed, vectors = read_embeddings(folder / "embeddings.parquet")
    features = assemble(embeddings_df(spark, indexed, vectors)).cache()
    if built:
        fit_lsh(features).write().overwrite().save(str(folder / "lsh_model"))
        (folder / "index.json").write_text(
            json.dumps({"dataset": str(dataset.root), "images": len(indexed), "weights": weights, "backbone": backbone})
        )
    model = BucketedRandomProjectionLSHModel.load(str(folder / "lsh_model"))
    hashed = model.transform(features).cache()
    hashed.count()
    return SimilarityIndex(dataset, indexed, dataset.captions(), weights, note, embedder, model, hashed, folder, built)
