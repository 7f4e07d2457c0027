"""Part 3's reference: the embeddings as a Spark DataFrame (Q5), the features vector (Q6), the LSH model (Q7)
and the hashed DataFrame (Q8), plus the same model's projections and hashes computed in NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.feature import (
    BucketedRandomProjectionLSH,
    BucketedRandomProjectionLSHModel,
    Normalizer,
    VectorAssembler,
)
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from helpers.config import SEED
from helpers.data import IMAGE_COLUMN
from helpers.models import EMBEDDING_DIM
from helpers.spark import BUCKET_LENGTH, FEATURES, HASHES, NUM_HASH_TABLES, RAW_FEATURES, numeric_columns
from helpers.store import format_of, read_embeddings

if TYPE_CHECKING:
    from helpers.lab import LabSetup


def _csv_schema(path: Path) -> StructType:
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    return StructType([StructField(str(c), StringType() if c == IMAGE_COLUMN else DoubleType()) for c in header])


def read_embeddings_df(spark: SparkSession, path: Path | str) -> DataFrame:
    """Q5: an embeddings CSV or Parquet file as a DataFrame, ``image`` plus one double column per component."""
    path = Path(path)
    if format_of(path) == "csv":
        return spark.read.csv(str(path), header=True, schema=_csv_schema(path))
    df = spark.read.parquet(str(path))
    # Parquet keeps the float32 of the embedder; the lab's columns are doubles whatever the format.
    return df.select(IMAGE_COLUMN, *[df[name].cast("double").alias(name) for name in numeric_columns(df.dtypes)])


def embeddings_df(spark: SparkSession, names: Sequence[str], vectors: np.ndarray) -> DataFrame:
    """In-memory embeddings as a DataFrame with ``image`` and a ``raw_features`` vector column."""
    table = pd.DataFrame({IMAGE_COLUMN: list(names), RAW_FEATURES: list(np.asarray(vectors, dtype=np.float64))})
    # Arrow hands the arrays straight to the JVM: no Python worker, whose shutdown can print to stderr.
    df = spark.createDataFrame(table, schema=f"{IMAGE_COLUMN} string, {RAW_FEATURES} array<double>")
    return df.withColumn(RAW_FEATURES, array_to_vector(RAW_FEATURES))


def assemble(df: DataFrame, output_col: str = FEATURES) -> DataFrame:
    """Q6: gather the component columns into one vector and scale it to unit length (``features``).

    A DataFrame that already has a ``raw_features`` vector column is only normalised.
    """
    stages = (
        []
        if RAW_FEATURES in df.columns
        else [VectorAssembler(inputCols=numeric_columns(df.dtypes), outputCol=RAW_FEATURES)]
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


class JavaRandom:
    """``java.util.Random``, which Spark's BucketedRandomProjectionLSH draws its projections from."""

    MASK = (1 << 48) - 1

    def __init__(self, seed: int):
        self.state = (seed ^ 0x5DEECE66D) & self.MASK
        self.spare: float | None = None

    def _next(self, bits: int) -> int:
        self.state = (self.state * 0x5DEECE66D + 0xB) & self.MASK
        return self.state >> (48 - bits)

    def next_double(self) -> float:
        """A uniform double in [0, 1), as ``nextDouble`` makes it."""
        return ((self._next(26) << 27) + self._next(27)) * 2.0**-53

    def next_gaussian(self) -> float:
        """A standard normal number by the polar method, as ``nextGaussian`` makes it (in pairs)."""
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        while True:
            first, second = 2 * self.next_double() - 1, 2 * self.next_double() - 1
            square = first * first + second * second
            if 0 < square < 1:
                break
        scale = math.sqrt(-2 * math.log(square) / square)
        self.spare = second * scale
        return first * scale


def lsh_projections(num_hash_tables: int = NUM_HASH_TABLES, dim: int = EMBEDDING_DIM, seed: int = SEED) -> np.ndarray:
    """The random unit vectors (one row per table) that BucketedRandomProjectionLSH fits with ``seed``.

    Spark draws them from the seed and the dimension alone, so NumPy gives the same matrix (to 1e-16)
    without a JVM: one Gaussian per entry from ``java.util.Random(seed)``, each row scaled to length 1.
    """
    generator = JavaRandom(seed)
    values = np.array([generator.next_gaussian() for _ in range(num_hash_tables * dim)]).reshape(num_hash_tables, dim)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return values / np.where(norms == 0, 1.0, norms)


def lsh_hashes(projections: np.ndarray, bucket_length: float, vectors: np.ndarray) -> np.ndarray:
    """BucketedRandomProjectionLSH's hashes of ``vectors``: floor(projection / bucket length), one per table."""
    return np.floor(np.asarray(vectors, dtype=np.float64) @ np.asarray(projections).T / bucket_length)


@dataclass(frozen=True)
class QueryIndex:
    """Part 3's result, rebuilt for Part 4: ``model`` (fitted LSH), ``hashed`` (image, features, hashes), and
    ``csv``, the embeddings file it was built from.
    """

    model: BucketedRandomProjectionLSHModel
    hashed: DataFrame
    csv: Path
    note: str


def query_index(lab: LabSetup, spark: SparkSession, csv: Path, note: str) -> QueryIndex:
    """Q7 and Q8's reference answers for the run, built from ``csv`` with the lab's settings and the run's seed."""
    # The same vectors as Part 3's 512 columns, handed to Spark as one array column: far quicker to plan.
    features = assemble(embeddings_df(spark, *read_embeddings(csv, EMBEDDING_DIM)))
    model = fit_lsh(features, seed=lab.seed)
    hashed = model.transform(features).cache()
    hashed.count()
    return QueryIndex(model, hashed, csv, note)
