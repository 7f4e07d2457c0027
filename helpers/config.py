"""Where things live and the settings read from the environment (one place for every LAB_* variable)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Seed for everything random in the lab: sampling, random weights, LSH, the query image.
SEED = 5

#: Default number of images the graded lab works on; grading must stay fast on a laptop.
DEFAULT_SUBSET = 64


def data_root() -> Path:
    """Gitignored folder for generated data (the embedded default dataset)."""
    return Path(os.environ.get("LAB_DATA_ROOT", PROJECT_ROOT / "data"))


def cache_dir() -> Path:
    """Gitignored folder for reference artefacts that are expensive to recompute."""
    return Path(os.environ.get("LAB_CACHE_DIR", PROJECT_ROOT / ".cache"))


def artifacts_dir() -> Path:
    """Gitignored folder for figures, reports and screenshots that runs produce."""
    return Path(os.environ.get("LAB_ARTIFACTS_DIR", PROJECT_ROOT / "artifacts"))


def data_dir_setting() -> Path | None:
    """LAB_DATA_DIR when set: a Stanford-Cars-style directory chosen by the user."""
    value = os.environ.get("LAB_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def weights_setting() -> str:
    """LAB_WEIGHTS: ``imagenet`` (default), ``random`` or a path to a checkpoint."""
    return os.environ.get("LAB_WEIGHTS", "imagenet").strip() or "imagenet"


def subset_setting() -> int | None:
    """LAB_SUBSET: how many images the lab uses (``all`` or 0 for every image)."""
    value = os.environ.get("LAB_SUBSET", str(DEFAULT_SUBSET)).strip().lower()
    if value in ("all", "0", ""):
        return None
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"LAB_SUBSET={value!r} is not a number; use e.g. LAB_SUBSET=64 or LAB_SUBSET=all") from None
    if size < 0:
        raise ValueError(f"LAB_SUBSET={size} is negative; use a positive number or LAB_SUBSET=all")
    return size
