"""``make bench-scale``: LSH from ten thousand to a million rows, on ``local[N]``, against exact search.

The rows are synthetic but realistic: pretrained MobileNetV2 features of the shared Stanford Cars
photos, reduced to the lab's 512 dimensions (PCA), each repeated with a small random perturbation,
and 1% planted near-duplicates for ``approxSimilarityJoin``. For each size: recall@5, candidates per
query and query time of the lab's default and of the setting the rule below picks; the similarity
join; and exact search in NumPy on the index collected to the driver. Writes ``lsh_scaling`` and
``lsh_scale_study`` into bench/results/latest.json (the other keys are kept).

The rule: a query finds a neighbour at distance d in one table with probability p(w*sqrt(D)/d)
(``collision``), so with L tables and target recall R, take the smallest c with 1-(1-p(c))^L >= R and
bucketLength = c * d5 / sqrt(D), where d5 is the 5th-neighbour distance at this N (measured on a sample).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame, SparkSession

from bench.lsh import bucket_ids, evaluate_lsh
from helpers import cache
from helpers import spark as lab_spark
from helpers.config import SEED, cache_dir, shared_dir
from helpers.default_dataset import lab_dataset
from helpers.models import EMBEDDING_DIM
from helpers.reference.embedding import Embedder
from helpers.reference.spark_lsh import fit_lsh
from helpers.vectors import unit_vectors

SCALE_KEYS = ("lsh_scaling", "lsh_scale_study")
RESULTS = Path(__file__).resolve().parent / "results"
PRETRAINED = shared_dir() / "models" / "mobilenet_v2_imagenet.pth"
SHARED_CARS = shared_dir() / "data" / "stanford-cars"
DIMENSION = EMBEDDING_DIM
SIZES = (10_000, 100_000, 1_000_000)
#: A planted near-duplicate sits this far from its original; the join looks for pairs closer than JOIN_THRESHOLD.
DUPLICATE_DISTANCE = 0.02
JOIN_THRESHOLD = 0.05
#: A join whose buckets pair more rows than this is reported as not run: Spark compares ~0.5 M pairs/s here.
MAX_JOIN_PAIRS = 2e7


def collision(ratio: float | np.ndarray) -> float | np.ndarray:
    """Probability that two points share a bucket of one table, for bucket width * sqrt(D) / distance = ratio."""
    from scipy.special import erf  # scipy ships with scikit-image, a dependency

    ratio = np.asarray(ratio, dtype=np.float64)
    phi = 0.5 * (1 + erf(-ratio / np.sqrt(2)))
    return 1 - 2 * phi - 2 / (np.sqrt(2 * np.pi) * ratio) * (1 - np.exp(-(ratio**2) / 2))


def rule(d5: float, recall: float, tables: int, dimension: int = DIMENSION) -> float:
    """The bucket length for ``tables`` tables that finds a neighbour at distance ``d5`` with probability ``recall``."""
    ratios = np.linspace(0.05, 60, 20000)
    found = 1 - (1 - collision(ratios)) ** tables
    if not (found >= recall).any():
        raise ValueError(f"{tables} table(s) cannot reach recall {recall} with any bucket length up to 60 d5/sqrt(D)")
    c = float(ratios[np.argmax(found >= recall)])
    return round(c * d5 / math.sqrt(dimension), 5)


def base_vectors(batch_size: int = 32) -> tuple[np.ndarray, dict]:
    """Pretrained MobileNetV2 features (fp32) of the shared photos, PCA to 512 dimensions, unit length (cached)."""
    dataset = lab_dataset(SHARED_CARS if SHARED_CARS.is_dir() else None)
    names = dataset.usable_labels()["image"].tolist()
    paths = [dataset.image_path(name) for name in names]
    key = cache.key("scale-base", cache.files_key(paths, content=False), str(PRETRAINED), DIMENSION)
    path = cache_dir() / "bench" / f"scale-base-{key}.npy"
    if not path.is_file():
        embedder = Embedder("mobilenet_v2", str(PRETRAINED), precision="fp32")
        vectors, failures = embedder.embed_files(paths, batch_size=batch_size, draft=True)
        assert not failures, failures
        # Not centred: the lab's vectors are unit length, not centred, so they fill a narrow cone; the
        # best rank-512 approximation keeps that cone and the distances within it.
        unit = unit_vectors(vectors)
        _, _, components = np.linalg.svd(unit, full_matrices=False)
        reduced = unit_vectors(unit @ components[:DIMENSION].T).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".tmp.npy"), reduced)
        path.with_suffix(".tmp.npy").replace(path)
    return np.load(path), {"photos": len(names), "dataset": str(dataset.root)}


def synthetic(base: np.ndarray, rows: int, perturbation: float) -> np.ndarray:
    """``rows`` unit vectors (float32): photo i % len(base) moved by ~``perturbation``; every 100th row a
    near-duplicate (at ~DUPLICATE_DISTANCE) of the row before it. A smaller ``rows`` gives a prefix.
    """
    out = np.empty((rows, base.shape[1]), dtype=np.float32)
    scale = np.float32(1 / np.sqrt(base.shape[1]))
    step = 1 << 16
    for number, start in enumerate(range(0, rows, step)):
        stop = min(rows, start + step)
        # One generator per chunk, always drawing a full chunk: row i gets the same noise whatever ``rows``.
        noise = np.random.default_rng([SEED, number]).standard_normal((step, base.shape[1]), dtype=np.float32)
        chunk = base[np.arange(start, stop) % len(base)] + perturbation * scale * noise[: stop - start]
        out[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    duplicates = np.arange(99, rows, 100)
    noise = np.random.default_rng([SEED, 1 << 20]).standard_normal((len(duplicates), base.shape[1]), np.float32)
    moved = out[duplicates - 1] + DUPLICATE_DISTANCE * scale * noise
    out[duplicates] = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    return out


def exact_top(index: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The NumPy baseline: indices and distances of the k nearest rows of a unit-vector index, per query
    (one matrix product and a partial sort; the same neighbours as ``helpers.vectors.exact_neighbors``).
    """
    distances = np.sqrt(np.clip(2.0 - 2.0 * (queries @ index.T), 0.0, None))
    top = np.argpartition(distances, k, axis=1)[:, :k]
    order = np.take_along_axis(distances, top, axis=1).argsort(axis=1)
    top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(distances, top, axis=1)


def numpy_baseline(parquet: Path, queries: list[int]) -> dict:
    """Exact search on the driver: the index read into one float32 array, then one query at a time."""
    started = time.perf_counter()
    table = pq.read_table(parquet, columns=[lab_spark.VECTOR])
    index = table.column(0).combine_chunks().flatten().to_numpy().reshape(table.num_rows, -1)
    load_seconds = time.perf_counter() - started
    latencies = []
    for row in queries:
        started = time.perf_counter()
        exact_top(index, index[row : row + 1], 5)
        latencies.append(time.perf_counter() - started)
    return {"load_s": load_seconds, "query_ms": 1000 * float(np.median(latencies)), "index_mb": index.nbytes / 2**20}


def write_index(vectors: np.ndarray, folder: Path) -> Path:
    """The vectors as Parquet (``image``, ``vector`` list<float>), the way a large index is stored."""
    path = folder / f"index-{len(vectors)}.parquet"
    values = pa.array(vectors.reshape(-1))
    offsets = pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int64))
    table = pa.table(
        {
            "image": pa.array([f"{i:07d}" for i in range(len(vectors))]),
            lab_spark.VECTOR: pa.LargeListArray.from_arrays(offsets, values),
        }
    )
    pq.write_table(table, path, row_group_size=1 << 15)
    return path


def similarity_join(
    frame: DataFrame, vectors: np.ndarray, bucket_length: float, tables: int, sample: np.ndarray
) -> dict:
    """The similarity join (``near_duplicates``) at JOIN_THRESHOLD: pairs found, recall on sampled rows, time."""
    model = fit_lsh(frame, bucket_length, tables)
    buckets = bucket_ids(model, vectors)
    # Rows that share a bucket in some table are paired and compared: at most the sum over tables.
    pairs_bound = sum(
        float((np.unique(buckets[:, t], return_counts=True)[1].astype(np.float64) ** 2).sum()) for t in range(tables)
    )
    entry = {"bucket_length": bucket_length, "num_hash_tables": tables, "candidate_pairs": pairs_bound}
    if pairs_bound > MAX_JOIN_PAIRS:
        entry["skipped"] = f"its buckets pair {pairs_bound:.2g} rows (limit {MAX_JOIN_PAIRS:.0g})"
        return entry
    hashed = model.transform(frame)
    started = time.perf_counter()
    pairs = lab_spark.near_duplicates(model, hashed, JOIN_THRESHOLD)
    entry["join_s"] = time.perf_counter() - started
    found = {(int(a), int(b)) for a, b in zip(pairs["image_a"], pairs["image_b"])}
    truth = set()
    for start in range(0, len(sample), 64):  # 64 rows per pass over the index: memory-bound otherwise
        block = sample[start : start + 64]
        close = np.sqrt(np.clip(2 - 2 * (vectors @ vectors[block].T), 0, None)) < JOIN_THRESHOLD
        for other, column in zip(*np.nonzero(close)):
            row = int(block[column])
            if other != row:
                truth.add((min(row, int(other)), max(row, int(other))))
    entry.update(pairs=len(found), sampled_exact_pairs=len(truth))
    entry["recall"] = len(truth & found) / len(truth) if truth else float("nan")
    return entry


def study_size(
    spark: SparkSession, vectors: np.ndarray, folder: Path, queries: int, extra_tables: tuple[int, ...]
) -> tuple[list[dict], dict]:
    """Every measurement at one size: LSH rows for the lab default and the rule's settings, the join, NumPy."""
    rows = len(vectors)
    rng = np.random.default_rng(SEED)
    query_rows = sorted(rng.choice(rows, size=queries, replace=False).tolist())
    top, distances = exact_top(vectors, vectors[query_rows], 6)
    names = [f"{i:07d}" for i in range(rows)]
    exact = [{names[i] for i in found[:5]} for found in top]
    d5 = float(np.median(distances[:, 5]))  # the 5th neighbour, itself excluded
    parquet = write_index(vectors, folder)
    frame = spark.read.parquet(str(parquet)).select(
        "image", array_to_vector(lab_spark.VECTOR).alias(lab_spark.FEATURES)
    )
    frame = frame.cache()
    frame.count()
    settings = [("lab default", lab_spark.BUCKET_LENGTH, lab_spark.NUM_HASH_TABLES)]
    settings += [(f"rule R=0.95 L={t}", rule(d5, 0.95, t), t) for t in (4, *extra_tables)]
    measured = []
    for label, bucket_length, tables in settings:
        entry = evaluate_lsh(frame, names, vectors, query_rows, bucket_length, tables, exact=exact)
        entry.update(rows=rows, setting=label, queries=queries, d5=d5)
        print(
            f"  {rows:>9,} {label:<18} bucket {bucket_length:<8} tables {tables}: recall@5 {entry['recall_at_5']:.3f} "
            f"candidates {entry['candidate_fraction']:.4f} query {entry['query_ms']:.0f} ms "
            f"fit+transform {entry['fit_transform_s']:.1f} s",
            flush=True,
        )
        measured.append(entry)
    baseline = numpy_baseline(parquet, query_rows)
    print(f"  {rows:>9,} NumPy brute force: {json.dumps(baseline)}", flush=True)
    sample = rng.choice(rows, size=min(500, rows), replace=False)
    joins = []
    for label, bucket_length, tables in (
        ("lab default", lab_spark.BUCKET_LENGTH, lab_spark.NUM_HASH_TABLES),
        ("rule R=0.95 L=4", rule(JOIN_THRESHOLD, 0.95, 4), 4),
    ):
        join = {"rows": rows, "setting": label, **similarity_join(frame, vectors, bucket_length, tables, sample)}
        print(f"  {rows:>9,} join {label}: {json.dumps(join)}", flush=True)
        joins.append(join)
    frame.unpersist()
    parquet.unlink()
    return measured, {"rows": rows, "d5": d5, "numpy": baseline, "joins": joins}


def run(sizes: tuple[int, ...], queries: int, out: Path, base: np.ndarray | None = None) -> dict:
    """The whole study; merges its sections into ``out``/latest.json and returns them.

    ``base``: unit vectors to start from instead of the pretrained features of the shared photos (tests).
    """
    base, origin = base_vectors() if base is None else (base.astype(np.float32), {"photos": len(base)})
    # Half the median distance of a photo to its nearest other photo: copies stay closer to their
    # photo than to any other, and their neighbours get nearer as N grows, as in a real, denser dataset.
    first = np.sort(np.sqrt(np.clip(2 - 2 * (base @ base.T), 0, None)), axis=1)[:, 1]
    perturbation = float(np.median(first)) / 2
    cores = os.cpu_count() or 1
    spark = lab_spark.get_spark("lab5-bench-scale", master=f"local[{cores}]")
    vectors = synthetic(base, max(sizes), perturbation)
    started = time.perf_counter()
    setup = {
        **origin,
        "dimension": DIMENSION,
        "perturbation": perturbation,
        "base_1st_neighbour": float(np.median(first)),
        "duplicate_distance": DUPLICATE_DISTANCE,
        "join_threshold": JOIN_THRESHOLD,
        "queries": queries,
        "master": spark.sparkContext.master,
        "driver_memory": spark.conf.get("spark.driver.memory", "1g"),
    }
    rows, sizes_out = [], []
    with tempfile.TemporaryDirectory(prefix="lab5-scale-") as scratch:
        for size in sorted(sizes):
            measured, extra = study_size(
                spark, vectors[:size], Path(scratch), queries, (2, 8) if size < max(sizes) else ()
            )
            rows += measured
            sizes_out.append(extra)
            gc.collect()
    study = {"setup": setup, "sizes": sizes_out, "rule": rule_table(), "seconds": time.perf_counter() - started}
    out.mkdir(parents=True, exist_ok=True)
    latest = out / "latest.json"
    result = json.loads(latest.read_text()) if latest.is_file() else {}
    result.update({"lsh_scaling": rows, "lsh_scale_study": study})
    latest.with_suffix(".tmp").write_text(json.dumps(result, indent=2))
    latest.with_suffix(".tmp").replace(latest)
    return {"lsh_scaling": rows, "lsh_scale_study": study}


def rule_table() -> dict:
    """The ratio c = bucketLength * sqrt(D) / d5 that each table count needs for each target recall."""
    table = {}
    for recall in (0.9, 0.95, 0.99):
        table[f"recall {recall}"] = {}
        for tables in (1, 2, 4, 8):
            try:
                table[f"recall {recall}"][f"{tables} tables"] = round(rule(1.0, recall, tables, 1), 2)
            except ValueError:
                table[f"recall {recall}"][f"{tables} tables"] = None  # out of reach: wider than 60 x d5
    return table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``make bench-scale``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--queries", type=int, default=20, help="query rows per size and setting (default 20)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    # A million 512-d rows are 4 GB as Spark vectors (doubles): the driver of local mode needs the room,
    # and its heap is fixed when the JVM starts.
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 10g pyspark-shell")
    run(tuple(arguments.sizes), arguments.queries, arguments.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
