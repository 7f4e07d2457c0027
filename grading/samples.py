"""The images each student is graded on: a sample they never had, drawn with a seed kept with their grade.

Answers run under the autograder on other images than the student's copy of the lab holds, so an
answer pasted as data (vectors, names, a table computed at home) fails, while an answer that computes
from what the Setup cells define passes as before.

* **The embedded dataset:** fresh variants of its photographs, generated with the seed
  (:func:`helpers.default_dataset.generate_unseen_variants`): no image and no name is one the
  hand-out can produce.
* **A real dataset** (``LAB_DATA_DIR``): images from outside the student's own sample, the one
  ``LAB_SUBSET`` picks with the lab's seed, which is all the hand-out ships (``make handout DATA=``).
  The sample has ``LAB_SUBSET`` images, fewer when the dataset has fewer left over.
* **No unseen sample** exists when fewer than 10 images are left over (``LAB_SUBSET=all``, say): the
  notebooks then run on the student's own images, and autograde says so.

Each submission keeps its seed (``grading_samples.json`` in the course folder, with a fingerprint of the
submitted notebooks), so a regrade runs on the same images; a changed submission gets a new seed, so
nothing its feedback showed helps it. ``--sample-pool N`` draws N seeds for a whole run instead,
students spread across them: the reference values are then computed N times, not once per student.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from pathlib import Path

from grading.course import ASSIGNMENT
from helpers.config import SEED, data_dir_setting, subset_setting
from helpers.data import IMAGE_COLUMN, stratified_sample
from helpers.default_dataset import SOURCE_PHOTOS, VARIANTS_PER_PHOTO, generate_unseen_variants, lab_dataset
from helpers.store import atomic_write

SEEDS_FILE = "grading_samples.json"
#: The fewest unseen images worth grading on (Q11 and Q12 look at each query's 5-10 nearest neighbours).
MIN_UNSEEN = 10


@dataclass(frozen=True)
class GradingSample:
    """The images one submission is graded on: the dataset they are in, their names and the run's seed."""

    seed: int
    data_dir: Path
    images: list[str]
    unseen: bool  # False: the dataset holds no images the student never had

    def write(self, path: Path) -> Path:
        """The sample file the notebooks read (``LAB_GRADING_SAMPLE``)."""
        return atomic_write(
            path, lambda target: target.write_text(json.dumps({"seed": self.seed, "images": self.images}))
        )

    def describe(self) -> dict:
        """What the submission's record keeps of it."""
        return {"seed": self.seed, "images": len(self.images), "unseen": self.unseen, "data": self.data_dir.name}


def new_seed() -> int:
    """A seed known only to this grading run (never the lab's own)."""
    while (seed := secrets.randbelow(2**31 - 1) + 1) == SEED:
        continue
    return seed


def read_seeds(course: Path) -> dict[str, dict]:
    """Every submission's grading seed so far, by student: ``{"seed": n, "submission": fingerprint}``."""
    path = course / SEEDS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def fingerprint(course: Path, student: str) -> str:
    """A digest of the student's submitted notebooks: it changes when they submit again."""
    digest = hashlib.sha256()
    for path in sorted((course / "submitted" / student / ASSIGNMENT).glob("*.ipynb")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def assign_seeds(course: Path, students: list[str], pool: int | None = None) -> dict[str, int]:
    """The seed of each submission: kept for one graded before, else new (one of ``pool`` seeds drawn for this run)."""
    seeds = read_seeds(course)
    drawn = [new_seed() for _ in range(pool or 0)]
    for student in students:
        submission = fingerprint(course, student)
        if seeds.get(student, {}).get("submission") != submission:
            spread = int(hashlib.sha256(student.encode()).hexdigest(), 16)
            seeds[student] = {"seed": drawn[spread % len(drawn)] if drawn else new_seed(), "submission": submission}
    atomic_write(course / SEEDS_FILE, lambda target: target.write_text(json.dumps(seeds, indent=1, sort_keys=True)))
    return {student: int(seeds[student]["seed"]) for student in students}


def sample_for(seed: int, scratch: Path) -> GradingSample:
    """The images of the seed's run: generated into ``scratch`` for the embedded dataset (once, for every
    submission of the run on that seed), else from the dataset.
    """
    subset = subset_setting()
    if data_dir_setting() is None:
        per_photo = VARIANTS_PER_PHOTO if subset is None else math.ceil(subset / len(SOURCE_PHOTOS)) + 1
        root = generate_unseen_variants(scratch / f"unseen-{seed}-{per_photo}", seed, per_photo)
        labels = lab_dataset(root).usable_labels()
        return GradingSample(seed, root, stratified_sample(labels, subset, seed)[IMAGE_COLUMN].tolist(), True)
    dataset = lab_dataset()
    labels = dataset.usable_labels()
    own = stratified_sample(labels, subset, SEED)
    pool = labels[~labels[IMAGE_COLUMN].isin(own[IMAGE_COLUMN])]
    size = len(pool) if subset is None else min(subset, len(pool))
    if subset is None or size < MIN_UNSEEN:
        return GradingSample(seed, dataset.root, own[IMAGE_COLUMN].tolist(), False)
    return GradingSample(seed, dataset.root, stratified_sample(pool, size, seed)[IMAGE_COLUMN].tolist(), True)
