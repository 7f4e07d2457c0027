"""Q1's hidden check: every image is a plain 224x224 resize of its original; a crop, mirror or flip is named."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps
from torchvision import transforms as T

from grading.references import References
from helpers.images import IMAGE_SIZE, load_rgb
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.questions.q01_resize import RESIZE_TOLERANCE, resized_problems

GRADE_ID = "q1_resize_224_jpeg"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/resize.py:resize_transform",
    "reference/resize.py:resize_folder",
)
PROVIDES = "resized"
#: Q1's typical mistakes made from the original photo, to recognise them in the student's JPEGs.
RESIZE_MISTAKES = (
    (
        "cropped instead of resized",
        "cropped: T.Resize(224) then T.CenterCrop(224) cuts off the front or back of the car. Resize to exactly "
        "224x224 with T.Resize((224, 224)) instead",
        T.Compose([T.Resize(IMAGE_SIZE), T.CenterCrop(IMAGE_SIZE)]),
    ),
    (
        "mirrored",
        "mirrored (flipped left to right): save the resized image as it is",
        T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), ImageOps.mirror]),
    ),
    (
        "upside down",
        "upside down: save the resized image as it is",
        T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), ImageOps.flip]),
    ),
)


def _pixel_difference(path, expected: Image.Image) -> float:
    with Image.open(path) as image:
        return float(np.abs(np.asarray(image.convert("RGB"), np.float32) - np.asarray(expected, np.float32)).mean())


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """Every image is a 224x224 RGB JPEG that matches a plain resize of its original."""
    problems = resized_problems(lab.resized_dir, lab)
    differing = [problem.message.split(":")[0] for problem in problems if problem.name.startswith("content")]
    if differing:
        original = load_rgb(lab.image_dir / differing[0])
        for name, message, make in RESIZE_MISTAKES:
            if _pixel_difference(lab.resized_dir / differing[0], make(original)) <= RESIZE_TOLERANCE:
                return Diagnosis(
                    name, f"{len(differing)} of {len(lab.image_names)} images (e.g. {differing[0]}) are {message}."
                )
    if problems:
        more = f" ({len(problems)} problems in all)" if len(problems) > 1 else ""
        return Diagnosis(problems[0].name, f"{problems[0].message}{more}")
    return None
