"""Distributed embedding: Spark's executors run the reference embedder on the image files' bytes.

``mapInArrow`` hands each Python worker the file bytes of its partition as Arrow batches; the worker
loads the model once and embeds a batch per forward pass, decoded like :meth:`Embedder.iter_files`
with the same ``draft``: the vectors equal the local embedder's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pyarrow as pa
import torch
from pyspark import TaskContext
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame

from helpers.data import IMAGE_COLUMN
from helpers.models import DEFAULT_BACKBONE, choose_weights
from helpers.reference.embedding import Embedder
from helpers.spark import CONTENT, RAW_FEATURES, VECTOR


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
