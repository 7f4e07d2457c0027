"""Finding, reading and checking a Stanford-Cars-style dataset: a folder of images plus a label CSV.

The lab only needs two CSV columns, the image file name and its class (``image`` and ``Class`` in
Stanford Cars; the bounding-box columns are ignored). Any folder of images with such a CSV works,
and a folder without a CSV is read as unlabelled images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import SEED

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
IMAGE_COLUMN = "image"
LABEL_COLUMN = "Class"
STANFORD_CSV = "cardatasettrain.csv"
CLASS_NAMES_CSV = "class_names.csv"


class DatasetError(ValueError):
    """A dataset cannot be used as it is; the message names the file and the fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, in words a person can act on."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def is_image_file(path: Path) -> bool:
    """True for a regular file whose suffix is an image format the lab reads."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def read_labels(csv_path: Path, image_column: str = IMAGE_COLUMN, label_column: str = LABEL_COLUMN) -> pd.DataFrame:
    """Read the label CSV, keeping only ``image`` and ``Class`` (renamed to those names), in file order."""
    csv_path = Path(csv_path)
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark that would rename the first column.
        table = pd.read_csv(csv_path, encoding="utf-8-sig", dtype={image_column: str})
    except pd.errors.EmptyDataError:
        raise DatasetError(
            f"{csv_path}: the CSV is empty; it needs a header row with the columns "
            f"'{image_column}' and '{label_column}' and one row per image"
        ) from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in (image_column, label_column) if column not in table.columns]
    if missing:
        raise DatasetError(
            f"{csv_path}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(found {', '.join(repr(c) for c in table.columns) or 'none'}); "
            f"add them to the header row or name the columns to use"
        )
    labels = table[[image_column, label_column]].rename(
        columns={image_column: IMAGE_COLUMN, label_column: LABEL_COLUMN}
    )
    labels = labels.dropna(subset=[IMAGE_COLUMN])
    labels[IMAGE_COLUMN] = labels[IMAGE_COLUMN].str.strip()
    labels[LABEL_COLUMN] = pd.to_numeric(labels[LABEL_COLUMN], errors="coerce").astype("Int64")
    return labels.reset_index(drop=True)


def read_class_names(csv_path: Path) -> dict[int, str]:
    """Class number to readable name from ``class_names.csv`` (columns ``Class`` and ``name``)."""
    table = pd.read_csv(csv_path, encoding="utf-8-sig")
    if not {LABEL_COLUMN, "name"} <= set(table.columns):
        raise DatasetError(f"{csv_path}: expected columns 'Class' and 'name', found {list(table.columns)}")
    return {int(row.Class): str(row.name) for row in table.itertuples(index=False)}


@dataclass(frozen=True)
class Dataset:
    """A located dataset: where its images, label CSV and optional class names are."""

    root: Path
    image_dir: Path
    labels_csv: Path | None
    class_names_csv: Path | None = None
    image_column: str = IMAGE_COLUMN
    label_column: str = LABEL_COLUMN

    def image_path(self, name: str) -> Path:
        """Full path of one image named in the CSV."""
        return self.image_dir / name

    def image_files(self) -> list[str]:
        """Names of the image files present in the image folder, sorted."""
        return sorted(path.name for path in self.image_dir.iterdir() if is_image_file(path))

    def labels(self) -> pd.DataFrame:
        """All CSV rows as ``image``/``Class``; for an unlabelled folder, every image with no class."""
        if self.labels_csv is None:
            return pd.DataFrame(
                {
                    IMAGE_COLUMN: self.image_files(),
                    LABEL_COLUMN: pd.array([pd.NA] * len(self.image_files()), dtype="Int64"),
                }
            )
        return read_labels(self.labels_csv, self.image_column, self.label_column)

    def class_names(self) -> dict[int, str]:
        """Readable class names when ``class_names.csv`` exists, else an empty mapping."""
        return read_class_names(self.class_names_csv) if self.class_names_csv else {}

    def captions(self, labels: pd.DataFrame | None = None) -> dict[str, str]:
        """Image name to its class name for figure captions ("class N" without names, "" unlabelled).

        ``labels`` defaults to every usable image.
        """
        names = self.class_names()
        labels = self.usable_labels() if labels is None else labels
        return {
            row.image: names.get(int(row.Class), f"class {row.Class}") if pd.notna(row.Class) else ""
            for row in labels.itertuples(index=False)
        }

    def problems(self) -> list[Problem]:
        """Everything that disagrees between the CSV and the folder, one Problem per file."""
        if self.labels_csv is None:
            return []
        labels = self.labels()
        present = set(self.image_files())
        csv_name = self.labels_csv.name
        problems: list[Problem] = []
        for name, count in Counter(labels[IMAGE_COLUMN]).items():
            if count > 1:
                classes = sorted({str(c) for c in labels.loc[labels[IMAGE_COLUMN] == name, LABEL_COLUMN]})
                conflict = f" with different classes ({', '.join(classes)})" if len(classes) > 1 else ""
                problems.append(
                    Problem(
                        name, f"listed {count} times in {csv_name}{conflict}; the first row is used, delete the others"
                    )
                )
        listed = set(labels[IMAGE_COLUMN])
        for name in labels[IMAGE_COLUMN].drop_duplicates():
            if name not in present:
                problems.append(
                    Problem(
                        name, f"listed in {csv_name} but not found in {self.image_dir}; add the file or delete its row"
                    )
                )
        for name in sorted(present - listed):
            problems.append(
                Problem(name, f"in {self.image_dir} but not listed in {csv_name}; add a row for it or move it out")
            )
        return problems

    def usable_labels(self) -> pd.DataFrame:
        """CSV rows whose image exists, first row per image, in CSV order: what the lab embeds."""
        labels = self.labels().drop_duplicates(subset=[IMAGE_COLUMN], keep="first")
        present = set(self.image_files())
        return labels[labels[IMAGE_COLUMN].isin(present)].reset_index(drop=True)


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(is_image_file(path) for path in folder.iterdir())


def _find_labels_csv(folders: list[Path], image_column: str) -> Path | None:
    for folder in folders:
        if (folder / STANFORD_CSV).is_file():
            return folder / STANFORD_CSV
    for folder in folders:
        for candidate in sorted(folder.glob("*.csv")):
            if candidate.name == CLASS_NAMES_CSV:
                continue
            try:
                header = pd.read_csv(candidate, nrows=0, encoding="utf-8-sig").columns
            except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
                # An empty or broken CSV is still the labels file when it is the only one; read_labels reports it.
                return candidate
            if image_column in [str(column).strip() for column in header]:
                return candidate
    return None


def find_dataset(root: Path | str, image_column: str = IMAGE_COLUMN, label_column: str = LABEL_COLUMN) -> Dataset:
    """Locate images and labels under ``root`` in the original, the Kaggle or a plain-folder layout.

    Original: ``root/cars_train/*.jpg`` + ``root/cardatasettrain.csv``. Kaggle mirror:
    ``root/cars_train/cars_train/*.jpg``. Plain: images (and optionally a CSV) directly in ``root``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"{root}: no such directory; point LAB_DATA_DIR (or DATA=) at a folder of images with a label CSV"
        )
    candidates = [root / "cars_train" / "cars_train", root / "cars_train", root]
    image_dir = next((folder for folder in candidates if _has_images(folder)), None)
    if image_dir is None:
        raise DatasetError(
            f"{root}: no images found in {root / 'cars_train'} or {root}; "
            f"expected the Stanford Cars layout (cars_train/*.jpg + {STANFORD_CSV}) or a folder of images"
        )
    search = list(dict.fromkeys([root, image_dir.parent, image_dir]))
    labels_csv = _find_labels_csv(search, image_column)
    class_names = next((folder / CLASS_NAMES_CSV for folder in search if (folder / CLASS_NAMES_CSV).is_file()), None)
    return Dataset(root, image_dir, labels_csv, class_names, image_column, label_column)


def stratified_sample(labels: pd.DataFrame, size: int | None, seed: int = SEED) -> pd.DataFrame:
    """A deterministic, class-balanced subset of ``size`` rows, kept in the original row order.

    Classes take turns (in a seeded order), each giving its next image from a seeded shuffle, so
    every class is represented before any class gets a second image.
    """
    if size is None or size >= len(labels):
        return labels.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keys = labels[LABEL_COLUMN].astype("string").fillna("<none>")
    queues = {key: list(rng.permutation(np.flatnonzero(keys.to_numpy() == key))) for key in sorted(keys.unique())}
    order = [list(queues)[i] for i in rng.permutation(len(queues))]
    chosen: list[int] = []
    while len(chosen) < size:
        for key in order:
            if queues[key] and len(chosen) < size:
                chosen.append(int(queues[key].pop(0)))
    return labels.iloc[sorted(chosen)].reset_index(drop=True)
