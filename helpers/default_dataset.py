"""The embedded default dataset: a few hundred images in the Stanford Cars layout, made offline.

A fresh clone has no Stanford Cars (it cannot be downloaded here and may not be redistributed), yet
``make demo``, the notebooks and the tests must run. So the project makes its own dataset from real
photographs that ship inside scikit-image: each photo becomes a group of near-duplicates (crop,
flip, small rotation, colour jitter, JPEG re-encoding) labelled by its source photo. Near-duplicate
groups are what image-similarity search should find, so the dataset also checks the pipeline.
The output is byte-for-byte deterministic for fixed library versions.
"""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance, ImageOps, ImageStat

from helpers.config import SEED, data_dir_setting, data_root
from helpers.data import CLASS_NAMES_CSV, STANFORD_CSV, Dataset, find_dataset

#: Bump when the recipe changes, so existing copies are regenerated instead of silently reused.
GENERATOR_VERSION = "1"
VARIANTS_PER_PHOTO = 16

#: scikit-image's bundled photographs (file name, class name). Synthetic test patterns are left out.
SOURCE_PHOTOS: tuple[tuple[str, str], ...] = (
    ("astronaut.png", "astronaut"),
    ("brick.png", "brick wall"),
    ("camera.png", "cameraman"),
    ("cell.png", "cell"),
    ("chelsea.png", "cat"),
    ("clock_motion.png", "clock"),
    ("coffee.png", "coffee cup"),
    ("coins.png", "coins"),
    ("grass.png", "grass"),
    ("gravel.png", "gravel"),
    ("hubble_deep_field.jpg", "deep field"),
    ("ihc.png", "tissue stain"),
    ("microaneurysms.png", "retina detail"),
    ("moon.png", "moon"),
    ("motorcycle_left.png", "motorcycle"),
    ("page.png", "book page"),
    ("retina.jpg", "retina"),
    ("rocket.jpg", "rocket"),
    ("text.png", "text"),
)
MARKER = ".complete"
#: Mixed into the random streams of the autograder's datasets, so that no seed can give the default one.
UNSEEN_STREAM = 2**31 - 1


def default_dataset_dir() -> Path:
    """Where the embedded default dataset is written (inside the gitignored data folder)."""
    return data_root() / "embedded-cars"


def _source_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _variant(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One near-duplicate: crop, maybe flip, rotate, jitter colour, rescale to a car-photo shape."""
    width, height = photo.size
    area = rng.uniform(0.55, 1.0) * width * height
    aspect = rng.uniform(1.0, 1.7)  # Stanford Cars photos are landscape, so Q1's squash to 224x224 matters.
    crop_w = int(min(width, round(np.sqrt(area * aspect))))
    crop_h = int(min(height, round(np.sqrt(area / aspect))))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    image = photo.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    # The mean colour from the image's histogram: exactly NumPy's mean of its pixels, ten times sooner.
    fill = tuple(int(v) for v in ImageStat.Stat(image).mean)
    image = image.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR, fillcolor=fill)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(float(rng.uniform(0.8, 1.2)))
    longest = int(rng.integers(200, 481))
    scale = longest / max(image.size)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


@functools.lru_cache(maxsize=len(SOURCE_PHOTOS))
def _source_photo(file_name: str) -> tuple[Image.Image, bool]:
    """A source photo in RGB and whether it was grey, decoded once per process (a grading job draws a sample per
    submission from the same photos).
    """
    with Image.open(_source_dir() / file_name) as source:
        return source.convert("RGB"), source.mode in ("L", "1")


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _generate(dest: Path, streams: tuple[int, ...] = (SEED,), per_photo: int = VARIANTS_PER_PHOTO) -> None:
    """Write the dataset into ``dest``: ``per_photo`` variants of each photo, drawn from the random ``streams``."""
    images_dir = dest / "cars_train"
    images_dir.mkdir(parents=True)
    count = len(SOURCE_PHOTOS) * per_photo
    # Shuffle file numbers so that, as in Stanford Cars, file order says nothing about the class. The
    # default dataset is numbered 1..count; any other draw takes five-digit numbers no default name has.
    rng = np.random.default_rng(list(streams))
    numbers = rng.permutation(count) + 1 if streams == (SEED,) else rng.choice(np.arange(10000, 100000), count, False)
    rows = []
    for class_id, (file_name, _) in enumerate(SOURCE_PHOTOS, start=1):
        photo, was_gray = _source_photo(file_name)
        for variant in range(per_photo):
            rng = np.random.default_rng([*streams, class_id, variant])
            image = _variant(photo, rng)
            if was_gray and variant % 4 == 0:
                image = image.convert("L")  # Stanford Cars has some grayscale JPEGs too.
            name = f"{numbers[(class_id - 1) * per_photo + variant]:05d}.jpg"
            (images_dir / name).write_bytes(_jpeg_bytes(image, int(rng.integers(70, 96))))
            rows.append(
                {"x1": 0, "y1": 0, "x2": image.width - 1, "y2": image.height - 1, "Class": class_id, "image": name}
            )
    labels = pd.DataFrame(rows).sort_values("image").reset_index(drop=True)
    labels.to_csv(dest / STANFORD_CSV)  # keeps the unnamed index column, like the lab's CSV
    names = pd.DataFrame({"Class": range(1, len(SOURCE_PHOTOS) + 1), "name": [name for _, name in SOURCE_PHOTOS]})
    names.to_csv(dest / CLASS_NAMES_CSV, index=False)
    (dest / MARKER).write_text(GENERATOR_VERSION)


def ensure_default_dataset(dest: Path | None = None) -> Path:
    """Create the embedded dataset unless an up-to-date copy exists; return its root. Idempotent.

    Safe to call from many processes at once (test workers, grading jobs): one generates while the
    others wait for it, and an up-to-date copy is never replaced, because a sandboxed kernel may have
    it mounted (a folder swapped in under a mount would look empty from inside).
    """
    return _ensure(Path(dest) if dest is not None else default_dataset_dir())


def _ensure(dest: Path, streams: tuple[int, ...] = (SEED,), per_photo: int = VARIANTS_PER_PHOTO) -> Path:
    """:func:`_generate` into ``dest`` unless it is up to date, one process at a time; return ``dest``."""
    if _up_to_date(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(dest.parent / f".{dest.name}.lock"):
        if _up_to_date(dest):  # another process made it while this one waited
            return dest
        # Build in a sibling folder and swap it in, so an interrupted run never leaves a half dataset behind.
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        try:
            _generate(staging / "dataset", streams, per_photo)
            if dest.exists():
                dest.rename(staging / "outdated")  # removed with the staging folder
            (staging / "dataset").rename(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (POSIX; on Windows, where students run one notebook at a
    time, nothing is locked).
    """
    with lock_file.open("w") as lock:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def generate_unseen_variants(dest: Path, seed: int, per_photo: int) -> Path:
    """Fresh near-duplicates of the same photos, drawn with ``seed``, none of them an image of the default
    dataset and no name one of its names: what the autograder grades on when the lab uses this dataset.
    Idempotent and safe from many processes at once, like :func:`ensure_default_dataset`.
    """
    return _ensure(dest, (UNSEEN_STREAM, seed), per_photo)


def _up_to_date(dest: Path) -> bool:
    marker = dest / MARKER
    return marker.is_file() and marker.read_text() == GENERATOR_VERSION


def lab_dataset(root: Path | str | None = None) -> Dataset:
    """The dataset to work on: ``root`` when given, else LAB_DATA_DIR, else the embedded default dataset."""
    return find_dataset(root or data_dir_setting() or ensure_default_dataset())
