"""``make handout``: ``dist/lab5-handout.zip``, everything a student needs and nothing else.

The hand-out holds the release notebooks, the ``helpers`` package they import (installed with pip,
pinned exactly like the course), a conda ``environment.yml``, a ``requirements.txt`` and a short
student README. No source notebook, hidden test, grading code, golden or wrong submission or
gradebook goes in, and :func:`answers_in` checks that before the zip is written (the tests check
the finished zip again, including any wheel or sdist inside it).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pandas as pd

from grading.course import ASSIGNMENT, is_test_cell, notebook_names, source_cells
from grading.golden import GOLDEN, solution_code
from helpers.config import PROJECT_ROOT, SEED, SHIPPED_DATA, subset_setting
from helpers.data import CLASS_NAMES_CSV, IMAGE_COLUMN, STANFORD_CSV, Dataset, find_dataset, stratified_sample

NAME = "lab5-handout"
#: From the course's dev tools, what a student needs: JupyterLab, and nbgrader for the Validate button.
STUDENT_TOOLS = ("jupyterlab", "nbgrader")
#: nbgrader's instructor tools (formgrader, course list, create assignment) stay hidden in the students' JupyterLab.
PAGE_CONFIG = """{
  "disabledExtensions": {
    "@jupyter/nbgrader:formgrader": true,
    "@jupyter/nbgrader:course-list": true,
    "@jupyter/nbgrader:create-assignment": true
  }
}
"""

#: Read by Validate from the folder JupyterLab starts in. nbgrader stops a cell after 30 s of wall-clock
#: time by default: embedding every image (Q3) on a student's laptop may take longer than that.
VALIDATE_CONFIG = """c = get_config()
c.Execute.timeout = 900
c.Execute.startup_timeout = 300
# What the notebooks write, and the photos the hand-out ships, are not part of what you submit.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "lab5_work", "lab5_data"]
"""
#: The Pythons the hand-out installs on: every pinned package has wheels for each of them.
PYTHONS = ">=3.11,<3.14"


def pins() -> list[str]:
    """The hand-out's requirements: the course's runtime pins plus JupyterLab and nbgrader, same versions."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as stream:
        project = tomllib.load(stream)["project"]
    tools = [pin for pin in project["optional-dependencies"]["dev"] if pin.split("==")[0] in STUDENT_TOOLS]
    return [*project["dependencies"], *tools]


def _pyproject() -> str:
    requirements = "\n".join(f'    "{pin}",' for pin in pins())
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "lab5-helpers"
version = "1.0.0"
description = "Lab 5, Deep Learning with Spark: what the lab's notebooks import"
requires-python = "{PYTHONS}"
dependencies = [
{requirements}
]

[tool.setuptools.packages.find]
include = ["helpers*"]

[tool.setuptools.package-data]
helpers = ["*.properties"]

[tool.setuptools.data-files]
"etc/jupyter/labconfig" = ["jupyter/page_config.json"]
"""


def _environment() -> str:
    requirements = "\n".join(f"      - {pin}" for pin in pins())
    return f"""# conda env create -f environment.yml && conda activate lab5 && pip install --no-deps .
name: lab5
channels:
  - conda-forge
dependencies:
  - python>=3.11,<3.14
  - openjdk=17
  - pip
  - pip:
{requirements}
"""


def student_sample(data: Path) -> tuple[Dataset, pd.DataFrame]:
    """The dataset in ``data`` and the images of it a student's lab uses: ``LAB_SUBSET`` of them, with the lab's seed.

    It is all a hand-out ships of a real dataset; the grader draws its unseen samples from the rest.
    """
    dataset = find_dataset(data)
    return dataset, stratified_sample(dataset.usable_labels(), subset_setting(), SEED)


def shipped_data(data: Path) -> Iterator[tuple[str, bytes]]:
    """The student's sample of ``data`` in the dataset's layout: full-size photos, their label rows, class names."""
    dataset, labels = student_sample(data)
    folder = f"{ASSIGNMENT}/{SHIPPED_DATA}"
    for name in labels[IMAGE_COLUMN]:
        yield f"{folder}/cars_train/{name}", dataset.image_path(name).read_bytes()
    rows = pd.read_csv(dataset.labels_csv, encoding="utf-8-sig", dtype={dataset.image_column: str})
    rows = rows[rows[dataset.image_column].astype(str).str.strip().isin(set(labels[IMAGE_COLUMN]))]
    yield f"{folder}/{STANFORD_CSV}", rows.to_csv(index=False).encode()
    if dataset.class_names_csv:
        yield f"{folder}/{CLASS_NAMES_CSV}", dataset.class_names_csv.read_bytes()


def _readme(data: list[tuple[str, bytes]]) -> bytes:
    if data:
        photos = [name for name, _ in data if "/cars_train/" in name]
        megabytes = sum(len(content) for _, content in data) / 2**20
        carried = (
            f"This hand-out carries {len(photos)} real photos of the course's dataset ({megabytes:.1f} MB, in "
            f"`{ASSIGNMENT}/{SHIPPED_DATA}/`): your own sample, which the notebooks use without any setting."
        )
    else:
        carried = (
            "This hand-out carries no photos: on first use the notebooks make a small dataset of their own "
            "from photographs that ship with scikit-image (no download, about 5 MB)."
        )
    text = Path(__file__).with_name("student_readme.md").read_text()
    return text.replace("{DATA}", carried).replace("{LAPTOP}", laptop_figures()).encode()


def laptop_figures() -> str:
    """What a student's whole run costs, from the last measurement (``python -m bench.laptop``)."""
    path = PROJECT_ROOT / "bench" / "results" / "laptop.json"
    if not path.is_file():
        return "Not measured yet: run `python -m bench.laptop` in the course repository."
    run = json.loads(path.read_text())
    return (
        f"Measured on {run['machine']} ({run['date']}): the four notebooks with finished answers on "
        f"{run['images']} images took {run['wall_seconds'] / 60:.1f} minutes ({run['cpu_seconds']:.0f} s of CPU "
        f"time), at most {run['peak_memory_mb'] / 1024:.1f} GB of memory for the notebook and Spark together, and "
        f"{run['work_disk_mb']:.0f} MB of disk in `lab5_work/`. A laptop with 8 GB of memory and 2 cores runs the "
        "lab beside a browser; the installation needs about 7 GB of disk."
    )


def files(release: Path, data: Path | None = None) -> Iterator[tuple[str, bytes]]:
    """(path inside the hand-out, content) of every file of the hand-out (``data``: the real photos to ship)."""
    shipped = list(shipped_data(data)) if data else []
    yield "README.md", _readme(shipped)
    yield from shipped
    yield "pyproject.toml", _pyproject().encode()
    yield "requirements.txt", ("\n".join(pins()) + "\n").encode()
    yield "environment.yml", _environment().encode()
    yield "jupyter/page_config.json", PAGE_CONFIG.encode()
    yield "nbgrader_config.py", VALIDATE_CONFIG.encode()
    for path in sorted((PROJECT_ROOT / "helpers").rglob("*")):
        if path.suffix in (".py", ".properties") and "__pycache__" not in path.parts:
            yield path.relative_to(PROJECT_ROOT).as_posix(), path.read_bytes()
    for name in notebook_names():
        yield f"{ASSIGNMENT}/{name}", (release / name).read_bytes()


# ---------------------------------------------------------------- what must never be in it


def _meaningful(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if len(line.strip()) >= 8 and not line.strip().startswith("#")]


def forbidden_blocks() -> dict[str, list[str]]:
    """Code that only the instructor may have: each solution, each hidden test and each crafted answer."""
    blocks: dict[str, list[str]] = {}
    for name, cells in source_cells().items():
        for index, cell in enumerate(cells):
            if "### BEGIN SOLUTION" in cell.source:
                solution = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                blocks[f"solution in {name} cell {index}"] = _meaningful(solution_code(solution).splitlines())
            if is_test_cell(cell) and "### BEGIN HIDDEN TESTS" in cell.source:
                hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
                for line in _meaningful(hidden.splitlines()):
                    blocks[f"hidden test line {line!r}"] = [line]
    for student, crafted in GOLDEN.items():
        for grade, code in crafted.answers.items():
            blocks[f"the {student} submission's {grade}"] = _meaningful(code.splitlines())
    return {label: lines for label, lines in blocks.items() if lines}


def _expand(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """A file, and the files inside it when it is a zip, wheel or sdist."""
    yield name, data
    if name.endswith((".zip", ".whl")):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _expand(f"{name}!{member}", archive.read(member))
    elif name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    yield from _expand(f"{name}!{member.name}", archive.extractfile(member).read())


def answers_in(entries: list[tuple[str, bytes]]) -> list[str]:
    """Everything a hand-out must not contain, found in these files (an empty list: clean)."""
    blocks = forbidden_blocks()
    found = []
    for name, data in (item for entry in entries for item in _expand(*entry)):
        if data.startswith(b"SQLite format 3") or name.endswith("gradebook.db"):
            found.append(f"{name}: a gradebook")
        if re.search(r"(^|/)(grading|source|submitted|autograded|\.git)(/|$)", name):
            found.append(f"{name}: instructor files")
        text = data.decode("utf-8", errors="ignore")
        if name.endswith(".ipynb"):
            with contextlib.suppress(ValueError):  # a notebook's code, not its JSON, is what is compared
                text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        if "BEGIN HIDDEN TESTS" in text or "BEGIN SOLUTION" in text:
            found.append(f"{name}: nbgrader solution or hidden-test markers")
        present = {line.strip() for line in text.splitlines()}
        found += [f"{name}: {label}" for label, lines in blocks.items() if all(line in present for line in lines)]
    return found


def build(release: Path, out: Path, data: Path | None = None) -> Path:
    """Write the hand-out zip from the release notebooks (with the student's sample of ``data``); refuses when
    anything forbidden would go in.
    """
    entries = list(files(release, data))
    if problems := answers_in(entries):
        raise RuntimeError("the hand-out would give answers away:\n" + "\n".join(problems[:20]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(f"{NAME}/{name}", data)
    return out
