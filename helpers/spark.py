"""Spark: one way to get a session, embeddings as DataFrames, and nearest-neighbour search with LSH.

The same code runs on ``local[*]`` and on a cluster: set ``SPARK_MASTER`` (e.g. spark://host:7077).
Vectors are scaled to unit length before hashing, so Euclidean distance ranks neighbours like cosine
similarity does and a bucket length means the same thing whatever the weights or the dataset.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from pyspark.ml import Pipeline
from pyspark.ml.feature import (
    BucketedRandomProjectionLSH,
    BucketedRandomProjectionLSHModel,
    Normalizer,
    VectorAssembler,
)
from pyspark.ml.functions import array_to_vector, predict_batch_udf
from pyspark.ml.linalg import DenseVector, Vectors
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType, FloatType, StringType, StructField, StructType

from helpers.config import SEED, shuffle_partitions, spark_master, spark_ui_enabled
from helpers.data import IMAGE_COLUMN, IMAGE_SUFFIXES
from helpers.embedder import DEFAULT_BACKBONE, Embedder, choose_weights
from helpers.java import require_java
from helpers.store import format_of
from helpers.transforms import IMAGE_SIZE, model_input_transform, to_rgb

FEATURES = "features"
RAW_FEATURES = "raw_features"
HASHES = "hashes"
DISTANCE = "distCol"
#: The lab's LSH parameters for unit-length vectors: the cheapest setting with recall@5 >= 0.95 on
#: pretrained features of 2,352 Stanford Cars photos in `make bench` (README "Performance").
BUCKET_LENGTH = 0.08
NUM_HASH_TABLES = 2
QUIET_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def _embedding_predictor(backbone: str, weights: str, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    """predict_batch_udf's model loader: runs once per Python worker, then embeds batch after batch.

    The batch holds base64-encoded image files; an unreadable one gets a row of NaN, dropped later.
    """
    torch.set_num_threads(1)  # Spark runs one task per executor core: one thread each, no oversubscription
    embedder = Embedder(backbone, weights, precision=precision)
    transform = model_input_transform()
    blank = torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE)

    def decode(encoded: str) -> torch.Tensor | None:
        try:
            with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
                image.load()
                return transform(to_rgb(image))
        except Exception:  # an unreadable file must not stop the partition
            return None

    def predict(encoded: np.ndarray) -> np.ndarray:
        tensors = [decode(item) for item in encoded]
        vectors = embedder.embed_tensor(torch.stack([blank if t is None else t for t in tensors]))
        vectors[[t is None for t in tensors]] = np.nan
        return vectors

    return predict


def image_files_df(spark: SparkSession, image_dir: Path | str, names: Sequence[str] | None = None) -> DataFrame:
    """Image files read by Spark's ``binaryFile`` source: ``image`` (file name) and ``content`` (bytes)."""
    patterns = ",".join(
        sorted({suffix.lstrip(".") for suffix in IMAGE_SUFFIXES} | {s.lstrip(".").upper() for s in IMAGE_SUFFIXES})
    )
    files = spark.read.format("binaryFile").option("pathGlobFilter", f"*.{{{patterns}}}").load(str(image_dir))
    files = files.select(F.element_at(F.split("path", "/"), -1).alias(IMAGE_COLUMN), "content")
    return files.filter(F.col(IMAGE_COLUMN).isin(list(names))) if names is not None else files


def embed_images_df(
    images: DataFrame,
    backbone: str = DEFAULT_BACKBONE,
    weights: str | None = None,
    precision: str = "fp32",
    batch_size: int = 32,
) -> DataFrame:
    """Distributed embedding: ``image`` + ``raw_features``, computed on the executors by the lab's embedder.

    ``predict_batch_udf`` loads one model per Python worker and embeds ``batch_size`` images per
    forward pass. It accepts numbers and strings only, so the file bytes travel base64-encoded: a
    third more than the JPEG, far less than decoded pixels. Unreadable images are dropped.
    """
    spec = choose_weights(backbone, weights)[0]  # decided on the driver: every executor uses the same weights
    embed = predict_batch_udf(
        functools.partial(_embedding_predictor, backbone, spec, precision),
        return_type=ArrayType(FloatType()),
        batch_size=batch_size,
    )
    vectors = images.select(IMAGE_COLUMN, embed(F.base64("content")).alias("vector"))
    readable = vectors.filter(~F.exists("vector", lambda value: F.isnan(value)))
    return readable.select(IMAGE_COLUMN, array_to_vector("vector").alias(RAW_FEATURES))


def get_spark(app_name: str = "lab5", master: str | None = None) -> SparkSession:
    """The running SparkSession, or a new quiet one on ``master`` (default: :func:`spark_master`).

    Calling it again returns the same session, so re-running a notebook cell starts no new JVM.
    LAB_SPARK_UI=false turns the web UI off (the tests do).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    require_java()
    # Executors must run the Python of this environment, not whatever `python3` is on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Only errors in the log; and no attempt to load a native BLAS, whose failure is printed from C.
    quiet = f"-Dlog4j2.configurationFile={QUIET_LOG_CONFIG} " + " ".join(
        f"-Ddev.ludovic.netlib.{library}.allowNative=false" for library in ("blas", "lapack", "arpack")
    )
    master = master or spark_master()
    # Local sessions run short, small jobs (notebooks, tests): the JIT's quick tier starts them ~20% sooner.
    driver_options = f"-XX:TieredStopAtLevel=1 {quiet}" if master.startswith("local") else quiet
    spark = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", str(spark_ui_enabled()).lower())
        .config("spark.driver.extraJavaOptions", driver_options)
        .config("spark.executor.extraJavaOptions", quiet)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions()))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _csv_schema(path: Path) -> StructType:
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    return StructType([StructField(str(c), StringType() if c == IMAGE_COLUMN else DoubleType()) for c in header])


def read_embeddings_df(spark: SparkSession, path: Path | str) -> DataFrame:
    """An embeddings CSV or Parquet file as a DataFrame: ``image`` plus one double column per component."""
    path = Path(path)
    if format_of(path) == "csv":
        return spark.read.csv(str(path), header=True, schema=_csv_schema(path))
    df = spark.read.parquet(str(path))
    # Parquet keeps the float32 of the embedder; the lab's columns are doubles whatever the format.
    return df.select(IMAGE_COLUMN, *[df[name].cast("double").alias(name) for name in component_columns(df)])


def embeddings_df(spark: SparkSession, names: Sequence[str], vectors: np.ndarray) -> DataFrame:
    """In-memory embeddings as a DataFrame with ``image`` and a ``raw_features`` vector column."""
    table = pd.DataFrame({IMAGE_COLUMN: list(names), RAW_FEATURES: list(np.asarray(vectors, dtype=np.float64))})
    # Arrow hands the arrays straight to the JVM: no Python worker, whose shutdown can print to stderr.
    df = spark.createDataFrame(table, schema=f"{IMAGE_COLUMN} string, {RAW_FEATURES} array<double>")
    return df.withColumn(RAW_FEATURES, array_to_vector(RAW_FEATURES))


def component_columns(df: DataFrame) -> list[str]:
    """The numeric columns that hold the vector components, in order."""
    return [name for name, kind in df.dtypes if name != IMAGE_COLUMN and kind in ("double", "float", "int", "bigint")]


def assemble(df: DataFrame, output_col: str = FEATURES) -> DataFrame:
    """Q6: gather the component columns into one vector and scale it to unit length (``features``).

    A DataFrame that already has a ``raw_features`` vector column is only normalised.
    """
    stages = (
        [] if RAW_FEATURES in df.columns else [VectorAssembler(inputCols=component_columns(df), outputCol=RAW_FEATURES)]
    )
    stages.append(Normalizer(inputCol=RAW_FEATURES, outputCol=output_col, p=2.0))
    return Pipeline(stages=stages).fit(df).transform(df).select(IMAGE_COLUMN, output_col)


def fit_lsh(
    df: DataFrame,
    bucket_length: float = BUCKET_LENGTH,
    num_hash_tables: int = NUM_HASH_TABLES,
    seed: int = SEED,
    input_col: str = FEATURES,
) -> BucketedRandomProjectionLSHModel:
    """Q7: fit BucketedRandomProjectionLSH on the vector column (seeded, so hashes are reproducible)."""
    lsh = BucketedRandomProjectionLSH(
        inputCol=input_col, outputCol=HASHES, bucketLength=bucket_length, numHashTables=num_hash_tables, seed=seed
    )
    return lsh.fit(df)


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


def near_duplicates(model: BucketedRandomProjectionLSHModel, hashed: DataFrame, threshold: float) -> pd.DataFrame:
    """Pairs of different images closer than ``threshold`` (approxSimilarityJoin of the index with itself)."""
    pairs = model.approxSimilarityJoin(hashed, hashed, threshold, distCol="distance")
    pairs = pairs.select(
        F.col(f"datasetA.{IMAGE_COLUMN}").alias("image_a"),
        F.col(f"datasetB.{IMAGE_COLUMN}").alias("image_b"),
        "distance",
    ).filter(F.col("image_a") < F.col("image_b"))
    return pairs.toPandas().sort_values(["distance", "image_a", "image_b"]).reset_index(drop=True)
