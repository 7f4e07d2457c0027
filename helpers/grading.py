"""The nbgrader round trip: release, golden submissions, autograde, scores, feedback and grades.

Instructors use it through ``make release/autograde/feedback/grades``; the tests and ``make demo``
use :func:`round_trip` to grade the golden submissions in a scratch copy of the course, so the real
gradebook is never touched. Golden submissions are made from ``source/`` on the fly, never edited
by hand: the solution (full marks), the untouched release (zero) and deliberately wrong answers
(losing exactly the points listed in :data:`WRONG_SUBMISSIONS`).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd

from helpers.config import PROJECT_ROOT, artifacts_dir

ASSIGNMENT = "lab5"
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass(frozen=True)
class WrongAnswer:
    """Replacement code for one answer cell and the test cells it must fail."""

    code: str
    fails: tuple[str, ...]


#: Plausible mistakes, by answer cell. Each submission also proves that nothing cascades into the
#: next notebook: later notebooks fall back to the reference artefacts and score full marks.
WRONG_SUBMISSIONS: dict[str, dict[str, WrongAnswer]] = {
    "wrong_answers": {
        "q1_answer": WrongAnswer(
            "resize = T.Compose([T.Resize(224), T.CenterCrop(224)])  # keeps the aspect ratio, then crops\n"
            "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
            "for name in LAB.image_names:\n"
            "    with Image.open(LAB.image_dir / name) as image:\n"
            "        resize(image.convert('RGB')).save(LAB.resized_dir / name, format='JPEG', quality=95)\n",
            ("q1_resize_224_jpeg",)),
        "q4_answer": WrongAnswer(
            "pd.DataFrame(vectors).to_csv(LAB.embeddings_csv, index=False)  # no image column\n",
            ("q4_embeddings_csv",)),
        "q8_answer": WrongAnswer("hashed = assembled  # forgot model.transform\n", ("q8_hashed_dataframe",)),
        "q12_answer": WrongAnswer(
            "fig, axes = plt.subplots(1, 5, figsize=(16, 3.4))\n"
            "for axis in axes:  # shows the query five times instead of its neighbours\n"
            "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n",
            ("q12_neighbor_figure",)),
    },
    "wrong_model": {
        "q2_answer": WrongAnswer(
            "class C:\n"
            "    def __init__(self, model):\n"
            "        model.fc = torch.nn.Identity()\n"
            "        self.model = model  # left in training mode\n"
            "        self.transform = T.Compose([T.Resize((224, 224)), T.ToTensor(),\n"
            "                                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
            "\n"
            "    def get_vec(self, image):\n"
            "        with torch.no_grad():\n"
            "            return self.model(self.transform(image.convert('RGB')).unsqueeze(0))[0].numpy()\n",
            # Q3 embeds with the same class C, so its vectors are wrong too.
            ("q2_class_c_get_vec", "q3_all_embeddings")),
        "q7_answer": WrongAnswer(
            "model = BucketedRandomProjectionLSH(inputCol='features', outputCol='hashes', bucketLength=BUCKET_LENGTH,\n"
            "                                    numHashTables=NUM_HASH_TABLES, seed=SEED)  # never fitted\n",
            # Q8 applies the Q7 model, and an estimator cannot transform.
            ("q7_brp_model", "q8_hashed_dataframe")),
    },
}


def source_dir() -> Path:
    """The nbgrader source folder of the lab."""
    return PROJECT_ROOT / "source" / ASSIGNMENT


def notebook_names() -> list[str]:
    """The lab's notebooks, in order."""
    return sorted(path.name for path in source_dir().glob("*.ipynb"))


def nbgrader(course: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course`` (whose nbgrader_config.py sets the course root)."""
    # nbgrader runs `alembic` and the kernel by name: this environment's bin/ must come first on the PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = {**os.environ, "LAB_SPARK_UI": "false", "PATH": path}
    # ipykernel stops capturing output written straight to fd 2 (the JVM's) when it sees this variable,
    # which would hide from tests exactly the noise that costs students points in real grading.
    environment.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=environment,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def prepare_course(course: Path) -> Path:
    """A scratch course directory: the lab's config and source notebooks, nothing else."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    target = course / "source" / ASSIGNMENT
    target.mkdir(parents=True, exist_ok=True)
    for name in notebook_names():
        shutil.copy2(source_dir() / name, target / name)
    return course


def generate_release(course: Path) -> Path:
    """``nbgrader generate_assignment``: the student version of every notebook, in release/."""
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course / "release" / ASSIGNMENT


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_code(source: str) -> str:
    """What a student would type: the source cell without nbgrader's solution markers."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKERS.match(line))


def make_submission(release: Path, answers: dict[str, str]) -> dict[str, nbformat.NotebookNode]:
    """Release notebooks with the given answer cells (by grade_id) filled in."""
    notebooks = {}
    for name in notebook_names():
        notebook = nbformat.read(release / name, as_version=4)
        for cell in notebook.cells:
            if _grade_id(cell) in answers:
                cell.source = answers[_grade_id(cell)]
        notebooks[name] = notebook
    return notebooks


def solution_answers() -> dict[str, str]:
    """The source notebooks' solutions, by answer cell grade_id."""
    answers = {}
    for name in notebook_names():
        for cell in nbformat.read(source_dir() / name, as_version=4).cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                answers[_grade_id(cell)] = solution_code(cell.source)
    return answers


def test_points() -> dict[str, float]:
    """Points of every autograded test cell, by grade_id, read from the source notebooks."""
    points = {}
    for name in notebook_names():
        for cell in nbformat.read(source_dir() / name, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                points[meta["grade_id"]] = float(meta["points"])
    return points


def golden_submissions(release: Path) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """Every golden submission by student id: ``solution``, ``blank`` and the wrong ones."""
    solutions = solution_answers()
    golden = {"solution": make_submission(release, solutions), "blank": make_submission(release, {})}
    for student, wrong in WRONG_SUBMISSIONS.items():
        golden[student] = make_submission(release, {**solutions, **{k: w.code for k, w in wrong.items()}})
    return golden


def expected_scores() -> dict[str, dict[str, float]]:
    """The score every golden submission must get, by student and test grade_id."""
    points = test_points()
    expected = {"solution": dict(points), "blank": {grade_id: 0.0 for grade_id in points}}
    for student, wrong in WRONG_SUBMISSIONS.items():
        failing = {grade_id for answer in wrong.values() for grade_id in answer.fails}
        expected[student] = {grade_id: 0.0 if grade_id in failing else value for grade_id, value in points.items()}
    return expected


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


def read_scores(course: Path) -> pd.DataFrame:
    """One row per student and test cell: notebook, grade_id, score, max_score (from the gradebook)."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code" and grade.max_score:
                        rows.append({"student": submission.student_id, "notebook": notebook.name,
                                     "grade_id": grade.name, "score": float(grade.score), "max_score": float(grade.max_score)})
    return pd.DataFrame(rows, columns=["student", "notebook", "grade_id", "score", "max_score"])


def round_trip(course: Path, students: list[str] | None = None) -> pd.DataFrame:
    """Release, submit the golden submissions, autograde, write feedback and grades.csv; return the scores."""
    if course.exists():
        shutil.rmtree(course)
    prepare_course(course)
    release = generate_release(course)
    golden = golden_submissions(release)
    for student in students or list(golden):
        submit(course, student, golden[student])
    started = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--create", "--force")
    seconds = time.perf_counter() - started
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    scores = read_scores(course)
    scores.attrs["autograde_seconds"] = seconds
    return scores


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Students as rows, questions as columns, with totals: what ``make demo`` prints."""
    table = scores.pivot_table(index="student", columns="grade_id", values="score", aggfunc="sum")
    order = sorted(table.columns, key=lambda grade_id: int(re.match(r"q(\d+)", grade_id).group(1)))
    table = table[order]
    table.columns = [grade_id.split("_")[0].upper() for grade_id in order]
    table["total"] = table.sum(axis=1)
    return table


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.grading roundtrip``: grade the golden submissions and compare with expectations."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["roundtrip", "check"],
                        help="roundtrip: grade the golden submissions; check: report missing or renamed notebooks")
    parser.add_argument("--course", type=Path, default=artifacts_dir() / "grading-roundtrip",
                        help="scratch course directory (deleted and recreated)")
    parser.add_argument("--course-root", type=Path, default=PROJECT_ROOT, help="course directory for `check`")
    arguments = parser.parse_args(argv)
    if arguments.command == "check":
        problems = submission_problems(arguments.course_root)
        print("\n".join(problems) or "every submission has all notebooks")
        return 0
    scores = round_trip(arguments.course)
    table = score_table(scores)
    print(f"autograded {len(table)} golden submissions in {scores.attrs['autograde_seconds']:.0f} s\n")
    print(table.to_string(float_format=lambda v: f"{v:g}"))
    expected = expected_scores()
    mismatches = [(row.student, row.grade_id, row.score, expected[row.student][row.grade_id])
                  for row in scores.itertuples() if row.score != expected[row.student][row.grade_id]]
    for student, grade_id, got, wanted in mismatches:
        print(f"MISMATCH {student} {grade_id}: scored {got:g}, expected {wanted:g}")
    print(f"\nfeedback HTML: {arguments.course / 'feedback'}\ngrades: {arguments.course / 'grades.csv'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
