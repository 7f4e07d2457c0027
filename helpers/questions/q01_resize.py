"""Q1 · every image of the run resized to a 224x224 RGB JPEG under its own name in ``LAB.resized_dir``.

The answer is the files, so the test collects nothing from the notebook. :func:`resized_problems` is
also what decides whether the embeddings notebook continues from the student's images.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from helpers import cache
from helpers.images import IMAGE_SIZE, load_rgb
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q1_resize_224_jpeg"
#: Mean absolute pixel difference (0-255) to the reference resize that still counts as the same
#: picture: other interpolations stay far below it, a crop or a kept aspect ratio lands far above.
RESIZE_TOLERANCE = 6.0


def collect(lab: LabSetup) -> Evidence:
    """Nothing: the answer is the files in ``LAB.resized_dir``."""
    return {}


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """The files exist; the first one is 224x224, a JPEG and RGB."""
    folder = lab.resized_dir
    missing = [name for name in lab.image_names if not (folder / name).is_file()]
    if missing:
        return Diagnosis(
            "images missing",
            f"{len(missing)} of {len(lab.image_names)} images are missing from {lab.shown(folder)}, e.g. "
            f"{missing[:3]}: save each resized image there under its original file name",
        )
    name = lab.image_names[0]
    with Image.open(folder / name) as image:
        if image.size != (IMAGE_SIZE, IMAGE_SIZE):
            return Diagnosis(
                "aspect ratio kept",
                f"{name} is {image.size[0]}x{image.size[1]}: T.Resize(224) keeps the aspect ratio, "
                "T.Resize((224, 224)) does not",
            )
        if image.format != "JPEG":
            return Diagnosis("not saved as JPEG", f"{name} was saved as {image.format}; save with format='JPEG'")
        if image.mode != "RGB":
            return Diagnosis(
                "not RGB", f"{name} has mode {image.mode}, expected RGB: convert each image to 'RGB' first"
            )
    return None


def resized_problems(folder: Path, lab: LabSetup) -> list[Diagnosis]:
    """Everything that makes ``folder`` not a valid Q1 output, one Diagnosis per image (empty when valid)."""
    from helpers.reference.resize import resized_dir

    folder = Path(folder)
    # The files' digest keys the cache: the grader asks this of one folder up to six times per submission (the
    # Q1 check, then each notebook's reference files), and decoding 128 images each time cost half a second.
    digest = cache.files_key(folder / name for name in lab.image_names)
    return list(_problems(folder, resized_dir(lab), tuple(lab.image_names), lab.shown(folder), digest))


@functools.lru_cache(maxsize=8)
def _problems(folder: Path, reference: Path, names: tuple[str, ...], shown: str, digest: str) -> tuple[Diagnosis, ...]:
    """:func:`resized_problems` of the files whose bytes ``digest`` stands for (``shown``: the folder's name)."""
    problems = []
    for name in names:
        path = folder / name
        if not path.is_file():
            problems.append(Diagnosis("images missing", f"{name}: missing in {shown}"))
            continue
        try:
            with Image.open(path) as image:
                image.load()
                kind, mode, size = image.format, image.mode, image.size
                pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        except Exception as error:  # any unreadable file is a problem to report, not a crash
            problems.append(Diagnosis("unreadable image", f"{name}: cannot be opened ({error.__class__.__name__})"))
            continue
        if kind != "JPEG":
            problems.append(Diagnosis("not saved as JPEG", f"{name}: saved as {kind}, not JPEG"))
        elif mode != "RGB":
            problems.append(Diagnosis("not RGB", f"{name}: mode {mode}, expected RGB"))
        elif size != (IMAGE_SIZE, IMAGE_SIZE):
            problems.append(
                Diagnosis(
                    "aspect ratio kept",
                    f"{name}: size {size[0]}x{size[1]}, expected {IMAGE_SIZE}x{IMAGE_SIZE} (T.Resize(224) keeps the "
                    "aspect ratio, T.Resize((224, 224)) does not)",
                )
            )
        else:
            difference = float(np.abs(pixels - np.asarray(load_rgb(reference / name), dtype=np.float32)).mean())
            if difference > RESIZE_TOLERANCE:
                problems.append(
                    Diagnosis(
                        "content differs from a plain resize",
                        f"{name}: content differs from a plain resize of the original "
                        f"(mean pixel difference {difference:.1f}); was it cropped, padded or flipped?",
                    )
                )
    return tuple(problems)
