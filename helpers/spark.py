"""Spark: one way to get a session, the lab's column names and LSH parameters, and Spark-side helpers.

The same code runs on ``local[*]`` and on a cluster: set ``SPARK_MASTER`` (e.g. spark://host:7077).
Vectors are scaled to unit length before hashing, so Euclidean distance ranks neighbours like cosine
similarity does and a bucket length means the same thing whatever the weights or the dataset. The
lab's reference Spark answers are in :mod:`helpers.reference.spark_lsh`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyspark
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from helpers.config import cache_dir, shuffle_partitions, spark_master, spark_ui_enabled
from helpers.data import IMAGE_COLUMN, IMAGE_SUFFIXES
from helpers.java import require_java

if TYPE_CHECKING:
    from pyspark.ml.feature import BucketedRandomProjectionLSHModel

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
#: The line every JVM of Spark 4 prints first (it loads an incubating module for its vector maths): no setting of
#: Java's turns it off, and in a notebook it shows in red under the Setup cell, like an error.
JVM_BANNER = b"WARNING: Using incubator modules:"
#: Spark SQL's names of the column types that hold numbers (decimal(p,s) counts as well).
NUMERIC_TYPES = ("double", "float", "int", "bigint", "smallint", "tinyint")


def numeric_columns(dtypes: Sequence[Sequence[str]]) -> list[str]:
    """The numeric columns of a table given as (name, Spark type) pairs, in order, the image column aside."""
    return [
        name for name, kind in dtypes if name != IMAGE_COLUMN and (kind in NUMERIC_TYPES or kind.startswith("decimal"))
    ]


def model_projections(model: BucketedRandomProjectionLSHModel) -> np.ndarray:
    """The random unit vectors of a fitted BucketedRandomProjectionLSH model, one row per hash table."""
    from pyspark.ml.common import _java2py

    # Pickled across py4j in one call: reading the Java array element by element takes 25 s for 200 tables.
    java_matrix = model._java_obj.randMatrix()  # a (tables x dim) matrix
    matrix = _java2py(SparkSession.active().sparkContext, java_matrix)
    return np.asarray(matrix.toArray(), dtype=np.float64)


def image_files_df(spark: SparkSession, image_dir: Path | str, names: Sequence[str] | None = None) -> DataFrame:
    """Image files read by Spark's ``binaryFile`` source: ``image`` (file name) and ``content`` (bytes)."""
    patterns = ",".join(
        sorted({suffix.lstrip(".") for suffix in IMAGE_SUFFIXES} | {s.lstrip(".").upper() for s in IMAGE_SUFFIXES})
    )
    files = spark.read.format("binaryFile").option("pathGlobFilter", f"*.{{{patterns}}}").load(str(image_dir))
    files = files.select(F.element_at(F.split("path", "/"), -1).alias(IMAGE_COLUMN), CONTENT)
    return files.filter(F.col(IMAGE_COLUMN).isin(list(names))) if names is not None else files


def get_spark(app_name: str = "lab5", master: str | None = None) -> SparkSession:
    """The running SparkSession, or a new quiet one on ``master`` (default: :func:`spark_master`).

    Calling it again returns the same session, so re-running a cell starts no new JVM.
    LAB_SPARK_UI=false turns the web UI off (the tests do).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_settings(master).items():
        builder = builder.config(key, value)
    with _without_jvm_banner():
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def _without_jvm_banner() -> Iterator[None]:
    """A JVM started in this block writes its standard error through a filter that drops :data:`JVM_BANNER` and
    passes every other line on to this process's standard error (where a notebook shows it) as it comes.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all (a windowed Python): nothing to filter
        yield
        return
    reader, writer = os.pipe()
    os.dup2(writer, 2)  # what the JVM inherits as its standard error
    os.close(writer)
    threading.Thread(target=_pass_on, args=(reader,), name="jvm-stderr", daemon=True).start()
    try:
        yield
    finally:
        os.dup2(saved, 2)  # the filter now ends when the last JVM started here does
        os.close(saved)


def _pass_on(reader: int) -> None:
    """Copy lines from ``reader`` to standard error but the JVM's banner, until every writer has closed it."""
    with open(reader, "rb") as pipe:
        for line in pipe:
            if not line.startswith(JVM_BANNER):
                with contextlib.suppress(OSError):  # standard error closed: the line has nowhere to go
                    os.write(2, line)


def session_settings(master: str | None = None) -> dict[str, str]:
    """The Spark settings of the lab's sessions on ``master`` (default: :func:`spark_master`), the driver JVM's
    options among them.
    """
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
        # the serial collector keeps ~120 MB less resident than G1 at the same CPU time (a laptop, a grading
        # job), a small first heap ~75 MB less again (it grows when a job needs it; by default it starts at
        # 1/64 of the machine's memory, whatever the job), and the classes Spark always loads come from a
        # prepared archive when there is one (a third sooner).
        driver_options = f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms32m {quiet}"
        if (archive := class_archive(java)).is_file():
            driver_options += f" -XX:SharedArchiveFile={archive} -Xshare:auto -Xlog:disable"
    return {
        "spark.master": master,
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": str(spark_ui_enabled()).lower(),
        "spark.driver.extraJavaOptions": driver_options,
        "spark.executor.extraJavaOptions": quiet,
        "spark.sql.shuffle.partitions": str(shuffle_partitions()),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }


def start_driver() -> tuple[int, str, subprocess.Popen]:
    """A driver JVM started as :func:`get_spark` would start it, for other processes to attach to: its gateway's
    port and secret (pyspark's ``PYSPARK_GATEWAY_PORT`` and ``PYSPARK_GATEWAY_SECRET``) and the JVM, which
    lives while its standard input stays open. What it prints goes nowhere: no process it serves could tell
    its lines apart, and each sees Spark's errors as exceptions.
    """
    from pyspark import SparkConf
    from pyspark.java_gateway import launch_gateway

    conf = SparkConf(loadDefaults=False).setAll(list(session_settings().items()))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    gateway = launch_gateway(conf, popen_kwargs=quiet)
    port, secret = gateway.gateway_parameters.port, gateway.gateway_parameters.auth_token
    gateway.close()  # this process's connection only: the JVM and its gateway live on
    return port, secret, gateway.proc


def class_archive(java: int) -> Path:
    """Where the driver JVM's class-data archive for this pyspark and Java version lives (in the cache)."""
    return cache_dir() / "spark" / f"classes-pyspark{pyspark.__version__}-java{java}-serialgc.jsa"


#: A session doing what the lab does, so that the archive holds the classes the notebooks need.
_ARCHIVE_RUN = """
import numpy as np
from helpers import spark as lab_spark
from helpers.models import EMBEDDING_DIM
from helpers.reference import neighbors, spark_lsh
from helpers.reference.storage import write_embeddings
session = lab_spark.get_spark("class-archive")
write_embeddings(["a.jpg", "b.jpg"], np.eye(2, EMBEDDING_DIM, dtype=np.float32), CSV)
frame = spark_lsh.read_embeddings_df(session, CSV)
features = spark_lsh.assemble(frame)
model = spark_lsh.fit_lsh(features)
hashed = model.transform(features).cache()
neighbors.nearest_neighbors(model, hashed, neighbors.vector_of(features, "a.jpg"), 2)
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


def near_duplicates(model: BucketedRandomProjectionLSHModel, hashed: DataFrame, threshold: float) -> pd.DataFrame:
    """Pairs of different images closer than ``threshold`` (approxSimilarityJoin of the index with itself)."""
    pairs = model.approxSimilarityJoin(hashed, hashed, threshold, distCol="distance")
    pairs = pairs.select(
        F.col(f"datasetA.{IMAGE_COLUMN}").alias("image_a"),
        F.col(f"datasetB.{IMAGE_COLUMN}").alias("image_b"),
        "distance",
    ).filter(F.col("image_a") < F.col("image_b"))
    return pairs.toPandas().sort_values(["distance", "image_a", "image_b"]).reset_index(drop=True)
