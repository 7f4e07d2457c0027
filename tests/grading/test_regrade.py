"""After grading: a hidden test fixed and the class regraded, late work penalised once, grades for the LMS.

One scratch course, two students who submit only notebook 4 (its questions are the ones a
threshold decides; the other notebooks score 0 as missing): ``exact`` finds the 5 exact nearest
neighbours, on time; ``late`` finds only 4 of them and hands in 2.5 days after the due date, so that
the fixed test and the penalty meet in one submission. The class is graded, an instructor grades a
cell by hand, then Q11's setting in ``source/`` goes from ``at_least=4`` to ``at_least=5`` and the
class is regraded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbgrader.api import Gradebook

from grading import course, golden, records
from grading.autograde import grade_class
from grading.autograde import main as autograde_main
from grading.export import POINTS_POSSIBLE, RosterError, canvas_csv, export_grades, points_per_question
from grading.gradebook import url
from grading.roundtrip import QUICK_CPU_LIMIT

pytestmark = pytest.mark.slow

NB4 = "4_nearest_neighbors.ipynb"
DUE = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
#: Exact search by brute force: the 5 rows nearest to query_vector, or 4 of them and the farthest row.
RANKED = (
    "import numpy as np\nimport pandas as pd\n"
    "rows = hashed.select('image', 'features').toPandas()\n"
    "target = query_vector.toArray()\n"
    "rows['distCol'] = [float(np.linalg.norm(v.toArray() - target)) for v in rows['features']]\n"
    "ranked = rows.sort_values('distCol')[['image', 'distCol']]\n"
)
EXACT = RANKED + "neighbors = spark.createDataFrame(ranked.head(5))\n"
FOUR_OF_FIVE = RANKED + "neighbors = spark.createDataFrame(pd.concat([ranked.head(4), ranked.tail(1)]))\n"
STUDENTS = {
    "exact": (golden.Crafted(answers={"q11_answer": EXACT}, notebooks=(NB4,)), DUE - timedelta(hours=1)),
    "late": (
        golden.Crafted(answers={"q11_answer": FOUR_OF_FIVE}, notebooks=(NB4,)),
        DUE + timedelta(days=2, hours=12),
    ),
}
MANUAL = {
    "student": "exact",
    "grade": "q12_neighbor_figure",
    "score": 0.5,
    "answer": "q12_answer",
    "comment": "crowded",
}


def gradebook_state(course_dir: Path) -> dict:
    """Per student: score per test, the late penalty, and the manual grade and comment."""
    state = {}
    with Gradebook(url(course_dir / "gradebook.db")) as gradebook:
        for submission in gradebook.assignment_submissions(course.ASSIGNMENT):
            notebook = gradebook.find_submission_notebook(
                NB4.removesuffix(".ipynb"), course.ASSIGNMENT, submission.student_id
            )
            state[submission.student_id] = {
                "scores": {grade.name: grade.score for grade in notebook.grades if grade.max_score},
                "penalty": submission.late_submission_penalty,
                "manual": {
                    grade.name: grade.manual_score for grade in notebook.grades if grade.manual_score is not None
                },
                "comments": {c.name: c.manual_comment for c in notebook.comments if c.manual_comment},
            }
    return state


def seeds(course_dir: Path) -> dict[str, int]:
    return {s: records.read(course_dir / "autograded" / s / course.ASSIGNMENT)["sample"]["seed"] for s in STUDENTS}


@pytest.fixture(scope="module")
def regraded(tmp_path_factory):
    """The class graded, a cell graded by hand, Q11's threshold raised in source/, the class regraded."""
    course_dir = course.prepare_course(tmp_path_factory.mktemp("regrade") / "course")
    release = course.generate_release(course_dir)
    course.nbgrader(course_dir, "db", "assignment", "add", course.ASSIGNMENT, f"--duedate={DUE:%Y-%m-%d %H:%M:%S} UTC")
    for student, (crafted, handed_in) in STUDENTS.items():
        folder = course.submit(course_dir, student, golden.make_submission(release, crafted))
        (folder / "timestamp.txt").write_text(f"{handed_in:%Y-%m-%d %H:%M:%S.%f} UTC")
    first = grade_class(course_dir, jobs=2, options=QUICK_CPU_LIMIT, progress=False)
    with Gradebook(url(course_dir / "gradebook.db")) as gradebook:
        notebook = NB4.removesuffix(".ipynb")
        grade = gradebook.find_grade(MANUAL["grade"], notebook, course.ASSIGNMENT, MANUAL["student"])
        grade.manual_score = MANUAL["score"]
        comment = gradebook.find_comment(MANUAL["answer"], notebook, course.ASSIGNMENT, MANUAL["student"])
        comment.manual_comment = MANUAL["comment"]
        gradebook.db.commit()
    before, seeds_before = gradebook_state(course_dir), seeds(course_dir)

    source = course_dir / "source" / course.ASSIGNMENT / NB4
    notebook = nbformat.read(source, as_version=4)
    (q11,) = [cell for cell in notebook.cells if course.grade_id(cell) == "q11_five_nearest_neighbors"]
    assert q11.source.count("grade(_found, at_least=4)") == 1
    q11.source = q11.source.replace("grade(_found, at_least=4)", "grade(_found, at_least=5)")
    nbformat.write(notebook, source)
    assert autograde_main(course_dir, 2, None, unsafe=False, sample_pool=None, regenerate=True) == 0  # make regrade
    assert not first.failures, [result.log[-2000:] for result in first.failures]
    return {
        "course": course_dir,
        "before": before,
        "after": gradebook_state(course_dir),
        "seeds": (seeds_before, seeds(course_dir)),
    }


def test_the_class_first_scores_what_its_answers_earn(regraded):
    """With at_least=4, both earn every point of notebook 4 (the hand-graded cell aside)."""
    points = course.test_points()
    for student, state in regraded["before"].items():
        expected = {grade: points[grade] for grade in state["scores"]}
        if student == MANUAL["student"]:
            expected[MANUAL["grade"]] = MANUAL["score"]
        assert state["scores"] == expected, student


def test_a_fixed_threshold_changes_exactly_the_students_it_affects(regraded):
    """Raised to 5 of 5, only the four-of-five answer loses Q11; every other score stays, and so does every sample."""
    before, after = regraded["before"], regraded["after"]
    changed = {
        (student, grade)
        for student in before
        for grade in before[student]["scores"]
        if before[student]["scores"][grade] != after[student]["scores"][grade]
    }
    assert changed == {("late", "q11_five_nearest_neighbors")}
    assert after["late"]["scores"]["q11_five_nearest_neighbors"] == 0
    assert regraded["seeds"][0] == regraded["seeds"][1]


def test_a_regrade_keeps_manual_grades_and_comments(regraded):
    exact = regraded["after"][MANUAL["student"]]
    assert exact["manual"] == {MANUAL["grade"]: MANUAL["score"]}
    assert exact["comments"] == {MANUAL["answer"]: MANUAL["comment"]}


def test_late_work_loses_exactly_the_configured_penalty_once(regraded):
    """2.5 days late is 3 started days: 30% of the notebook's score, before and after the regrade lowered that
    score, and once (nbgrader #723); work on time loses nothing.
    """
    late = [sum(state["late"]["scores"].values()) for state in (regraded["before"], regraded["after"])]
    assert late[1] < late[0]
    for state, score in zip((regraded["before"], regraded["after"]), late, strict=True):
        assert state["late"]["penalty"] == pytest.approx(0.3 * score)
        assert state["exact"]["penalty"] == 0


def test_points_per_question_and_canvas_import(regraded, tmp_path):
    """One column per question; Canvas's roster filled in, a student without a submission at 0."""
    course_dir = regraded["course"]
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab 5 (4321),Lab 4 (4320)\n"
        "    Points Possible,,,,,20.00,10.00\n"
        "Exact Student,101,s101,exact,A,,7\n"
        "Late Student,103,s103,late,B,,9\n"
        "Absent Student,104,s104,absent,B,,10\n"
    )
    lines = export_grades(course_dir, tmp_path / "out", roster)
    table = pd.read_csv(tmp_path / "out" / "points_per_question.csv", index_col="student")
    assert [c for c in table.columns if c.startswith("Q")] == [f"Q{n}" for n in range(1, 13)]
    assert table.loc["late", "total"] == pytest.approx(0.7 * table.loc["late", "raw_score"])
    assert table.loc["exact", "Q1"] == 0  # notebook 1 not submitted

    canvas = pd.read_csv(tmp_path / "out" / "canvas.csv", dtype=str, keep_default_na=False)
    assert list(canvas.columns) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 5 (4321)"]
    assert canvas.iloc[0]["Student"] == POINTS_POSSIBLE and float(canvas.iloc[0]["Lab 5 (4321)"]) == 20
    got = dict(zip(canvas["SIS Login ID"][1:], canvas["Lab 5 (4321)"][1:].astype(float), strict=True))
    assert got == pytest.approx({student: table.loc[student, "total"] for student in STUDENTS} | {"absent": 0.0})
    assert any("absent" in line for line in lines)


def test_a_roster_that_is_not_canvas_says_how_to_get_one(regraded, tmp_path):
    wrong = tmp_path / "class.csv"
    wrong.write_text("name,email\nA,a@example.org\n")
    with pytest.raises(RosterError, match=r"class\.csv.*Grades > Export"):
        canvas_csv(points_per_question(regraded["course"]), wrong, tmp_path / "canvas.csv")
    with pytest.raises(RosterError, match="no such roster"):
        canvas_csv(points_per_question(regraded["course"]), tmp_path / "missing.csv", tmp_path / "canvas.csv")
    assert not (tmp_path / "canvas.csv").exists()
