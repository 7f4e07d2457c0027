"""The student hand-out: what is in it (no answers), and that it installs and runs on its own.

The slow tests unzip ``make handout``'s zip into an empty folder, install it into a fresh virtual
environment, run the four release notebooks there and press Validate in JupyterLab, with nothing of
the course repository on any path.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from grading import handout
from grading.course import ASSIGNMENT, notebook_names, source_dir
from grading.golden import GOLDEN, make_submission, solution_answers
from helpers.config import PROJECT_ROOT, SHIPPED_DATA, shared_dir

#: The student's Python (make test-handout PYTHON=...); by default the course's own.
STUDENT_PYTHON = os.environ.get("LAB_HANDOUT_PYTHON") or sys.executable
#: Real photos for the hand-out where the shared data sits beside the checkout; else the embedded dataset.
MINI = shared_dir() / "data" / "stanford-cars-mini"
DATA = MINI if MINI.is_dir() else None
NO_DATA = (
    "../shared/data/stanford-cars-mini not found: the hand-out with real photos is tested where it sits beside "
    "the checkout"
)


@pytest.fixture(scope="module")
def handout_zip(tmp_path_factory) -> Path:
    """The hand-out, built from the committed release, with the student's sample of real photos when there are some."""
    out = tmp_path_factory.mktemp("dist") / "lab5-handout.zip"
    return handout.build(PROJECT_ROOT / "release" / ASSIGNMENT, out, DATA)


def _entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist() if not name.endswith("/")]


def test_the_handout_holds_what_a_student_needs(handout_zip):
    """README, install files, the helpers package and the four release notebooks; nothing of the instructor's."""
    names = {name.split("/", 1)[1] for name, _ in _entries(handout_zip)}
    assert {"README.md", "pyproject.toml", "requirements.txt", "environment.yml"} <= names
    assert {f"{ASSIGNMENT}/{name}" for name in notebook_names()} <= names
    assert {"helpers/lab.py", "helpers/questions/q07_lsh_model.py", "helpers/reference/spark_lsh.py"} <= names
    assert not [name for name in names if name.startswith(("grading/", "source/", "tests/", ".git"))]
    readme = dict(_entries(handout_zip))["lab5-handout/README.md"].decode()
    assert "pip install ." in readme.split("\n\n")[1] and "jupyter lab" in readme.split("\n\n")[1]


def test_the_handout_carries_exactly_the_students_photos(handout_zip):
    """With DATA=, the hand-out carries the student's sample of the dataset (full size, label rows) and nothing else."""
    if DATA is None:
        pytest.skip(NO_DATA)
    _, labels = handout.student_sample(DATA)
    entries = dict(_entries(handout_zip))
    shipped = f"{handout.NAME}/{ASSIGNMENT}/{SHIPPED_DATA}"
    photos = {name.rsplit("/", 1)[-1] for name in entries if name.startswith(f"{shipped}/cars_train/")}
    assert photos == set(labels["image"]) and len(photos) == 64
    name = sorted(photos)[0]
    assert entries[f"{shipped}/cars_train/{name}"] == (DATA / "cars_train" / name).read_bytes()
    rows = entries[f"{shipped}/cardatasettrain.csv"].decode().splitlines()
    assert len(rows) == 65 and all(any(photo in row for photo in photos) for row in rows[1:])
    readme = entries[f"{handout.NAME}/README.md"].decode()
    assert "carries 64 real photos" in readme and "MB" in readme


def test_without_data_the_handout_ships_no_photos(tmp_path):
    """Without DATA, the hand-out lets dataset be made on the student's machine, as before."""
    zip_path = handout.build(PROJECT_ROOT / "release" / ASSIGNMENT, tmp_path / "plain.zip")
    names = [name for name, _ in _entries(zip_path)]
    assert not [name for name in names if f"/{SHIPPED_DATA}/" in name] and len(names) < 60
    assert "carries no photos" in dict(_entries(zip_path))[f"{handout.NAME}/README.md"].decode()


def test_the_handout_installs_on_python_3_11_to_3_13(handout_zip):
    """requires-python admits 3.11, 3.12 and 3.13, and pip refuses 3.10 and 3.14 with its own clear message."""
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads(dict(_entries(handout_zip))[f"{handout.NAME}/pyproject.toml"].decode())["project"]
    supported = SpecifierSet(project["requires-python"])
    assert [version in supported for version in ("3.10.14", "3.11.7", "3.12.1", "3.13.0", "3.14.0")] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_validate_gives_a_laptop_time_to_embed(handout_zip, tmp_path):
    """The hand-out's nbgrader_config.py lifts nbgrader's 30 s cell limit, which Q3's embedding could exceed."""
    from traitlets.config.loader import PyFileConfigLoader

    (tmp_path / "nbgrader_config.py").write_bytes(dict(_entries(handout_zip))["lab5-handout/nbgrader_config.py"])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert config.Execute.timeout >= 600 and config.Execute.startup_timeout >= 300


def test_no_answers_in_the_handout(handout_zip):
    """No solution, hidden test, crafted answer, gradebook or instructor file anywhere in the zip."""
    assert handout.answers_in(_entries(handout_zip)) == []


def test_the_scan_finds_answers_wherever_they_hide(tmp_path):
    """The scan is not blind: a source notebook, a golden submission, grading code, a gradebook, a wheel: all found."""
    hidden = "from grading.hidden import grade"
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/tests.py", f"x = 1\n{hidden}\n")
    database = tmp_path / "any.db"
    sqlite3.connect(database).execute("create table t (x)").connection.commit()
    wrong = make_submission(PROJECT_ROOT / "release" / ASSIGNMENT, GOLDEN["wrong_answers"])
    found = handout.answers_in(
        [
            ("lab5/1_data_and_transforms.ipynb", (source_dir() / "1_data_and_transforms.ipynb").read_bytes()),
            ("lab5/submitted.ipynb", nbformat.writes(wrong["1_data_and_transforms.ipynb"]).encode()),
            ("grading/golden.py", (PROJECT_ROOT / "grading" / "golden.py").read_bytes()),
            ("lab5/any.db", database.read_bytes()),
            ("dist/pkg-1.0-py3-none-any.whl", wheel.getvalue()),
        ]
    )
    assert any("1_data_and_transforms.ipynb" in line and "solution" in line for line in found)
    assert any("submitted.ipynb" in line and "wrong_answers" in line for line in found)
    assert any("grading/golden.py: instructor files" in line for line in found)
    assert any("any.db: a gradebook" in line for line in found)
    assert any(".whl!pkg/tests.py" in line and "hidden test line" in line for line in found)


def test_the_handout_is_pinned_like_the_course(handout_zip):
    """Its requirements are the course's runtime pins plus JupyterLab and nbgrader, at the same versions."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as stream:
        course = tomllib.load(stream)["project"]
    with zipfile.ZipFile(handout_zip) as archive:
        student = tomllib.loads(archive.read("lab5-handout/pyproject.toml").decode())["project"]["dependencies"]
        requirements = archive.read("lab5-handout/requirements.txt").decode().split()
    tools = [pin for pin in course["optional-dependencies"]["dev"] if pin.split("==")[0] in ("jupyterlab", "nbgrader")]
    assert student == requirements == [*course["dependencies"], *tools] and len(tools) == 2


# ---------------------------------------------------------------- installed alone

RUN_NOTEBOOKS = """
import json, sys, nbformat
from nbclient import NotebookClient
report = {}
for name in sys.argv[1:]:
    notebook = nbformat.read(name, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", allow_errors=True).execute()
    nbformat.write(notebook, name)
    report[name] = [{"id": cell.metadata.get("nbgrader", {}).get("grade_id"),
                     "errors": [o.ename for o in cell.outputs if o.output_type == "error"],
                     "text": "".join(o.get("text", "") for o in cell.outputs)} for cell in notebook.cells
                    if cell.cell_type == "code"]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def installed(handout_zip, tmp_path_factory):
    """The hand-out unzipped into an empty folder and installed into a fresh virtual environment."""
    root = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(handout_zip) as archive:
        archive.extractall(root)
    folder = root / handout.NAME
    subprocess.run([STUDENT_PYTHON, "-m", "venv", str(folder / ".venv")], check=True)
    python = folder / ".venv" / "bin" / "python"
    result = subprocess.run(
        # --no-compile: byte-compiling every module up front is 24 s of the 83 s install on an idle
        # machine (more on a loaded one); the student's Python compiles what it imports on first use.
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The student's machine: no course repository on any path, a home of its own, offline weights.
    environment = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "LAB_WEIGHTS": "random",
        "LAB_SPARK_UI": "false",
        "LANG": "C.UTF-8",
    }
    return folder, python, environment


@pytest.mark.slow
def test_release_notebooks_run_in_the_installed_handout(installed):
    """The blank notebooks fail only at their answers (and the tests of those), and the reference fallbacks work."""
    folder, python, environment = installed
    result = subprocess.run(
        [str(python), "-c", RUN_NOTEBOOKS, *notebook_names()],
        cwd=folder / ASSIGNMENT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    for name, cells in report.items():
        for cell in cells:
            if cell["errors"]:
                assert cell["id"] and cell["id"].startswith("q"), (name, cell)
                if cell["id"].endswith("_answer"):
                    assert cell["errors"] == ["NotImplementedError"], (name, cell)
    printed = {name: "\n".join(cell["text"] for cell in cells) for name, cells in report.items()}
    assert "your Q1 output is not usable" in printed["2_embeddings.ipynb"]
    for name in ("3_spark_lsh.ipynb", "4_nearest_neighbors.ipynb"):
        assert "your Q4 output is not usable" in printed[name] and "reference copy" in printed[name]
    assert str(PROJECT_ROOT) not in "".join(printed.values())
    if DATA is not None:  # the shipped photos, found beside the notebooks without any setting
        assert f"{SHIPPED_DATA} (64 of 64 images" in printed["1_data_and_transforms.ipynb"]
    site = subprocess.run(
        [str(python), "-c", "import helpers; print(helpers.__file__)"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=folder.parent,
        check=True,
    ).stdout
    assert site.startswith(str(folder / ".venv")), site


@pytest.mark.slow
def test_validate_in_jupyterlab_fails_the_blank_notebook_and_passes_the_answer(installed, chromium, servers, tmp_path):
    """Validate, pressed in the installed JupyterLab: Q1 fails when blank and passes once the answer is pasted in."""
    folder, python, environment = installed
    port, token = servers.free_port(), "handout-test"
    notebook = folder / ASSIGNMENT / "1_data_and_transforms.ipynb"
    log = (tmp_path / "jupyter.log").open("w")
    server = subprocess.Popen(
        [
            str(python.parent / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
        ],
        env=environment,
        cwd=folder,  # where the student README starts JupyterLab: Validate reads its nbgrader_config.py there
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_for_http(f"{url}/api/status?token={token}", server)
        page = chromium.new_page()

        def validate() -> str:
            page.goto(f"{url}/lab/tree/{ASSIGNMENT}/{notebook.name}?token={token}")
            page.get_by_role("button", name="Validate").first.click()
            dialog = page.locator(".jp-Dialog-content")
            dialog.get_by_role("button").first.wait_for()
            text = dialog.inner_text()
            page.screenshot(path=str(tmp_path / f"validate-{len(list(tmp_path.glob('*.png')))}.png"))
            return text

        blank = validate()
        assert "NotImplementedError" in blank or "failed" in blank.lower(), blank
        solved = nbformat.read(notebook, as_version=4)
        for cell in solved.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer":
                cell.source = solution_answers()["q1_answer"]
        nbformat.write(solved, notebook)
        answered = validate()
        assert "Success" in answered and "NotImplementedError" not in answered, answered
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(
    "LAB_HANDOUT_PYTHON" not in os.environ,
    reason="run by make test-handout PYTHON=...: the course's own Python is the grader's, whose golden grades "
    "tests/grading/test_class.py checks",
)
def test_the_golden_solution_run_in_the_handout_gets_full_marks(installed, tmp_path, monkeypatch):
    """The solution, run by a student on this Python in the hand-out, then graded by the course: every point."""
    from grading import course, roundtrip
    from grading.autograde import grade_class

    folder, python, environment = installed
    solved = folder / "solved"
    shutil.copytree(folder / ASSIGNMENT, solved, ignore=shutil.ignore_patterns("lab5_work"))
    answers = solution_answers()
    for name in notebook_names():
        notebook = nbformat.read(solved / name, as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
                cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
        nbformat.write(notebook, solved / name)
    ran = subprocess.run(
        [str(python), "-c", RUN_NOTEBOOKS, *notebook_names()],
        cwd=solved,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads(ran.stdout.splitlines()[-1])
    assert not [(name, cell["id"]) for name, cells in report.items() for cell in cells if cell["errors"]]
    if DATA is not None:
        monkeypatch.setenv("LAB_DATA_DIR", str(DATA))  # the instructor's whole dataset: the grader's unseen images
    monkeypatch.setenv("LAB_WEIGHTS", "random")
    course_dir = course.prepare_course(tmp_path / "course")
    course.generate_release(course_dir)
    course.submit(
        course_dir, "student", {name: nbformat.read(solved / name, as_version=4) for name in notebook_names()}
    )
    run = grade_class(course_dir, ["student"], jobs=1, options=roundtrip.QUICK_CPU_LIMIT, progress=False)
    assert not run.failures and not run.on_own_images, run.summary()
    scores = course.read_scores(course_dir)
    assert scores.score.sum() == scores.max_score.sum() == 20, scores
