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
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat

from grading.course import ASSIGNMENT, is_test_cell, notebook_names, source_cells
from grading.golden import GOLDEN, solution_code
from helpers.config import PROJECT_ROOT

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
"""


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
requires-python = ">=3.11,<3.12"
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
  - python=3.11
  - openjdk=17
  - pip
  - pip:
{requirements}
"""


def files(release: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the hand-out, content) of every file of the hand-out."""
    yield "README.md", (Path(__file__).with_name("student_readme.md")).read_bytes()
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


def build(release: Path, out: Path) -> Path:
    """Write the hand-out zip from the release notebooks; refuses when anything forbidden would go in."""
    entries = list(files(release))
    if problems := answers_in(entries):
        raise RuntimeError("the hand-out would give answers away:\n" + "\n".join(problems[:20]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(f"{NAME}/{name}", data)
    return out
