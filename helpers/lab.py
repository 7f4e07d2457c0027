"""The graded lab's plumbing: which images, where each notebook writes, and the reference answers.

Every notebook starts with ``LAB = lab.setup()``. Later notebooks continue from the student's own
artefact when it is valid and otherwise from the reference one, with a visible note, so one wrong
answer never costs points further on. Hidden tests compare answers with the references here, which
are computed from the data alone, never from anything a student defined.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from helpers import embedder as lab_embedder
from helpers import guard
from helpers.config import SEED, cache_dir, data_dir_setting, subset_setting
from helpers.data import IMAGE_COLUMN, LABEL_COLUMN, Dataset, find_dataset, stratified_sample
from helpers.default_dataset import ensure_default_dataset
from helpers.store import EmbeddingsFileError, atomic_write, read_embeddings, write_embeddings
from helpers.transforms import IMAGE_SIZE, load_rgb, resize_folder

WORK_DIR = "lab5_work"
EMBEDDING_DIM = 512
#: Mean absolute pixel difference (0-255) to the reference resize that still counts as the same
#: picture: other interpolations stay far below it, a crop or a kept aspect ratio lands far above.
RESIZE_TOLERANCE = 6.0
#: Cosine similarity above which two embeddings of the same image count as equal (float noise,
#: CSV rounding and batching stay above it; a missing normalisation or train mode falls below).
COSINE_TOLERANCE = 0.9995


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
        names = self.dataset.class_names()
        return {row.image: names.get(int(row.Class), f"class {row.Class}") if pd.notna(row.Class) else ""
                for row in self.labels.itertuples(index=False)}

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


def setup(work_dir: Path | str = WORK_DIR) -> LabSetup:
    """Resolve the run from the environment (LAB_DATA_DIR, LAB_SUBSET, LAB_WEIGHTS) and create the work folder.

    The first call (the Setup cell, before any answer runs) records the modules the hidden tests
    rely on; every later call (each hidden test starts with one) undoes tampering with them.
    """
    guard.snapshot()
    guard.restore()
    dataset = find_dataset(data_dir_setting() or ensure_default_dataset())
    labels = stratified_sample(dataset.usable_labels(), subset_setting(), SEED)
    weights, note = lab_embedder.choose_weights("resnet18")
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    return LabSetup(dataset, labels, weights, note, work)


def load_resnet18(lab: LabSetup) -> torch.nn.Module:
    """A fresh full ResNet-18 classifier with this run's weights, as torchvision returns it."""
    return lab_embedder.load_model("resnet18", lab.weights)


# ---------------------------------------------------------------- references

def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def _files_fingerprint(folder: Path, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def reference_root(lab: LabSetup) -> Path:
    """Cache folder for this run's reference artefacts (outside the notebook's working folder)."""
    key = _fingerprint(lab.dataset.image_dir.resolve(), lab.image_names, lab.weights, torch.__version__)
    return cache_dir() / "reference" / key


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
                problems.append(f"{name}: content differs from a plain resize of the original "
                                f"(mean pixel difference {difference:.1f}); was it cropped, padded or flipped?")
    return problems


def _own_or_reference(own: Path, problems: list[str], reference: Callable[[], Path], questions: str) -> tuple[Path, str]:
    """The student's artefact when it has no problems, else the reference one, with a note saying which."""
    if not problems:
        return own, f"Using your {questions} output: {own}"
    return reference(), (
        f"NOTE: your {questions} output is not usable ({problems[0]}; {len(problems)} problem(s)), so this "
        f"notebook continues from the reference copy. Fix {questions} to continue from your own work."
    )


def embedding_input_dir(lab: LabSetup) -> tuple[Path, str]:
    """The folder the embeddings are computed from: the student's Q1 output when valid, else the reference."""
    return _own_or_reference(lab.resized_dir, resized_problems(lab.resized_dir, lab),
                             lambda: reference_resized_dir(lab), "Q1")


def _embeddings_key(lab: LabSetup) -> tuple[Path, str]:
    folder, _ = embedding_input_dir(lab)
    return folder, _fingerprint(_files_fingerprint(folder, lab.image_names), lab.weights, torch.__version__)


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


def same_vectors(actual: np.ndarray, expected: np.ndarray, tolerance: float = COSINE_TOLERANCE) -> np.ndarray:
    """Row-wise: same direction (cosine >= tolerance) and same length (within 1%)."""
    actual = np.asarray(actual, dtype=np.float64).reshape(len(expected), -1)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return np.zeros(len(expected), dtype=bool)
    norms_a, norms_e = np.linalg.norm(actual, axis=1), np.linalg.norm(expected, axis=1)
    cosine = (actual * expected).sum(axis=1) / np.maximum(norms_a * norms_e, 1e-12)
    return (cosine >= tolerance) & (np.abs(norms_a - norms_e) <= 0.01 * norms_e)


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
        return [f"{path}: {int(wrong.sum())} vector(s) differ from ResNet-18's embedding of their image, "
                f"e.g. {reference_names[int(np.flatnonzero(wrong)[0])]}"]
    return []


def spark_input_csv(lab: LabSetup) -> tuple[Path, str]:
    """The CSV the Spark notebooks load: the student's Q4 output when valid, else the reference."""
    return _own_or_reference(lab.embeddings_csv, embeddings_csv_problems(lab.embeddings_csv, lab),
                             lambda: reference_embeddings_csv(lab), "Q4")


# ---------------------------------------------------------------- helpers for the hidden tests

def reference_unit_vectors(lab: LabSetup) -> tuple[list[str], np.ndarray]:
    """The reference embeddings scaled to unit length, as the Spark notebooks' ``features`` column."""
    names, vectors = reference_embeddings(lab)
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    return names, vectors / np.where(norms == 0, 1.0, norms)


def exact_top(lab: LabSetup, image: str, k: int) -> list[str]:
    """Names of the k exact nearest neighbours of ``image`` (itself first) by distance of unit vectors."""
    names, unit = reference_unit_vectors(lab)
    distances = np.linalg.norm(unit - unit[names.index(image)], axis=1)
    return [names[i] for i in np.lexsort((np.asarray(names), distances))[:k]]


def to_pandas(table: object) -> pd.DataFrame:
    """A Spark DataFrame, a pandas DataFrame or a list of Rows, as pandas."""
    if hasattr(table, "toPandas"):
        return table.toPandas()
    if isinstance(table, pd.DataFrame):
        return table
    return pd.DataFrame([row.asDict() if hasattr(row, "asDict") else dict(row) for row in table])


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        scale = 255.0 if pixels.max() <= 1.0 else 1.0
        pixels = np.clip(pixels * scale, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels).convert("L").resize((16, 16), Image.Resampling.BOX)
    values = np.asarray(image, dtype=np.float64).ravel()
    return (values - values.mean()) / (values.std() + 1e-9)


def figure_images(figure: object, lab: LabSetup) -> list[str | None]:
    """Which of the run's images each picture in a matplotlib figure shows (None when none matches)."""
    library = {name: _thumbnail(np.asarray(load_rgb(lab.image_dir / name))) for name in lab.image_names}
    names = list(library)
    stacked = np.stack([library[name] for name in names])
    found: list[str | None] = []
    for axis in getattr(figure, "axes", []):
        for picture in axis.get_images():
            correlation = stacked @ _thumbnail(picture.get_array()) / stacked.shape[1]
            best = int(np.argmax(correlation))
            found.append(names[best] if correlation[best] > 0.9 else None)
    return found
