"""Student code that misbehaves does not break grading: crafted submissions autograded next to a correct one."""

from __future__ import annotations

import pytest

from grading import course, golden

pytestmark = pytest.mark.slow

NB1, NB2 = "1_data_and_transforms.ipynb", "2_embeddings.ipynb"
WRONG_Q1 = golden.WRONG_SUBMISSIONS["wrong_answers"]["q1_answer"].code
TIMEOUT_SECONDS = 40

TAMPER_HELPERS = (
    "import helpers.lab\nhelpers.lab.resized_problems = lambda *args, **kwargs: []  # every resize is 'valid'\n"
)
TAMPER_NUMPY = (
    "names = list(LAB.image_names)\n"
    "embedder = C(resnet)\n"
    "vectors = np.stack([embedder.get_vec(Image.open(INPUT_DIR / n)) for n in reversed(names)])  # misaligned\n"
    "import helpers.lab\n"
    "np.allclose = lambda *args, **kwargs: True\n"
    "helpers.vectors.same_vectors = lambda actual, expected, tolerance=0: np.ones(len(expected), dtype=bool)\n"
    "os.environ['LAB_SUBSET'] = '2'  # fewer images to check\n"
)
SHADOW_NAMES = "\n_lab = None\n_reference = None\nsorted = lambda items: []\nlen = lambda items: 513\n"


def _edit_tests(notebooks):
    for cell in notebooks[NB1].cells:
        if course.grade_id(cell) == "q1_resize_224_jpeg":
            cell.source = '"""Q1 always passes."""\npass'
    notebooks[NB2].cells = [cell for cell in notebooks[NB2].cells if course.grade_id(cell) != "q4_embeddings_csv"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One autograde run over a correct submission and the misbehaving ones (notebooks 1 and 2 only)."""
    course_dir = course.prepare_course(tmp_path_factory.mktemp("misbehaving") / "course_dir")
    release = course.generate_release(course_dir)
    solutions = golden.solution_answers()
    crafted = {
        "correct": (solutions, None),
        "infinite_loop": ({**solutions, "q1_answer": "while True:\n    pass\n"}, None),
        "kernel_dies": ({**solutions, "q3_answer": "import os\nos._exit(1)\n"}, None),
        "crash_and_oom": (
            {
                **solutions,
                "q1_answer": "import ctypes\nctypes.string_at(0)  # segmentation fault\n",
                "q4_answer": "huge = bytearray(1 << 50)  # a petabyte\n",
            },
            None,
        ),
        "edited_tests": ({**solutions, "q1_answer": WRONG_Q1}, _edit_tests),
        "tampering": (
            {
                **solutions,
                "q1_answer": WRONG_Q1 + TAMPER_HELPERS,
                "q3_answer": TAMPER_NUMPY,
                "q4_answer": solutions["q4_answer"] + SHADOW_NAMES,
            },
            None,
        ),
    }
    for student, (answers, edit) in crafted.items():
        notebooks = {name: nb for name, nb in golden.make_submission(release, answers).items() if name in (NB1, NB2)}
        if edit:
            edit(notebooks)
        course.submit(course_dir, student, notebooks)
    complete = golden.make_submission(release, solutions)
    course.submit(
        course_dir, "renamed_and_missing", {NB1.replace(".ipynb", " (1).ipynb"): complete[NB1], NB2: complete[NB2]}
    )
    problems = course.submission_problems(course_dir)
    result = course.nbgrader(
        course_dir, "autograde", "lab5", "--create", "--force", f"--Execute.timeout={TIMEOUT_SECONDS}"
    )
    scores = course.read_scores(course_dir)
    table = scores.pivot_table(index="student", columns="grade_id", values="score")
    return table, problems, result.stdout + result.stderr


def _scores(table, student):
    row = table.loc[student]
    return [row[g] for g in ("q1_resize_224_jpeg", "q2_class_c_get_vec", "q3_all_embeddings", "q4_embeddings_csv")]


def test_correct_submission_next_to_them_gets_full_marks(graded):
    """The correct submission graded in the same run scores 8 of 8 on notebooks 1 and 2."""
    table, _, _ = graded
    assert _scores(table, "correct") == [2, 3, 2, 1]


def test_infinite_loop_times_out_and_the_rest_is_graded(graded):
    """An endless answer cell is stopped after the timeout; it scores 0 and the next notebook scores fully."""
    table, _, log = graded
    assert _scores(table, "infinite_loop") == [0, 3, 2, 1]
    assert f"Timeout waiting for execute reply ({TIMEOUT_SECONDS}s)" in log


def test_dead_kernel_costs_only_what_depended_on_it(graded):
    """os._exit in Q3: Q2 keeps its points, Q3 and Q4 (which needs Q3's vectors) score 0, notebook 1 is unaffected."""
    table, _, log = graded
    assert _scores(table, "kernel_dies") == [2, 3, 0, 0]
    assert "Kernel died in q3_answer" in log


def test_segfault_and_huge_allocation_cost_only_their_questions(graded):
    """A segfault in Q1 and a MemoryError in Q4 each cost their own question only."""
    table, _, log = graded
    assert _scores(table, "crash_and_oom") == [0, 3, 2, 0]
    assert "Kernel died in q1_answer" in log


def test_edited_and_deleted_test_cells_are_restored(graded):
    """A test cell replaced by `pass` runs the original test (wrong Q1: 0); a deleted one is put back (right Q4: 1)."""
    table, _, log = graded
    assert _scores(table, "edited_tests") == [0, 3, 2, 1]
    assert "Missing grade cell q4_embeddings_csv encountered, adding to notebook" in log


def test_tampering_does_not_change_the_verdict(graded):
    """Monkeypatched numpy/helpers, changed LAB_SUBSET, shadowed names: wrong answers score 0, right ones full."""
    table, _, _ = graded
    assert _scores(table, "tampering") == [0, 3, 0, 1]


def test_missing_and_renamed_notebooks_are_reported_and_graded_as_missing(graded):
    """A renamed notebook is named in the report and scores 0 like the missing ones; the present one is graded."""
    table, problems, _ = graded
    mine = [p for p in problems if p.startswith("renamed_and_missing:")]
    assert len(mine) == 3, mine
    assert any(NB1 in p and "(1).ipynb" in p and "renamed" in p for p in mine)
    assert all("graded as missing" in p for p in mine)
    assert _scores(table, "renamed_and_missing") == [0, 3, 2, 1]
