"""environment.yml (conda) and pyproject.toml (pip) pin the same packages at the same versions."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from helpers.config import PROJECT_ROOT


def normalise(requirement: str) -> str:
    """``Name==1.2`` as ``name==1.2``: lowercase name (``_``/``.`` as ``-``), no spaces."""
    name, _, version = requirement.replace(" ", "").partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


@pytest.fixture(scope="module")
def pyproject() -> dict:
    """pyproject.toml, parsed."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)


@pytest.fixture(scope="module")
def environment() -> dict:
    """environment.yml, parsed."""
    return yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))


def pyproject_pins(pyproject: dict) -> list[str]:
    """Runtime dependencies plus every optional (dev) dependency."""
    project = pyproject["project"]
    return list(project["dependencies"]) + [
        r for group in project.get("optional-dependencies", {}).values() for r in group
    ]


def conda_entries(environment: dict) -> tuple[list[str], list[str]]:
    """(conda package specs, pip requirement strings) of environment.yml."""
    conda, pip = [], []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry.get("pip", []))
        else:
            conda.append(str(entry))
    return conda, pip


def test_pip_pins_match_pyproject(pyproject, environment):
    """The pip list in environment.yml equals pyproject's dependencies + dev extras (name==version sets)."""
    _, pip = conda_entries(environment)
    expected = {normalise(r) for r in pyproject_pins(pyproject)}
    actual = {normalise(r) for r in pip}
    assert actual == expected, (
        f"only in environment.yml: {sorted(actual - expected)}; only in pyproject.toml: {sorted(expected - actual)}"
    )
    assert len(pip) == len(actual), "environment.yml lists a package twice"


def test_pyproject_pins_are_exact(pyproject):
    """Every pyproject requirement is an exact ``name==version`` pin (the reference values depend on it)."""
    for requirement in pyproject_pins(pyproject):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+-]*", requirement.strip()), requirement


def test_conda_has_java_17_and_python_311(environment, pyproject):
    """environment.yml brings openjdk 17 and Python 3.11, the Python pyproject requires."""
    conda, _ = conda_entries(environment)
    specs = {re.split(r"[=<>]", spec, maxsplit=1)[0].strip(): spec.replace(" ", "") for spec in conda}
    assert re.fullmatch(r"openjdk=+17(\.[\d.*]*)?", specs.get("openjdk", "")), specs
    assert re.fullmatch(r"python=+3\.11(\.[\d.*]*)?", specs.get("python", "")), specs
    assert "pip" in specs
    assert "3.11" in pyproject["project"]["requires-python"]


def test_the_course_admits_the_pythons_the_handout_does(pyproject):
    """Instructors and students use the same Pythons: pyproject's requires-python is the hand-out's."""
    from grading.handout import PYTHONS

    assert pyproject["project"]["requires-python"] == PYTHONS


def test_the_readme_counts_the_catalogued_mistakes_right():
    """The README's numbers of plausible mistakes and of right answers written otherwise are the ones
    grading/mistakes.py grades.
    """
    from grading.mistakes import ALTERNATIVES, MISTAKES

    readme = " ".join((PROJECT_ROOT / "README.md").read_text().split())
    assert f"lists {len(MISTAKES)} plausible mistakes" in readme
    assert f"carry {len(ALTERNATIVES)} right answers written otherwise" in readme
