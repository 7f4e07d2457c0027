"""Golden submissions, made from ``source/`` on the fly and never edited by hand.

The solution (full marks), the untouched release (zero) and deliberately wrong answers, each losing
exactly the points listed in :data:`WRONG_SUBMISSIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import is_solution

from grading.course import grade_id, notebook_names, source_cells, test_points

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
            ("q1_resize_224_jpeg",),
        ),
        "q4_answer": WrongAnswer(
            "pd.DataFrame(vectors).to_csv(LAB.embeddings_csv, index=False)  # no image column\n", ("q4_embeddings_csv",)
        ),
        "q8_answer": WrongAnswer("hashed = assembled  # forgot model.transform\n", ("q8_hashed_dataframe",)),
        "q12_answer": WrongAnswer(
            "fig, axes = plt.subplots(1, 5, figsize=(16, 3.4))\n"
            "for axis in axes:  # shows the query five times instead of its neighbours\n"
            "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n",
            ("q12_neighbor_figure",),
        ),
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
            ("q2_class_c_get_vec", "q3_all_embeddings"),
        ),
        "q7_answer": WrongAnswer(
            "model = BucketedRandomProjectionLSH(inputCol='features', outputCol='hashes', bucketLength=BUCKET_LENGTH,\n"
            "                                    numHashTables=NUM_HASH_TABLES, seed=SEED)  # never fitted\n",
            # Q8 applies the Q7 model, and an estimator cannot transform.
            ("q7_brp_model", "q8_hashed_dataframe"),
        ),
    },
}


def solution_code(source: str) -> str:
    """What a student would type: the source cell without nbgrader's solution markers."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKERS.match(line))


def solution_answers() -> dict[str, str]:
    """The source notebooks' solutions, by answer cell grade_id."""
    return {
        grade_id(cell): solution_code(cell.source)
        for cells in source_cells().values()
        for cell in cells
        if is_solution(cell)
    }


def make_submission(release: Path, answers: dict[str, str]) -> dict[str, nbformat.NotebookNode]:
    """Release notebooks with the given answer cells (by grade_id) filled in."""
    notebooks = {}
    for name in notebook_names():
        notebook = nbformat.read(release / name, as_version=4)
        for cell in notebook.cells:
            if grade_id(cell) in answers:
                cell.source = answers[grade_id(cell)]
        notebooks[name] = notebook
    return notebooks


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
    expected = {"solution": dict(points), "blank": dict.fromkeys(points, 0.0)}
    for student, wrong in WRONG_SUBMISSIONS.items():
        failing = {grade for answer in wrong.values() for grade in answer.fails}
        expected[student] = {grade: 0.0 if grade in failing else value for grade, value in points.items()}
    return expected
