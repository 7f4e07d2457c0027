"""Spark: one way to get a session, embeddings as DataFrames, and nearest-neighbour search with LSH.

The same code runs on ``local[*]`` and on a cluster: set ``SPARK_MASTER`` (e.g. spark://host:7077).
Vectors are scaled to unit length before hashing, so Euclidean distance ranks neighbours like cosine
similarity does and a bucket length means the same thing whatever the weights or the dataset.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyspark
import torch
from pyspark import TaskContext
from pyspark.ml import Pipeline
from pyspark.ml.feature import (
    BucketedRandomProjectionLSH,
    BucketedRandomProjectionLSHModel,
    Normalizer,
    VectorAssembler,
)
from pyspark.ml.functions import array_to_vector
from pyspark.ml.linalg import DenseVector, Vectors
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from helpers.config import SEED, cache_dir, shuffle_partitions, spark_master, spark_ui_enabled
from helpers.data import IMAGE_COLUMN, IMAGE_SUFFIXES
from helpers.embedder import DEFAULT_BACKBONE, Embedder, choose_weights
from helpers.java import require_java
from helpers.store import format_of

FEATURES = "features"
RAW_FEATURES = "raw_features"
HASHES = "hashes"
DISTANCE = "distCol"
CONTENT = "content"
VECTOR = "vector"
#: The lab's LSH parameters for unit-length vectors: the cheapest setting with recall@5 >= 0.95 on
#: pretrained features of 2,352 Stanford Cars photos in `make bench` (README "Performance").
BUCKET_LENGTH = 0.08
NUM_HASH_TABLES = 2
QUIET_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


@functools.lru_cache(maxsize=2)
def _worker_embedder(backbone: str, weights: str, precision: str) -> Embedder:
    """The embedder of this Python worker: Spark reuses its workers across tasks, so each loads the model once."""
    return Embedder(backbone, weights, precision=precision)


def _vector_batch(names: Sequence[str], vectors: np.ndarray) -> pa.RecordBatch:
    """Rows of ``image`` and a float ``vector``, built from one array without a Python list per number."""
    offsets = pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int32))
    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    return pa.RecordBatch.from_arrays(
        [pa.array(list(names), pa.string()), pa.ListArray.from_arrays(offsets, values)], names=[IMAGE_COLUMN, VECTOR]
    )


def _embed_partition(
    backbone: str, weights: str, precision: str, batch_size: int, draft: bool, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: the file bytes of one partition in, ``image`` + ``vector`` rows out.

    The bytes arrive as Arrow binary, so nothing is re-encoded; decoding and the forward pass are the
    local embedder's (:meth:`Embedder.embed_batch`); an unreadable image gets no row.
    """
    context = TaskContext.get()
    cores = context.cpus() if context is not None else 1
    # Spark runs one task per core it gives the task (spark.task.cpus, 1 by default): as many torch
    # threads and decoding threads as that, so concurrent tasks never oversubscribe the executor.
    torch.set_num_threads(cores)
    embedder = _worker_embedder(backbone, weights, precision)
    with ThreadPoolExecutor(cores) if cores > 1 else nullcontext() as pool:
        for record_batch in batches:
            names = record_batch.column(IMAGE_COLUMN).to_pylist()
            contents = record_batch.column(CONTENT).to_pylist()
            for start in range(0, len(names), batch_size):
                found = embedder.embed_batch(contents[start : start + batch_size], draft, pool)
                if found.indices:
                    yield _vector_batch([names[start + p] for p in found.indices], found.vectors)


def image_files_df(spark: SparkSession, image_dir: Path | str, names: Sequence[str] | None = None) -> DataFrame:
    """Image files read by Spark's ``binaryFile`` source: ``image`` (file name) and ``content`` (bytes)."""
    patterns = ",".join(
        sorted({suffix.lstrip(".") for suffix in IMAGE_SUFFIXES} | {s.lstrip(".").upper() for s in IMAGE_SUFFIXES})
    )
    files = spark.read.format("binaryFile").option("pathGlobFilter", f"*.{{{patterns}}}").load(str(image_dir))
    files = files.select(F.element_at(F.split("path", "/"), -1).alias(IMAGE_COLUMN), CONTENT)
    return files.filter(F.col(IMAGE_COLUMN).isin(list(names))) if names is not None else files


def _fewer_tasks(files: DataFrame, splits_per_task: int = 16) -> DataFrame:
    """``files`` in about ``splits_per_task`` times fewer partitions, a multiple of the cores (no shuffle).

    ``binaryFile`` makes a split of ~30 small files (each counts as 4 MB, spark.sql.files.openCostInBytes),
    and every task of a Python worker that has torch loaded costs ~0.2 s of CPU (README "Scaling out"):
    a task of ~500 photos keeps that near 1% and its Arrow batches near 20 MB.
    """
    cores = files.sparkSession.sparkContext.defaultParallelism
    splits = files.rdd.getNumPartitions()
    tasks = cores * max(1, math.ceil(splits / splits_per_task / cores))
    return files.coalesce(tasks) if tasks < splits else files


def embed_images_df(
    images: DataFrame,
    backbone: str = DEFAULT_BACKBONE,
    weights: str | None = None,
    precision: str = "fp32",
    batch_size: int = 32,
    draft: bool = True,
) -> DataFrame:
    """Distributed embedding: ``image`` + ``raw_features``, computed on the executors by the lab's embedder.

    ``mapInArrow`` hands each Python worker the file bytes of its partition as Arrow batches; the worker
    loads the model once and embeds ``batch_size`` images per forward pass, decoded like
    :meth:`Embedder.iter_files` with the same ``draft``: the vectors equal the local embedder's.
    Unreadable images are dropped.
    """
    spec = choose_weights(backbone, weights)[0]  # decided on the driver: every executor uses the same weights
    embed = functools.partial(_embed_partition, backbone, spec, precision, batch_size, draft)
    files = images.select(IMAGE_COLUMN, CONTENT)
    vectors = _fewer_tasks(files).mapInArrow(embed, f"{IMAGE_COLUMN} string, {VECTOR} array<float>")
    return vectors.select(IMAGE_COLUMN, array_to_vector(VECTOR).alias(RAW_FEATURES))


def get_spark(app_name: str = "lab5", master: str | None = None) -> SparkSession:
    """The running SparkSession, or a new quiet one on ``master`` (default: :func:`spark_master`).

    Calling it again returns the same session, so re-running a notebook cell starts no new JVM.
    LAB_SPARK_UI=false turns the web UI off (the tests do).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    java = require_java()
    # Executors must run the Python of this environment, not whatever `python3` is on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Only errors in the log; and no attempt to load a native BLAS, whose failure is printed from C.
    quiet = f"-Dlog4j2.configurationFile={QUIET_LOG_CONFIG} " + " ".join(
        f"-Ddev.ludovic.netlib.{library}.allowNative=false" for library in ("blas", "lapack", "arpack")
    )
    master = master or spark_master()
    driver_options = quiet
    if master.startswith("local"):
        # Local sessions run short, small jobs (notebooks, tests): the JIT's quick tier starts them ~20% sooner,
        # and the classes Spark always loads come from a prepared archive when there is one (a third sooner).
        driver_options = f"-XX:TieredStopAtLevel=1 {quiet}"
        if (archive := class_archive(java)).is_file():
            driver_options += f" -XX:SharedArchiveFile={archive} -Xshare:auto -Xlog:disable"
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


def class_archive(java: int) -> Path:
    """Where the driver JVM's class-data archive for this pyspark and Java version lives (in the cache)."""
    return cache_dir() / "spark" / f"classes-pyspark{pyspark.__version__}-java{java}.jsa"


#: A session doing what the lab does, so that the archive holds the classes the notebooks need.
_ARCHIVE_RUN = """
import numpy as np
from helpers import spark as lab_spark
from helpers.store import write_embeddings
session = lab_spark.get_spark("class-archive")
write_embeddings(["a.jpg", "b.jpg"], np.eye(2, 512, dtype=np.float32), CSV)
frame = lab_spark.read_embeddings_df(session, CSV)
features = lab_spark.assemble(frame)
model = lab_spark.fit_lsh(features)
hashed = model.transform(features).cache()
lab_spark.nearest_neighbors(model, hashed, lab_spark.vector_of(features, "a.jpg"), 2)
session.stop()
"""


def ensure_class_archive() -> Path:
    """Record Spark's class-data archive once (about 20 s; later sessions on this machine start sooner)."""
    archive = class_archive(require_java())
    if archive.is_file():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent) as scratch:
        partial = Path(scratch) / archive.name
        code = _ARCHIVE_RUN.replace("CSV", repr(str(Path(scratch) / "vectors.csv")))
        environment = {
            **os.environ,
            "LAB_SPARK_UI": "false",
            "SPARK_MASTER": "local[1]",
            "PYSPARK_SUBMIT_ARGS": f"--driver-java-options -XX:ArchiveClassesAtExit={partial} pyspark-shell",
        }
        subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, check=False)
        if partial.is_file():
            partial.replace(archive)
    return archive


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
