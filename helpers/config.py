"""Every setting the project reads from the environment, in one place (the README's table lists them).

No other module reads ``os.environ`` for a setting; they call the functions here.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

#: The folder that holds this package: the course repository, or the unzipped student hand-out.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Seed for everything random in the lab: sampling, random weights, LSH, the query image.
SEED = 5

#: Default number of images the graded lab works on; grading must stay fast on a laptop.
DEFAULT_SUBSET = 64

#: The folder of real photos that a hand-out made with ``make handout DATA=`` ships beside its notebooks.
SHIPPED_DATA = "lab5_data"

#: Where the autograder's sandbox shows its own files (the sensor and its settings) to student code.
GRADER_DIR = Path("/run/lab5")


def _setting(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _installed_as_library() -> bool:
    # A plain `pip install` puts the package into site-packages, where generated data does not belong.
    return Path(sysconfig.get_paths()["purelib"]).resolve() == PROJECT_ROOT


def _home() -> Path:
    return Path.home() / ".cache" / "lab5" if _installed_as_library() else PROJECT_ROOT


def data_root() -> Path:
    """LAB_DATA_ROOT: folder for generated data (the embedded default dataset)."""
    return Path(_setting("LAB_DATA_ROOT") or _home() / "data")


def cache_dir() -> Path:
    """LAB_CACHE_DIR: folder for reference artefacts that are expensive to recompute."""
    return Path(_setting("LAB_CACHE_DIR") or _home() / ".cache")


def artifacts_dir() -> Path:
    """LAB_ARTIFACTS_DIR: folder for figures, reports and screenshots that runs produce."""
    return Path(_setting("LAB_ARTIFACTS_DIR") or _home() / "artifacts")


def shared_dir() -> Path:
    """LAB_SHARED_DIR: real data and models that the repository may not contain (default ``../shared``)."""
    return Path(_setting("LAB_SHARED_DIR") or PROJECT_ROOT.parent / "shared")


def data_dir_setting() -> Path | None:
    """LAB_DATA_DIR when set, else the photos a hand-out ships beside its notebooks (``lab5_data/``), else None."""
    value = _setting("LAB_DATA_DIR")
    if value:
        return Path(value).expanduser()
    shipped = Path.cwd() / SHIPPED_DATA
    return shipped if shipped.is_dir() else None


def weights_setting() -> str:
    """LAB_WEIGHTS: ``imagenet`` (default), ``random`` or a path to a checkpoint."""
    return _setting("LAB_WEIGHTS", "imagenet") or "imagenet"


def subset_setting() -> int | None:
    """LAB_SUBSET: how many images the lab uses (``all`` or 0 for every image)."""
    value = _setting("LAB_SUBSET", str(DEFAULT_SUBSET)).lower()
    if value in ("all", "0", ""):
        return None
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"LAB_SUBSET={value!r} is not a number; use e.g. LAB_SUBSET=64 or LAB_SUBSET=all") from None
    if size < 0:
        raise ValueError(f"LAB_SUBSET={size} is negative; use a positive number or LAB_SUBSET=all")
    return size


def grading_sample_setting() -> Path | None:
    """LAB_GRADING_SAMPLE, set by the autograder: a JSON file naming the images and the seed of the run it grades."""
    value = _setting("LAB_GRADING_SAMPLE")
    return Path(value) if value else None


def java_home_setting() -> str:
    """JAVA_HOME: the Java installation Spark starts (``spark-class`` reads it too); empty for ``java`` on the PATH."""
    return _setting("JAVA_HOME")


def spark_master() -> str:
    """SPARK_MASTER when set (e.g. spark://host:7077), else ``local[*]`` (all cores of this machine)."""
    return _setting("SPARK_MASTER") or "local[*]"


def spark_ui_enabled() -> bool:
    """LAB_SPARK_UI: ``false`` turns Spark's web UI off (the tests and the grader do)."""
    return _setting("LAB_SPARK_UI", "true").lower() in ("1", "true", "yes")


def shuffle_partitions() -> int:
    """LAB_SHUFFLE_PARTITIONS: Spark SQL shuffle partitions (default 8: the lab's tables are small)."""
    return int(_setting("LAB_SHUFFLE_PARTITIONS", "8") or 8)


#: The settings that decide which run a notebook sees; the tests' setup puts back changes to them.
RUN_SETTINGS = ("LAB_DATA_DIR", "LAB_SUBSET", "LAB_WEIGHTS", "LAB_DATA_ROOT", "LAB_CACHE_DIR", "LAB_GRADING_SAMPLE")
