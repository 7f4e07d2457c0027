"""``make bench``: the project's embedding and LSH against the original pipeline, measured side by side.

Writes bench/results/latest.json (stable keys, see README "Performance") and PNG plots beside it.
Runs on ../shared/data/stanford-cars when present (2,352 full-size photos), else on the embedded dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.lsh import evaluate_lsh
from helpers import spark as lab_spark
from helpers.config import PROJECT_ROOT, SEED, shared_dir
from helpers.default_dataset import lab_dataset
from helpers.embedder import Embedder, load_model, resolve_precision
from helpers.transforms import image_batch, load_rgb, resize_folder, tensor_transform
from helpers.vectors import cosine, exact_neighbors, nearest_indices, unit_distances, unit_vectors

RESULTS = PROJECT_ROOT / "bench" / "results"
SHARED_CARS = shared_dir() / "data" / "stanford-cars"
ORIGINAL_LSH = {"bucket_length": 2.0, "num_hash_tables": 200}
PRETRAINED = shared_dir() / "models" / "mobilenet_v2_imagenet.pth"


def machine() -> dict:
    """CPU model, cores and whether bfloat16 is used."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "bf16": resolve_precision("auto") == "bf16",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def baseline_embed(paths: list[Path], work: Path, weights: str) -> tuple[np.ndarray, float]:
    """The original pipeline: resize every image to a 224x224 JPEG on disk, then one fp32 forward pass
    per image, reading the average-pool layer with a forward hook. Returns vectors and seconds.
    """
    started = time.perf_counter()
    resized = work / "baseline_resized"
    resize_folder([p.name for p in paths], paths[0].parent, resized)
    model = load_model("resnet18", weights).eval()
    captured = {}
    model.avgpool.register_forward_hook(lambda module, inputs, output: captured.__setitem__("v", output))
    transform = tensor_transform()
    vectors = []
    with torch.no_grad():
        for path in paths:
            model(transform(load_rgb(resized / path.name)).unsqueeze(0))
            vectors.append(captured["v"].reshape(-1).numpy().copy())
    return np.stack(vectors), time.perf_counter() - started


def fast_embed(
    paths: list[Path], weights: str, batch_size: int, workers: int, backbone: str = "resnet18"
) -> tuple[np.ndarray, float]:
    """The project's path (CLI, demo): batched loader with draft decoding, channels_last, bf16 where native."""
    embedder = Embedder(backbone, weights, precision="auto")
    started = time.perf_counter()
    vectors, failures = embedder.embed_files(paths, batch_size=batch_size, workers=workers, draft=True)
    assert not failures, failures
    return vectors, time.perf_counter() - started


def ceiling(paths: list[Path], weights: str, batch_size: int) -> float:
    """Images per second of the forward pass alone on pre-decoded tensors, same precision and batch size."""
    embedder = Embedder("resnet18", weights, precision="auto")
    sample = image_batch([load_rgb(p, 224) for p in paths[: 2 * batch_size]])
    embedder.embed_tensor(sample[:batch_size])  # warm-up: oneDNN picks its kernels on the first call
    repeats = max(1, len(paths) // len(sample))
    started = time.perf_counter()
    for _ in range(repeats):
        for start in range(0, len(sample), batch_size):
            embedder.embed_tensor(sample[start : start + batch_size])
    return repeats * len(sample) / (time.perf_counter() - started)


def top5_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean overlap of each image's 5 nearest neighbours (itself excluded) under two sets of vectors."""
    return float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(nearest_indices(a, 5), nearest_indices(b, 5))]))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine similarity of corresponding rows."""
    return float(np.mean(cosine(a, b)))


def tune_batch(paths: list[Path], weights: str, candidates=(16, 32, 64), workers=(1, 2)) -> tuple[int, int, dict]:
    """Best (batch size, loader workers) on a slice of the images."""
    trial = paths[: min(len(paths), 256)]
    rates = {}
    for batch in candidates:
        for worker_count in workers:
            _, seconds = fast_embed(trial, weights, batch, worker_count)
            rates[f"batch{batch}_workers{worker_count}"] = len(trial) / seconds
    best = max(rates, key=rates.get)
    batch, worker_count = best.removeprefix("batch").split("_workers")
    return int(batch), int(worker_count), rates


def lsh_sweep(names: list[str], vectors: np.ndarray, queries: int, bucket_lengths, table_counts) -> dict:
    """Recall@5 against exact search, query latency and fit+transform time for each LSH setting."""
    spark = lab_spark.get_spark("lab5-bench")
    rng = random.Random(SEED)
    query_rows = rng.sample(range(len(names)), min(queries, len(names)))
    results = {}

    def measure(label: str, frame, rows: np.ndarray, bucket_length: float, num_hash_tables: int) -> dict:
        entry = evaluate_lsh(frame, names, rows, query_rows, bucket_length, num_hash_tables)
        print(
            f"  {label:>10} bucket {bucket_length:<6} tables {num_hash_tables:<4} recall@5 {entry['recall_at_5']:.3f} "
            f"query {entry['query_ms']:.0f} ms  fit+transform {entry['fit_transform_s']:.1f} s",
            flush=True,
        )
        return entry

    unit = unit_vectors(vectors)
    features = lab_spark.assemble(lab_spark.embeddings_df(spark, names, vectors)).cache()
    features.count()
    # The original project hashed the raw vectors; so does its configuration here.
    raw = (
        lab_spark.embeddings_df(spark, names, vectors)
        .withColumnRenamed(lab_spark.RAW_FEATURES, lab_spark.FEATURES)
        .cache()
    )
    raw.count()
    results["original"] = measure("original", raw, np.asarray(vectors, dtype=np.float64), **ORIGINAL_LSH)
    results["sweep"] = [
        measure("sweep", features, unit, bucket, tables) for bucket in bucket_lengths for tables in table_counts
    ]
    started = time.perf_counter()
    for row in query_rows:
        exact_neighbors(names, unit, unit[row], 5)
    results["exact_query_ms"] = 1000 * (time.perf_counter() - started) / len(query_rows)
    distances = np.sort(unit_distances(unit[query_rows], unit), axis=1)
    results["neighbour_distance"] = {
        "median_1st": float(np.median(distances[:, 1])),
        "median_5th": float(np.median(distances[:, 5])),
        "median_any": float(np.median(distances[:, 1:])),
    }
    eligible = [entry for entry in results["sweep"] if entry["recall_at_5"] >= 0.95]
    if eligible:
        # Latency is nearly flat at this size (Spark's fixed cost per query): among settings within 5%
        # of the fastest, take the one with the fewest candidates, the cost that grows with the data.
        fastest = min(entry["query_ms"] for entry in eligible)
        results["default"] = min(
            (e for e in eligible if e["query_ms"] <= 1.05 * fastest), key=lambda e: e["candidate_fraction"]
        )
    else:
        results["default"] = max(results["sweep"], key=lambda e: e["recall_at_5"])
    return results


def time_autograde(work: Path) -> tuple[float, float]:
    """Seconds to autograde the solution submission, and to merely execute the four solution notebooks."""
    import nbformat
    from nbclient import NotebookClient

    from grading.golden import make_submission, solution_answers
    from grading.roundtrip import round_trip

    scores = round_trip(work / "course", ["solution"])
    notebooks = make_submission(work / "course" / "release" / "lab5", solution_answers())
    run_dir = work / "execute_only"
    run_dir.mkdir()
    started = time.perf_counter()
    for name, notebook in notebooks.items():
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(run_dir)}}
        ).execute()
        nbformat.write(notebook, run_dir / name)
    return scores.attrs["autograde_seconds"], time.perf_counter() - started


def plots(result: dict, folder: Path) -> None:
    """recall_vs_latency.png and embedding_throughput.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lsh = result["lsh"]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for entry in lsh["sweep"]:
        axis.scatter(entry["query_ms"], entry["recall_at_5"], c="tab:blue", s=12 + 3 * entry["num_hash_tables"])
        axis.annotate(
            f"{entry['bucket_length']}/{entry['num_hash_tables']}",
            (entry["query_ms"], entry["recall_at_5"]),
            fontsize=7,
        )
    axis.scatter(
        lsh["original"]["query_ms"],
        lsh["original"]["recall_at_5"],
        c="tab:red",
        marker="s",
        label="original (2.0 / 200, raw vectors)",
    )
    axis.scatter(
        lsh["default"]["query_ms"],
        lsh["default"]["recall_at_5"],
        facecolors="none",
        edgecolors="tab:green",
        s=200,
        label="lab default",
    )
    axis.axvline(lsh["exact_query_ms"], color="grey", linestyle=":", label="exact NumPy")
    axis.axhline(0.95, color="grey", linestyle="--", linewidth=0.8)
    axis.set_xlabel("median query latency (ms)")
    axis.set_ylabel("recall@5 vs exact")
    axis.set_title(
        f"LSH on {result['images']} images, {lsh['features']}\n(labels: bucketLength/numHashTables)", fontsize=9
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(folder / "recall_vs_latency.png", dpi=110)

    embedding = result["embedding"]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    labels = ["original\n(disk resize, batch 1, fp32)", "project\n(batched, draft, bf16)", "ceiling\n(forward only)"]
    values = [embedding["baseline_img_per_s"], embedding["fast_img_per_s"], embedding["ceiling_img_per_s"]]
    axis.bar(labels, values, color=["tab:red", "tab:blue", "tab:grey"])
    for x, value in enumerate(values):
        axis.text(x, value, f"{value:.1f}", ha="center", va="bottom")
    axis.set_ylabel("images / second")
    axis.set_title(f"ResNet-18 embedding, {result['images']} images, {result['machine']['cores']} cores")
    figure.tight_layout()
    figure.savefig(folder / "embedding_throughput.png", dpi=110)


def run(
    data_dir: Path | None,
    images: int | None,
    queries: int,
    out: Path,
    bucket_lengths,
    table_counts,
    grading: bool = True,
) -> dict:
    """The whole benchmark; returns (and writes) the result dictionary."""
    dataset = lab_dataset(data_dir or (SHARED_CARS if SHARED_CARS.is_dir() else None))
    data_dir = dataset.root
    names = dataset.usable_labels()["image"].tolist()[:images]
    paths = [dataset.image_path(name) for name in names]
    weights = "random"  # ImageNet weights cannot be downloaded here; speed does not depend on the values
    result = {"dataset": str(data_dir), "images": len(names), "machine": machine(), "weights": weights}
    print(f"bench on {len(names)} images from {data_dir}; {result['machine']}", flush=True)

    with tempfile.TemporaryDirectory(prefix="lab5-bench-") as scratch:
        work = Path(scratch)
        batch, workers, tuning = tune_batch(paths, weights)
        print(f"tuned: batch {batch}, loader workers {workers} ({tuning})", flush=True)
        fast, fast_seconds = fast_embed(paths, weights, batch, workers)
        baseline, baseline_seconds = baseline_embed(paths, work, weights)
        reference = Embedder("resnet18", weights, precision="fp32").embed_files(
            paths, batch_size=batch, workers=workers
        )[0]
        result["embedding"] = {
            "baseline_img_per_s": len(paths) / baseline_seconds,
            "fast_img_per_s": len(paths) / fast_seconds,
            "ceiling_img_per_s": ceiling(paths, weights, batch),
            "top5_agreement": top5_agreement(fast, reference),
            "mean_cosine": mean_cosine(fast, reference),
            "baseline_vs_reference_cosine": mean_cosine(baseline, reference),
            "batch_size": batch,
            "loader_workers": workers,
            "tuning_img_per_s": tuning,
        }
        embedding = result["embedding"]
        embedding["speedup"] = embedding["fast_img_per_s"] / embedding["baseline_img_per_s"]
        embedding["fraction_of_ceiling"] = embedding["fast_img_per_s"] / embedding["ceiling_img_per_s"]
        print(json.dumps(embedding, indent=1), flush=True)

        # Random weights squeeze every photo into a tiny cone (all neighbours nearly equidistant), which
        # says nothing about real features: tune LSH and check quality on pretrained features too.
        pretrained = None
        if PRETRAINED.is_file():
            pretrained, _ = fast_embed(paths, str(PRETRAINED), batch, workers, backbone="mobilenet_v2")
            pretrained_reference = Embedder("mobilenet_v2", str(PRETRAINED), precision="fp32").embed_files(
                paths, batch_size=batch, workers=workers
            )[0]
            embedding["pretrained_mobilenet_v2"] = {
                "top5_agreement": top5_agreement(pretrained, pretrained_reference),
                "mean_cosine": mean_cosine(pretrained, pretrained_reference),
            }
        lsh_vectors = pretrained if pretrained is not None else fast
        lsh = lsh_sweep(names, lsh_vectors, queries, bucket_lengths, table_counts)
        lsh["features"] = "mobilenet_v2 imagenet (pretrained)" if pretrained is not None else f"resnet18 {weights}"
        lsh["default"]["latency_ratio_to_original"] = lsh["default"]["query_ms"] / lsh["original"]["query_ms"]
        lsh["lab_constants"] = {"bucket_length": lab_spark.BUCKET_LENGTH, "num_hash_tables": lab_spark.NUM_HASH_TABLES}
        result["lsh"] = lsh
        if grading:
            submission, execute_only = time_autograde(work)
            result["autograde"] = {
                "submission_s": submission,
                "execute_only_s": execute_only,
                "ratio": submission / execute_only,
            }

    result["targets"] = targets(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2))
    plots(result, out)
    for name, verdict in result["targets"].items():
        print(f"{name}: {verdict}")
    return result


def targets(result: dict) -> dict:
    """Each target of the performance issue, met or missed, in words."""
    embedding, lsh = result["embedding"], result["lsh"]
    verdicts = {
        "speedup >= 4x": embedding["speedup"] >= 4,
        "fast >= 80% of ceiling": embedding["fraction_of_ceiling"] >= 0.8,
        "top-5 agreement >= 0.95": embedding["top5_agreement"] >= 0.95,
        "top-5 agreement >= 0.95 (pretrained)": embedding.get("pretrained_mobilenet_v2", {}).get("top5_agreement", 0)
        >= 0.95,
        "mean cosine >= 0.999": embedding["mean_cosine"] >= 0.999,
        "default recall@5 >= 0.95": lsh["default"]["recall_at_5"] >= 0.95,
    }
    if "autograde" in result:
        verdicts["grading <= 1.5x execution"] = result["autograde"]["ratio"] <= 1.5
    why = {
        "speedup >= 4x": "decoding and resizing share the 2 cores with the forward pass (see README Performance)",
        "fast >= 80% of ceiling": "the ceiling gets the cores without any decoding; on 2 cores decoding costs ~1/3",
        "top-5 agreement >= 0.95": "neighbours are nearly equidistant: bf16 and draft-decoding rounding reorder them",
        "top-5 agreement >= 0.95 (pretrained)": "same cause; --precision fp32 restores exact agreement",
    }
    return {
        name: "met" if ok else f"MISSED: {why.get(name, 'see README Performance')}" for name, ok in verdicts.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``make bench``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, help="dataset (default: ../shared/data/stanford-cars, else the embedded one)"
    )
    parser.add_argument("--images", type=int, help="use only the first N images")
    parser.add_argument("--queries", type=int, default=100, help="LSH query images (default 100)")
    parser.add_argument("--bucket-lengths", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.04, 0.08, 0.16])
    parser.add_argument("--tables", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--no-grading", action="store_true", help="skip the autograde timing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    run(
        arguments.data,
        arguments.images,
        arguments.queries,
        arguments.out,
        arguments.bucket_lengths,
        arguments.tables,
        not arguments.no_grading,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
