"""Measuring an LSH setting: recall against exact search, candidates per query and query latency."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from pyspark.ml.feature import BucketedRandomProjectionLSHModel
from pyspark.sql import DataFrame

from helpers.reference.neighbors import exact_neighbors, nearest_neighbors
from helpers.reference.spark_lsh import fit_lsh
from helpers.spark import model_projections

#: Rows hashed per NumPy step: keeps a million-row index to a few hundred MB of float64 at a time.
CHUNK = 65536


def bucket_ids(model: BucketedRandomProjectionLSHModel, vectors: np.ndarray) -> np.ndarray:
    """Bucket ids (N, tables) as Spark's ``model.transform`` computes them, from the model's random
    unit vectors in NumPy: a million rows hash in seconds, where collecting Spark's hashes takes minutes.
    """
    directions = model_projections(model).T
    width = model.getBucketLength()
    return np.concatenate(
        [
            np.floor(np.asarray(vectors[start : start + CHUNK], dtype=np.float64) @ directions / width)
            for start in range(0, len(vectors), CHUNK)
        ]
    )


def evaluate_lsh(
    frame: DataFrame,
    names: Sequence[str],
    vectors: np.ndarray,
    queries: Sequence[int],
    bucket_length: float,
    num_hash_tables: int,
    k: int = 5,
    exact: Sequence[set[str]] | None = None,
) -> dict:
    """One LSH setting measured: fit+transform seconds, recall@k against exact search over ``vectors``
    (the rows of ``frame``'s ``features``) for the ``queries`` rows, and the median query latency.

    ``exact``: the exact k nearest names of each query when already known (large indexes).
    """
    started = time.perf_counter()
    model = fit_lsh(frame, bucket_length, num_hash_tables)
    hashed = model.transform(frame).cache()
    hashed.count()
    fit_seconds = time.perf_counter() - started
    # Candidates (rows sharing a bucket with the query in some table) are the cost that grows with the data.
    buckets = bucket_ids(model, vectors)
    recalls, latencies, candidates = [], [], []
    for position, row in enumerate(queries):
        truth = exact[position] if exact is not None else set(exact_neighbors(names, vectors, vectors[row], k)["image"])
        started = time.perf_counter()
        found = nearest_neighbors(model, hashed, vectors[row], k)
        latencies.append(time.perf_counter() - started)
        recalls.append(len(truth & set(found["image"])) / k)
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


def simulate_lsh(
    model: BucketedRandomProjectionLSHModel, vectors: np.ndarray, queries: Sequence[int], k: int = 5
) -> dict:
    """What ``approxNearestNeighbors`` returns, computed in NumPy: the k nearest of the rows that share a
    bucket with the query in some table (the model's random directions, any number of rows).
    Returns recall@k against exact search and the mean candidate fraction; no query time.
    """
    buckets = bucket_ids(model, vectors)
    recalls, candidates = [], []
    for row in queries:
        distances = np.linalg.norm(vectors - vectors[row], axis=1)
        exact = set(np.argsort(distances, kind="stable")[:k].tolist())
        pool = np.flatnonzero((buckets == buckets[row]).any(axis=1))
        found = set(pool[np.argsort(distances[pool], kind="stable")[:k]].tolist())
        recalls.append(len(exact & found) / k)
        candidates.append(len(pool) / len(vectors))
    return {"recall_at_5": float(np.mean(recalls)), "candidate_fraction": float(np.mean(candidates))}
