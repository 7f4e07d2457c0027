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

from helpers import spark as lab_spark
from helpers.config import SEED, artifacts_dir
from helpers.data import DatasetError, find_dataset
from helpers.default_dataset import ensure_default_dataset
from helpers.display import show_neighbors
from helpers.embedder import DEFAULT_BACKBONE, Embedder, choose_weights


def run(data_dir: Path | None, k: int, out: Path, backbone: str = DEFAULT_BACKBONE) -> Path:
    """Run the pipeline and save the neighbour figure to ``out``; returns ``out``."""
    started = time.perf_counter()
    dataset = find_dataset(data_dir or ensure_default_dataset())
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
    embedder = Embedder(backbone, weights, precision="auto")
    names = labels["image"].tolist()
    vectors, failures = embedder.embed_files([dataset.image_path(n) for n in names], draft=True, progress=True)
    for index, reason in failures.items():
        print(f"  could not embed {names[index]}: {reason}")
    kept = [i for i in range(len(names)) if i not in failures]
    names, vectors = [names[i] for i in kept], vectors[kept]
    print(f"embedded {len(names)} images with {backbone} ({weights} weights, {embedder.precision}) -> {vectors.shape[1]}-d vectors")

    spark = lab_spark.get_spark("lab5-demo")
    features = lab_spark.assemble(lab_spark.embeddings_df(spark, names, vectors)).cache()
    model = lab_spark.fit_lsh(features)
    hashed = model.transform(features).cache()
    query = random.Random(SEED).choice(names)
    neighbors = lab_spark.nearest_neighbors(model, hashed, lab_spark.vector_of(features, query), k)

    class_names = dataset.class_names()
    label_of = dict(zip(labels["image"], labels["Class"]))
    captions = {name: class_names.get(int(label_of[name]), f"class {label_of[name]}") for name in names}
    print(f"\nquery image: {query} ({captions[query]}) on Spark {spark.version}, master {spark.sparkContext.master}")
    table = neighbors.assign(label=neighbors["image"].map(captions))[["image", "label", "distance"]]
    print(table.to_string(index=False, float_format=lambda d: f"{d:.4f}"))

    out.parent.mkdir(parents=True, exist_ok=True)
    show_neighbors(query, neighbors, dataset.image_dir, captions).savefig(out, dpi=100)
    print(f"\nfigure: {out}\ntotal time: {time.perf_counter() - started:.1f} s")
    return out


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
