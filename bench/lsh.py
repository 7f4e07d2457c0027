"""Measuring an LSH setting: recall against exact search, candidates per query and query latency."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from pyspark.sql import DataFrame

from helpers import spark as lab_spark
from helpers.vectors import exact_neighbors


def evaluate_lsh(
    frame: DataFrame,
    names: Sequence[str],
    vectors: np.ndarray,
    queries: Sequence[int],
    bucket_length: float,
    num_hash_tables: int,
    k: int = 5,
) -> dict:
    """One LSH setting measured: fit+transform seconds, recall@k against exact search over ``vectors``
    (the rows of ``frame``'s ``features``) for the ``queries`` rows, and the median query latency.
    """
    started = time.perf_counter()
    model = lab_spark.fit_lsh(frame, bucket_length, num_hash_tables)
    hashed = model.transform(frame).cache()
    hashed.count()
    fit_seconds = time.perf_counter() - started
    # Candidates (rows sharing a bucket with the query in some table) are the cost that grows with the data.
    buckets = np.array([[vector[0] for vector in row[0]] for row in hashed.select(lab_spark.HASHES).collect()])
    recalls, latencies, candidates = [], [], []
    for row in queries:
        exact = set(exact_neighbors(names, vectors, vectors[row], k)["image"])
        started = time.perf_counter()
        found = lab_spark.nearest_neighbors(model, hashed, vectors[row], k)
        latencies.append(time.perf_counter() - started)
        recalls.append(len(exact & set(found["image"])) / k)
        candidates.append(float((buckets == buckets[row]).any(axis=1).mean()))
    hashed.unpersist()
    return {
        "bucket_length": bucket_length,
        "num_hash_tables": num_hash_tables,
        "recall_at_5": float(np.mean(recalls)),
        "query_ms": 1000 * float(np.median(latencies)),
        "candidate_fraction": float(np.mean(candidates)),
        "fit_transform_s": fit_seconds,
    }
