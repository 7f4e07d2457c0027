"""The course directory as nbgrader sees it: notebooks, cells and points, running nbgrader, reading the gradebook."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
from nbgrader.utils import is_grade, is_locked, is_solution

from helpers.config import PROJECT_ROOT

ASSIGNMENT = "lab5"
#: The kernel's folder inside a submission's autograded folder (its ``lab5_work/`` is made there).
KERNEL_FOLDER = "lab5_kernel"


def source_dir(course: Path = PROJECT_ROOT) -> Path:
    """The nbgrader source folder of the lab."""
    return course / "source" / ASSIGNMENT


def notebook_names() -> list[str]:
    """The lab's notebooks, in order."""
    return sorted(path.name for path in source_dir().glob("*.ipynb"))


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The cell's nbgrader id (``q3_answer``, ``q3_all_embeddings``, ``setup``), or None for a plain cell."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_test_cell(cell: nbformat.NotebookNode) -> bool:
    """An autograded test cell: a locked code cell with points."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_setup_cell(cell: nbformat.NotebookNode) -> bool:
    """A locked code cell without points: Setup cells and fixed parameters, re-run after a kernel restart."""
    return cell.cell_type == "code" and is_locked(cell) and not is_grade(cell) and not is_solution(cell)


def source_cells() -> dict[str, list[nbformat.NotebookNode]]:
    """The cells of every source notebook, by notebook name."""
    return {name: nbformat.read(source_dir() / name, as_version=4).cells for name in notebook_names()}


def test_points() -> dict[str, float]:
    """Points of every autograded test cell, by grade_id, read from the source notebooks."""
    return {
        grade_id(cell): float(cell.metadata.nbgrader.points)
        for cells in source_cells().values()
        for cell in cells
        if is_test_cell(cell)
    }


def question_of(grade: str) -> str:
    """``q3_all_embeddings`` -> ``Q3``."""
    return grade.split("_")[0].upper()


def question_number(name: str) -> int:
    """``q11_five_nearest_neighbors`` or ``Q11`` -> 11, for putting questions in order."""
    return int(re.match(r"[qQ](\d+)", name).group(1))


def nbgrader(course: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course`` (whose nbgrader_config.py sets the course root)."""
    # nbgrader runs `alembic` and the kernel by name: this environment's bin/ must come first on the PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = {**os.environ, "LAB_SPARK_UI": "false", "PATH": path}
    # ipykernel stops capturing output written straight to fd 2 (the JVM's) when it sees this variable,
    # which would hide from tests exactly the noise that costs students points in real grading.
    environment.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=environment, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def prepare_course(course: Path) -> Path:
    """A scratch course directory: the lab's config and source notebooks, nothing else."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    target = source_dir(course)
    target.mkdir(parents=True, exist_ok=True)
    for name in notebook_names():
        shutil.copy2(source_dir() / name, target / name)
    return course


def generate_release(course: Path) -> Path:
    """``nbgrader generate_assignment``: the student version of every notebook, in release/."""
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course / "release" / ASSIGNMENT


def submit(course: Path, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    """Place a submission where ``nbgrader autograde`` looks for it."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    return folder


def submission_problems(course: Path) -> list[str]:
    """Notebooks missing from submissions (graded as missing, scoring 0), with a hint when one looks renamed."""
    problems = []
    for folder in sorted((course / "submitted").glob(f"*/{ASSIGNMENT}")):
        present = sorted(path.name for path in folder.glob("*.ipynb"))
        unexpected = [name for name in present if name not in notebook_names()]
        for name in notebook_names():
            if name in present:
                continue
            renamed = difflib.get_close_matches(name, unexpected, n=1, cutoff=0.6)
            hint = f"; found {renamed[0]!r}, which is not graded: was it renamed?" if renamed else ""
            problems.append(f"{folder.parent.name}: {name} is missing and is graded as missing (0 points){hint}")
    return problems


def release_feedback(course: Path, *options: str) -> list[str]:
    """Release feedback through the exchange to students who submitted through it; return the others.

    nbgrader's release_feedback stops at the first student without ``submission_secret.txt``: work
    collected from an LMS has none, and its feedback pages go back through that LMS instead.
    """
    feedback = sorted((course / "feedback").glob(f"*/{ASSIGNMENT}"))
    through_lms = [folder.parent.name for folder in feedback if not (folder / "submission_secret.txt").exists()]
    if len(through_lms) < len(feedback):
        excluded = [f"--CourseDirectory.student_id_exclude={','.join(through_lms)}"] if through_lms else []
        nbgrader(course, "release_feedback", ASSIGNMENT, *excluded, *options)
    return through_lms


def read_scores(course: Path) -> pd.DataFrame:
    """One row per student and test cell: notebook, grade_id, score, max_score (from the gradebook)."""
    from nbgrader.api import Gradebook

    from grading.gradebook import url

    rows = []
    with Gradebook(url(course / "gradebook.db")) as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code" and grade.max_score:
                        rows.append(
                            {
                                "student": submission.student_id,
                                "notebook": notebook.name,
                                "grade_id": grade.name,
                                "score": float(grade.score),
                                "max_score": float(grade.max_score),
                            }
                        )
    return pd.DataFrame(rows, columns=["student", "notebook", "grade_id", "score", "max_score"])


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Students as rows, questions as columns, with totals: what ``make demo`` prints."""
    table = scores.pivot_table(index="student", columns="grade_id", values="score", aggfunc="sum")
    order = sorted(table.columns, key=question_number)
    table = table[order]
    table.columns = [question_of(grade) for grade in order]
    table["total"] = table.sum(axis=1)
    return table
