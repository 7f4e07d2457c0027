"""helpers.default_dataset: the offline dataset made from scikit-image's photos, in the Stanford layout."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

from helpers.data import CLASS_NAMES_CSV, STANFORD_CSV
from helpers.default_dataset import (
    MARKER,
    SOURCE_PHOTOS,
    VARIANTS_PER_PHOTO,
    default_dataset_dir,
    ensure_default_dataset,
)


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (hidden ones included), keyed by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_stanford_layout(default_dataset):
    """The default dataset has cars_train/, cardatasettrain.csv (with Class and image) and class_names.csv."""
    root = default_dataset.root
    assert root == default_dataset_dir()
    assert default_dataset.image_dir == root / "cars_train"
    assert default_dataset.labels_csv == root / STANFORD_CSV
    assert default_dataset.class_names_csv == root / CLASS_NAMES_CSV
    header = pd.read_csv(root / STANFORD_CSV, nrows=0).columns
    assert {"Class", "image"} <= set(header)
    assert header[0].startswith("Unnamed") or header[0] == ""  # the lab CSV's unnamed index column


def test_size_classes_and_no_problems(default_dataset):
    """A few hundred images, at least 15 classes with readable names, and no CSV/folder disagreement."""
    labels = default_dataset.usable_labels()
    assert len(labels) >= 200
    assert len(labels) == len(SOURCE_PHOTOS) * VARIANTS_PER_PHOTO
    assert labels["Class"].nunique() >= 15
    assert labels["Class"].value_counts().min() >= 8
    assert default_dataset.problems() == []
    names = default_dataset.class_names()
    assert set(names) == set(labels["Class"].astype(int))
    assert all(isinstance(name, str) and name for name in names.values())


def test_file_order_does_not_reveal_class(default_dataset):
    """File numbers are shuffled: consecutive file names do not all share a class."""
    classes = default_dataset.usable_labels()["Class"].tolist()
    same_as_next = sum(a == b for a, b in itertools.pairwise(classes))
    assert same_as_next < len(classes) // 4


def test_generation_is_idempotent(default_dataset):
    """A second ensure_default_dataset() rewrites nothing (same folder, mtimes unchanged)."""
    root = default_dataset.root
    before = {path: path.stat().st_mtime_ns for path in root.rglob("*")}
    inode = root.stat().st_ino
    assert ensure_default_dataset() == root
    assert root.stat().st_ino == inode
    after = {path: path.stat().st_mtime_ns for path in root.rglob("*")}
    assert after == before
    assert (root / MARKER).is_file()


def test_regeneration_is_byte_identical(default_dataset, tmp_path):
    """Generating again into a fresh folder gives byte-for-byte the same files as the default copy."""
    fresh = ensure_default_dataset(tmp_path / "x")
    assert fresh == tmp_path / "x"
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "x"], "the staging folder was left behind"
    expected = file_hashes(default_dataset.root)
    assert len(expected) > 200
    assert file_hashes(fresh) == expected


def test_callers_at_once_generate_once_and_keep_the_finished_copy(tmp_path):
    """Three processes asking at once all get the same folder: one generates, the others wait for it.

    Before, each generated its own and swapped it in, so the copy a sandboxed kernel had mounted vanished.
    """
    code = "import os, sys\nfrom helpers.default_dataset import ensure_default_dataset\n"
    code += "print(os.stat(ensure_default_dataset(sys.argv[1])).st_ino)"
    callers = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "d")], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    folders = {caller.communicate()[0].strip() for caller in callers}
    assert [caller.returncode for caller in callers] == [0, 0, 0]
    assert folders == {str((tmp_path / "d").stat().st_ino)}


def test_aspect_ratios_vary(default_dataset):
    """The images are not all square: aspect ratios spread widely, so the 224x224 resize matters."""
    ratios = []
    for name in default_dataset.image_files():
        with Image.open(default_dataset.image_path(name)) as image:
            assert image.format == "JPEG"
            ratios.append(image.width / image.height)
    square = sum(abs(ratio - 1.0) < 0.02 for ratio in ratios)
    assert square < len(ratios) / 4
    assert max(ratios) - min(ratios) > 0.4
    assert max(ratios) >= 1.3
