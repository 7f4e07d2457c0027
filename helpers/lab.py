"""The graded lab's plumbing: which images, where each notebook writes, and the fallbacks between notebooks.

Every notebook starts with ``LAB = lab.setup()``. Later notebooks continue from the student's own
artefact when it is valid and otherwise from the reference one (:mod:`helpers.reference`), with a
visible note, so one wrong answer never costs points further on. The reference artefacts are computed
from the data alone, never from anything a student defined. Under the autograder the run's images and
seed are the ones it chose (``LAB_GRADING_SAMPLE``): images the student never had.
"""

from __future__ import annotations

import builtins
import importlib.metadata
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from helpers import cache
from helpers.config import RUN_SETTINGS, SEED, cache_dir, grading_sample_setting, subset_setting
from helpers.data import IMAGE_COLUMN, LABEL_COLUMN, Dataset, stratified_sample
from helpers.default_dataset import lab_dataset
from helpers.models import choose_weights, load_model

if TYPE_CHECKING:  # Spark and torch are imported only by the notebooks that use them (both are slow to import)
    from pyspark.sql import SparkSession
    from torch import nn

    from helpers.questions import Diagnosis
    from helpers.reference.spark_lsh import QueryIndex

WORK_DIR = "lab5_work"


@dataclass(frozen=True)
class LabSetup:
    """Everything a lab notebook needs to know about the run: data, images, weights, seed and folders."""

    dataset: Dataset
    labels: pd.DataFrame
    weights: str
    weights_note: str
    work_dir: Path
    seed: int = SEED
    graded: bool = False  # the autograder's run, on images it chose

    @property
    def image_names(self) -> list[str]:
        """The images of this run (a deterministic class-balanced subset), in CSV order."""
        return self.labels[IMAGE_COLUMN].tolist()

    @property
    def image_dir(self) -> Path:
        """Folder of the original images."""
        return self.dataset.image_dir

    @property
    def notebook_dir(self) -> Path:
        """The folder the notebooks run in (``work_dir`` is inside it)."""
        return self.work_dir.parent

    @property
    def resized_dir(self) -> Path:
        """Where Q1 writes the 224x224 JPEGs."""
        return self.work_dir / "resized"

    @property
    def embeddings_csv(self) -> Path:
        """Where Q4 writes the embeddings CSV."""
        return self.work_dir / "embeddings.csv"

    @property
    def reference_dir(self) -> Path:
        """The cache folder of this run's reference artefacts, named after its images and weights."""
        images = cache.files_key((self.image_dir / name for name in self.image_names), content=False)
        return cache_dir() / "reference" / cache.key(images, self.weights, importlib.metadata.version("torch"))

    def captions(self) -> dict[str, str]:
        """Image name to class name (or class number) for figure captions."""
        return self.dataset.captions(self.labels)

    def shown(self, path: Path | str) -> str:
        """A path as the student knows it: relative to the notebook's folder, or what it is."""
        path = Path(path)
        for root, label in ((self.notebook_dir, ""), (cache_dir(), "the reference copy: "), (self.dataset.root, "")):
            if path.is_relative_to(root):
                relative = path.relative_to(root).as_posix()
                return label + (relative if root != self.dataset.root else f"{root.name}/{relative}")
        return str(path)

    def summary(self) -> str:
        """A few lines for the Setup cell to print."""
        classes = self.labels[LABEL_COLUMN].nunique()
        if self.graded:
            data = (
                f"{len(self.labels)} images ({classes} classes) that the autograder chose for this grading, "
                "not the ones you had: your answers run on them exactly as you wrote them"
            )
        else:
            data = (
                f"{self.dataset.root} ({len(self.labels)} of {len(self.dataset.usable_labels())} images, "
                f"{classes} classes; LAB_DATA_DIR and LAB_SUBSET change this)"
            )
        lines = [f"data:    {data}", f"weights: {self.weights} (LAB_WEIGHTS)", f"work:    {self.shown(self.work_dir)}/"]
        if self.weights_note:
            lines.append(self.weights_note)
        return "\n".join(lines)


def read_sample(path: Path) -> tuple[list[str], int]:
    """The images and seed of an autograder's sample file (``{"images": [...], "seed": n}``)."""
    sample = json.loads(Path(path).read_text())
    return [str(name) for name in sample["images"]], int(sample["seed"])


_first_settings: dict[str, str | None] = {}


def setup(work_dir: Path | str = WORK_DIR, data_dir: Path | None = None, sample: Path | None = None) -> LabSetup:
    """Resolve the run and create the work folder: the dataset and images from LAB_DATA_DIR and LAB_SUBSET
    (or ``data_dir``), or the autograder's sample (LAB_GRADING_SAMPLE, or ``sample``); weights from LAB_WEIGHTS.
    """
    if not _first_settings:
        _first_settings.update({name: os.environ.get(name) for name in RUN_SETTINGS})
    dataset = lab_dataset(data_dir)
    usable = dataset.usable_labels()
    sample = sample or grading_sample_setting()
    if sample is None:
        labels, seed = stratified_sample(usable, subset_setting(), SEED), SEED
    else:
        images, seed = read_sample(sample)
        labels = usable[usable[IMAGE_COLUMN].isin(images)].reset_index(drop=True)
    weights, note = choose_weights("resnet18")
    work = Path(work_dir).absolute()
    work.mkdir(parents=True, exist_ok=True)
    return LabSetup(dataset, labels, weights, note, work, seed, sample is not None)


def restore_and_setup(work_dir: Path | str = WORK_DIR) -> LabSetup:
    """What every test cell starts with: undo answer-cell changes that would mislead the tests, then setup().

    Answer cells sometimes name a variable ``list``, ``max`` or ``sorted``, or change a LAB_* setting;
    a test that then calls ``list(...)`` would fail for the wrong reason. This removes such shadowing
    builtins from the notebook's namespace and puts the settings back as the Setup cell saw them.
    """
    main, python = vars(sys.modules["__main__"]), vars(builtins)
    # Only Python's own builtins: IPython adds some of its own (get_ipython, display), which must stay.
    for name in [
        name for name in main if name in python and not name.startswith("_") and _is_python_builtin(python[name])
    ]:
        del main[name]
    for name, value in _first_settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return setup(work_dir)


def _is_python_builtin(value: object) -> bool:
    # list, max, sorted...: not IPython's additions (get_ipython, display, exit), whose module is IPython's.
    return getattr(value, "__module__", None) == "builtins"


def load_resnet18(lab: LabSetup) -> nn.Module:
    """A fresh full ResNet-18 classifier with this run's weights, as torchvision returns it."""
    return load_model("resnet18", lab.weights)


# ---------------------------------------------------------------- continuing from your work, or the reference


def _own_or_reference(
    lab: LabSetup, own: Path, problems: list[Diagnosis], reference: Path, questions: str
) -> tuple[Path, str]:
    """The student's artefact when it has no problems, else the reference one, with a note saying which."""
    if not problems:
        return own, f"Using your {questions} output: {lab.shown(own)}"
    return reference, (
        f"NOTE: your {questions} output is not usable ({problems[0].message}; {len(problems)} problem(s)), so this "
        f"notebook continues from the reference copy. Fix {questions} to continue from your own work."
    )


def embedding_input_dir(lab: LabSetup) -> tuple[Path, str]:
    """The folder the embeddings are computed from: the student's Q1 output when valid, else the reference."""
    from helpers.questions.q01_resize import resized_problems
    from helpers.reference.resize import resized_dir

    problems = resized_problems(lab.resized_dir, lab)
    return _own_or_reference(
        lab, lab.resized_dir, problems, lab.resized_dir if not problems else resized_dir(lab), "Q1"
    )


def reference_embeddings_files(lab: LabSetup) -> tuple[Path, Path, Path]:
    """The embeddings notebook's input folder, and where the reference embeddings of it are kept (.npy, .csv)."""
    folder, _ = embedding_input_dir(lab)
    key = cache.key(
        cache.files_key(folder / name for name in lab.image_names), lab.weights, importlib.metadata.version("torch")
    )
    return folder, lab.reference_dir / f"embeddings-{key}.npy", lab.reference_dir / f"embeddings-{key}.csv"


def spark_input_csv(lab: LabSetup) -> tuple[Path, str]:
    """The CSV the Spark notebooks load: the student's Q4 output when valid, else the reference."""
    from helpers.questions.q04_csv import csv_problems
    from helpers.reference.storage import embeddings_csv

    problems = csv_problems(lab.embeddings_csv, lab)
    return _own_or_reference(
        lab, lab.embeddings_csv, problems, lab.embeddings_csv if not problems else embeddings_csv(lab), "Q4"
    )


def query_index(lab: LabSetup, spark: SparkSession) -> QueryIndex:
    """The LSH index Part 4 queries, rebuilt from your Q4 CSV when valid (else the reference) with the lab's
    settings, so that Part 4 works whatever happened in Part 3.
    """
    from helpers.reference import spark_lsh

    return spark_lsh.query_index(lab, spark, *spark_input_csv(lab))
