"""``make demo``: the whole pipeline once, end to end, on the embedded dataset or DATA=.

Dataset -> ResNet-18 embeddings -> Spark DataFrame -> BucketedRandomProjectionLSH -> the 5 nearest
neighbours of a random image, printed as a table and saved as a figure.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import pandas as pd

from helpers import spark as lab_spark
from helpers.config import SEED, artifacts_dir
from helpers.data import DatasetError
from helpers.default_dataset import lab_dataset
from helpers.models import DEFAULT_BACKBONE, choose_weights
from helpers.reference.distributed import embed_images_df
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import nearest_neighbors, show_neighbors, vector_of
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh


def run(
    data_dir: Path | None,
    k: int,
    out: Path,
    backbone: str = DEFAULT_BACKBONE,
    distributed: bool = False,
    duplicate_threshold: float = 0.05,
) -> pd.DataFrame:
    """Run the pipeline, print the neighbours and save their figure to ``out``; returns the neighbours.

    ``distributed`` embeds on the Spark executors (binaryFile + predict_batch_udf) instead of locally.
    """
    started = time.perf_counter()
    dataset = lab_dataset(data_dir)
    problems = dataset.problems()
    labels = dataset.usable_labels()
    print(f"dataset: {dataset.root} ({len(labels)} images, {labels['Class'].nunique()} classes)")
    for problem in problems[:10]:
        print(f"  skipped {problem}")
    if len(problems) > 10:
        print(f"  ... and {len(problems) - 10} more problems")

    weights, note = choose_weights(backbone)
    if note:
        print("\n" + "!" * 100 + f"\n{note}\n" + "!" * 100 + "\n")
    spark = lab_spark.get_spark("lab5-demo")
    names = labels["image"].tolist()
    if distributed:
        images = lab_spark.image_files_df(spark, dataset.image_dir, names)
        raw = embed_images_df(images, backbone, weights, precision="fp32")
        where = f"on the executors of {spark.sparkContext.master}"
    else:
        # fp32: bf16 would change which neighbours the demo prints (README "Performance").
        embedded = Embedder(backbone, weights, precision="fp32").embed_folder(
            dataset.image_dir, names, draft=True, progress=True
        )
        for name, reason in embedded.failures.items():
            print(f"  could not embed {name}: {reason}")
        raw = embeddings_df(spark, embedded.names, embedded.vectors)
        where = "locally"
    features = assemble(raw).cache()
    names = [row[0] for row in features.select("image").collect()]
    print(f"embedded {len(names)} images {where} with {backbone} ({weights} weights)")

    model = fit_lsh(features)
    hashed = model.transform(features).cache()
    query = random.Random(SEED).choice(sorted(names))
    neighbors = nearest_neighbors(model, hashed, vector_of(features, query), k)

    captions = dataset.captions(labels)
    print(f"\nquery image: {query} ({captions[query]}) on Spark {spark.version}, master {spark.sparkContext.master}")
    table = neighbors.assign(label=neighbors["image"].map(captions))[["image", "label", "distance"]]
    print(table.to_string(index=False, float_format=lambda d: f"{d:.4f}"))
    pairs = lab_spark.near_duplicates(model, hashed, duplicate_threshold)
    print(f"\nnear-duplicate pairs closer than {duplicate_threshold} (approxSimilarityJoin): {len(pairs)}")

    out.parent.mkdir(parents=True, exist_ok=True)
    show_neighbors(query, neighbors, dataset.image_dir, captions).savefig(out, dpi=100)
    print(f"\nfigure: {out}\ntotal time: {time.perf_counter() - started:.1f} s")
    return neighbors


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="Stanford-Cars-style directory (default: the embedded dataset)")
    parser.add_argument("--k", type=int, default=5, help="number of neighbours (default 5)")
    parser.add_argument("--out", type=Path, default=artifacts_dir() / "demo_neighbors.png", help="figure path")
    arguments = parser.parse_args(argv)
    try:
        run(arguments.data, arguments.k, arguments.out)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
