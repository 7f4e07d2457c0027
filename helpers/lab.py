"""The graded lab's plumbing: which images, where each notebook writes, and the fallbacks between notebooks.

Every notebook starts with ``LAB = lab.setup()``. Later notebooks continue from the student's own
artefact when it is valid and otherwise from the reference one, with a visible note, so one wrong
answer never costs points further on. The reference artefacts are computed from the data alone,
never from anything a student defined.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from PIL import Image

from helpers import cache
from helpers import embedder as lab_embedder
from helpers.config import RUN_SETTINGS, SEED, cache_dir, subset_setting
from helpers.data import IMAGE_COLUMN, LABEL_COLUMN, Dataset, stratified_sample
from helpers.default_dataset import lab_dataset
from helpers.store import EmbeddingsFileError, atomic_write, read_embeddings, write_embeddings
from helpers.transforms import IMAGE_SIZE, load_rgb, resize_folder
from helpers.vectors import same_vectors

if TYPE_CHECKING:  # Spark is imported only by the notebooks that use it (it is slow to import)
    from pyspark.ml.feature import BucketedRandomProjectionLSHModel
    from pyspark.sql import DataFrame, SparkSession

WORK_DIR = "lab5_work"
EMBEDDING_DIM = 512
#: Mean absolute pixel difference (0-255) to the reference resize that still counts as the same
#: picture: other interpolations stay far below it, a crop or a kept aspect ratio lands far above.
RESIZE_TOLERANCE = 6.0


@dataclass(frozen=True)
class LabSetup:
    """Everything a lab notebook needs to know about the run: data, images, weights and folders."""

    dataset: Dataset
    labels: pd.DataFrame
    weights: str
    weights_note: str
    work_dir: Path

    @property
    def image_names(self) -> list[str]:
        """The images of this run (a deterministic class-balanced subset), in CSV order."""
        return self.labels[IMAGE_COLUMN].tolist()

    @property
    def image_dir(self) -> Path:
        """Folder of the original images."""
        return self.dataset.image_dir

    @property
    def resized_dir(self) -> Path:
        """Where Q1 writes the 224x224 JPEGs."""
        return self.work_dir / "resized"

    @property
    def embeddings_csv(self) -> Path:
        """Where Q4 writes the embeddings CSV."""
        return self.work_dir / "embeddings.csv"

    def captions(self) -> dict[str, str]:
        """Image name to class name (or class number) for figure captions."""
        return self.dataset.captions(self.labels)

    def summary(self) -> str:
        """A few lines for the Setup cell to print."""
        total = len(self.dataset.usable_labels())
        lines = [
            f"data:    {self.dataset.root} ({len(self.labels)} of {total} images, "
            f"{self.labels[LABEL_COLUMN].nunique()} classes; LAB_DATA_DIR and LAB_SUBSET change this)",
            f"weights: {self.weights} (LAB_WEIGHTS)",
            f"work:    {self.work_dir}",
        ]
        if self.weights_note:
            lines.append(self.weights_note)
        return "\n".join(lines)


_first_settings: dict[str, str | None] = {}


def setup(work_dir: Path | str = WORK_DIR) -> LabSetup:
    """Resolve the run from the environment (LAB_DATA_DIR, LAB_SUBSET, LAB_WEIGHTS) and create the work folder."""
    if not _first_settings:
        _first_settings.update({name: os.environ.get(name) for name in RUN_SETTINGS})
    dataset = lab_dataset()
    labels = stratified_sample(dataset.usable_labels(), subset_setting(), SEED)
    weights, note = lab_embedder.choose_weights("resnet18")
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    return LabSetup(dataset, labels, weights, note, work)


def restore_and_setup(work_dir: Path | str = WORK_DIR) -> LabSetup:
    """What every test cell starts with: undo answer-cell changes that would mislead the tests, then setup().

    Answer cells sometimes name a variable ``list``, ``max`` or ``sorted``, or change a LAB_* setting;
    a test that then calls ``list(...)`` would fail for the wrong reason. This removes such shadowing
    builtins from the notebook's namespace and puts the settings back as the Setup cell saw them.
    """
    main = vars(sys.modules["__main__"])
    for name in [name for name in main if name in vars(builtins) and not name.startswith("_")]:
        del main[name]
    for name, value in _first_settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return setup(work_dir)


def load_resnet18(lab: LabSetup) -> torch.nn.Module:
    """A fresh full ResNet-18 classifier with this run's weights, as torchvision returns it."""
    return lab_embedder.load_model("resnet18", lab.weights)


# ---------------------------------------------------------------- reference artefacts and fallbacks


def reference_root(lab: LabSetup) -> Path:
    """Cache folder for this run's reference artefacts (outside the notebook's working folder)."""
    return (
        cache_dir()
        / "reference"
        / cache.key(lab.dataset.image_dir.resolve(), lab.image_names, lab.weights, torch.__version__)
    )


def reference_resized_dir(lab: LabSetup) -> Path:
    """Q1's reference output: every image of the run as a 224x224 RGB JPEG."""
    folder = reference_root(lab) / "resized"
    resize_folder(lab.image_names, lab.image_dir, folder)
    return folder


def resized_problems(folder: Path, lab: LabSetup) -> list[str]:
    """Why ``folder`` is not a valid Q1 output (empty list when it is)."""
    folder = Path(folder)
    reference = reference_resized_dir(lab)
    problems = []
    for name in lab.image_names:
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing in {folder}")
            continue
        try:
            with Image.open(path) as image:
                image.load()
                kind, mode, size = image.format, image.mode, image.size
                pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        except Exception as error:  # any unreadable file is a problem to report, not a crash
            problems.append(f"{name}: cannot be opened ({error.__class__.__name__})")
            continue
        if kind != "JPEG":
            problems.append(f"{name}: saved as {kind}, not JPEG")
        elif mode != "RGB":
            problems.append(f"{name}: mode {mode}, expected RGB")
        elif size != (IMAGE_SIZE, IMAGE_SIZE):
            problems.append(f"{name}: size {size[0]}x{size[1]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
        else:
            difference = float(np.abs(pixels - np.asarray(load_rgb(reference / name), dtype=np.float32)).mean())
            if difference > RESIZE_TOLERANCE:
                problems.append(
                    f"{name}: content differs from a plain resize of the original "
                    f"(mean pixel difference {difference:.1f}); was it cropped, padded or flipped?"
                )
    return problems


def _own_or_reference(
    own: Path, problems: list[str], reference: Callable[[], Path], questions: str
) -> tuple[Path, str]:
    """The student's artefact when it has no problems, else the reference one, with a note saying which."""
    if not problems:
        return own, f"Using your {questions} output: {own}"
    return reference(), (
        f"NOTE: your {questions} output is not usable ({problems[0]}; {len(problems)} problem(s)), so this "
        f"notebook continues from the reference copy. Fix {questions} to continue from your own work."
    )


def embedding_input_dir(lab: LabSetup) -> tuple[Path, str]:
    """The folder the embeddings are computed from: the student's Q1 output when valid, else the reference."""
    return _own_or_reference(
        lab.resized_dir, resized_problems(lab.resized_dir, lab), lambda: reference_resized_dir(lab), "Q1"
    )


def _embeddings_key(lab: LabSetup) -> tuple[Path, str]:
    folder, _ = embedding_input_dir(lab)
    return folder, cache.key(cache.files_key(folder / name for name in lab.image_names), lab.weights, torch.__version__)


@lru_cache(maxsize=4)
def _reference_vectors(folder: str, names: tuple[str, ...], weights: str, key: str) -> np.ndarray:
    cached = cache_dir() / "reference" / f"embeddings-{key}.npy"
    if cached.is_file():
        return np.load(cached)
    model = lab_embedder.Embedder("resnet18", weights, precision="fp32")
    vectors, failures = model.embed_files([Path(folder) / name for name in names], batch_size=16, workers=0)
    if failures:
        raise RuntimeError(f"reference embedding failed for {failures}")

    def save(target: Path) -> None:
        with target.open("wb") as stream:
            np.save(stream, vectors)

    with contextlib.suppress(OSError):  # a read-only cache (the autograder's sandbox) keeps it in memory only
        atomic_write(cached, save)
    return vectors


def reference_embeddings(lab: LabSetup) -> tuple[list[str], np.ndarray]:
    """Reference Q3 answer: fp32 ResNet-18 vectors of the embedding input images, in image_names order."""
    folder, key = _embeddings_key(lab)
    return lab.image_names, _reference_vectors(str(folder), tuple(lab.image_names), lab.weights, key).copy()


def reference_embeddings_csv(lab: LabSetup) -> Path:
    """Reference Q4 answer: the reference embeddings written as the lab's CSV."""
    _, key = _embeddings_key(lab)
    path = cache_dir() / "reference" / f"embeddings-{key}.csv"
    if not path.is_file():
        write_embeddings(*reference_embeddings(lab), path)
    return path


def embeddings_csv_problems(path: Path, lab: LabSetup) -> list[str]:
    """Why ``path`` is not a valid Q4 output (empty list when it is)."""
    try:
        names, vectors = read_embeddings(path, EMBEDDING_DIM)
    except EmbeddingsFileError as error:
        return [str(error)]
    reference_names, reference = reference_embeddings(lab)
    if sorted(names) != sorted(reference_names):
        return [f"{path}: the image names are not the {len(reference_names)} images of this run"]
    position = {name: i for i, name in enumerate(names)}
    wrong = ~same_vectors(vectors[[position[n] for n in reference_names]], reference)
    if wrong.any():
        return [
            f"{path}: {int(wrong.sum())} vector(s) differ from ResNet-18's embedding of their image, "
            f"e.g. {reference_names[int(np.flatnonzero(wrong)[0])]}"
        ]
    return []


def spark_input_csv(lab: LabSetup) -> tuple[Path, str]:
    """The CSV the Spark notebooks load: the student's Q4 output when valid, else the reference."""
    return _own_or_reference(
        lab.embeddings_csv,
        embeddings_csv_problems(lab.embeddings_csv, lab),
        lambda: reference_embeddings_csv(lab),
        "Q4",
    )


@dataclass(frozen=True)
class QueryIndex:
    """Part 3's result, rebuilt for Part 4: ``model`` (fitted LSH), ``hashed`` (image, features, hashes), and
    ``csv``, the embeddings file it was built from.
    """

    model: BucketedRandomProjectionLSHModel
    hashed: DataFrame
    csv: Path
    note: str


def query_index(lab: LabSetup, spark: SparkSession) -> QueryIndex:
    """The LSH index Part 4 queries, rebuilt from your Q4 CSV when valid (else the reference) with the lab's
    settings, so that Part 4 works whatever happened in Part 3.
    """
    from helpers import spark as lab_spark

    csv, note = spark_input_csv(lab)
    # The same vectors as Part 3's 512 columns, handed to Spark as one array column: far quicker to plan.
    features = lab_spark.assemble(lab_spark.embeddings_df(spark, *read_embeddings(csv, EMBEDDING_DIM)))
    model = lab_spark.fit_lsh(features)
    hashed = model.transform(features).cache()
    hashed.count()
    return QueryIndex(model, hashed, csv, note)
