"""Feedback that names the mistake: every plausible mistake of grading.mistakes, graded, scored and explained.

Each mistake must cost exactly its own question (full marks elsewhere in its notebook), and the
feedback of that question must say what the mistake was, in the words listed with it. The right
answers written otherwise that fill the submissions' other cells keep full marks.
"""

from __future__ import annotations

import nbformat
import pytest

from grading import course, mistakes, records, roundtrip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """All mistakes, packed into a few submissions, graded two at a time, all on one unseen sample
    (``make autograde --sample-pool 1``): the mistakes do not depend on the images.
    """
    submissions = mistakes.submissions()
    course_dir = tmp_path_factory.mktemp("mistakes") / "course"
    scores, run = roundtrip.round_trip(
        course_dir, submissions, jobs=2, options=roundtrip.QUICK_CPU_LIMIT, sample_pool=1
    )
    return course_dir, submissions, scores, run


def test_a_pool_of_one_grades_everyone_on_the_same_unseen_sample(graded):
    """--sample-pool 1: one seed for the whole run, and images the students never had."""
    course_dir, submissions, _, run = graded
    samples = [
        records.read(course_dir / "autograded" / student / course.ASSIGNMENT)["sample"] for student in submissions
    ]
    assert len({sample["seed"] for sample in samples}) == 1, samples
    assert all(result.unseen for result in run.graded)


def test_each_mistake_costs_exactly_its_own_question(graded):
    """Every mistake scores 0 on its question and every other test of the notebooks it is in scores full marks."""
    _, submissions, scores, run = graded
    assert not run.failures, run.summary()
    assert roundtrip.mismatches(scores, submissions) == []


@pytest.mark.parametrize(
    "alternative", mistakes.ALTERNATIVES, ids=[f"{a.cell.split('_')[0]}-{a.what}" for a in mistakes.ALTERNATIVES]
)
def test_a_right_answer_written_otherwise_keeps_full_marks(graded, alternative):
    """The question of a right answer that is not the solution's scores full marks in the submission holding it."""
    _, submissions, scores, _ = graded
    student = next(
        name for name, crafted in submissions.items() if crafted.answers.get(alternative.cell) == alternative.code
    )
    question = scores[
        (scores.student == student) & scores.grade_id.str.startswith(alternative.cell.removesuffix("answer"))
    ]
    assert len(question) == 1 and (question.score == question.max_score).all(), question.to_dict("records")


@pytest.mark.parametrize(
    "mistake", mistakes.MISTAKES, ids=[f"{m.test.split('_')[0]}-{m.what}" for m in mistakes.MISTAKES]
)
def test_the_feedback_names_the_mistake(graded, mistake):
    """The failed test's message (what its feedback shows) contains the words that name this mistake."""
    course_dir, submissions, _, _ = graded
    student = next(
        name
        for name, crafted in submissions.items()
        if crafted.says.get(mistake.test) == mistake.says
        and all(crafted.answers.get(cell) == code for cell, code in mistake.answers.items())
    )
    notebook = next(
        name
        for name, cells in course.source_cells().items()
        if mistake.test in {course.grade_id(cell) for cell in cells}
    )
    cells = nbformat.read(course_dir / "autograded" / student / "lab5" / notebook, as_version=4).cells
    test = next(cell for cell in cells if course.grade_id(cell) == mistake.test)
    message = " ".join(f"{o.ename}: {o.evalue}" for o in test.outputs if o.output_type == "error")
    assert mistake.says in message, f"{mistake.what}: expected {mistake.says!r} in {message!r}"
