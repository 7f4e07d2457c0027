"""Crafted submissions, made from ``source/`` and ``release/`` on the fly and never edited by hand.

A :class:`Crafted` submission starts from the solution (or the untouched release), replaces some
answer cells, adds cells, leaves notebooks out or edits them, and says which tests it must lose and
what their feedback must say. The golden ones here (solution: full marks; blank: zero; plausible
mistakes: losing exactly what they name) prove the autograder right; ``grading.attacks`` and
``grading.mistakes`` add attacks and diagnosed mistakes in the same form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell
from nbgrader.utils import is_solution

from grading.course import grade_id, notebook_names, source_cells, test_points

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
Notebooks = dict[str, nbformat.NotebookNode]


@dataclass(frozen=True)
class Crafted:
    """How to make one submission from the release, and the scores and messages it must get."""

    answers: dict[str, str] = field(default_factory=dict)  # answer grade_id -> the code it holds instead
    added: dict[str, tuple[str, ...]] = field(default_factory=dict)  # notebook -> cells appended at its end
    notebooks: tuple[str, ...] | None = None  # the notebooks submitted (None: all four)
    loses: tuple[str, ...] = ()  # test grade_ids that must score 0 (every other submitted test: full marks)
    says: dict[str, str] = field(default_factory=dict)  # test grade_id -> words its feedback must contain
    blank: bool = False  # start from the untouched release instead of the solution
    edit: Callable[[Notebooks], None] | None = None  # any other change, made last

    def expected(self) -> dict[str, float]:
        """The score of every test cell this submission must get."""
        submitted = set(self.notebooks or notebook_names())
        scores = {}
        for name, cells in source_cells().items():
            for cell in cells:
                if (grade := grade_id(cell)) in test_points():
                    lost = self.blank or grade in self.loses or name not in submitted
                    scores[grade] = 0.0 if lost else test_points()[grade]
        return scores


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


def make_submission(release: Path, crafted: Crafted) -> Notebooks:
    """The notebooks of one crafted submission."""
    answers = crafted.answers if crafted.blank else {**solution_answers(), **crafted.answers}
    notebooks = {}
    for name in crafted.notebooks or notebook_names():
        notebook = nbformat.read(release / name, as_version=4)
        for cell in notebook.cells:
            if grade_id(cell) in answers:
                cell.source = answers[grade_id(cell)]
        notebook.cells += [new_code_cell(code) for code in crafted.added.get(name, ())]
        notebooks[name] = notebook
    if crafted.edit:
        crafted.edit(notebooks)
    return notebooks


#: The golden submissions: right, empty and plausibly wrong. Each wrong one also proves that nothing
#: cascades into the next notebook, which falls back to the reference artefacts and scores full marks.
GOLDEN: dict[str, Crafted] = {
    "solution": Crafted(),
    "blank": Crafted(blank=True),
    "wrong_answers": Crafted(
        answers={
            "q1_answer": "resize = T.Compose([T.Resize(224), T.CenterCrop(224)])  # keeps the aspect ratio, crops\n"
            "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
            "for name in LAB.image_names:\n"
            "    with Image.open(LAB.image_dir / name) as image:\n"
            "        resize(image.convert('RGB')).save(LAB.resized_dir / name, format='JPEG', quality=95)\n",
            "q4_answer": "pd.DataFrame(vectors).to_csv(LAB.embeddings_csv, index=False)  # no image column\n",
            "q8_answer": "hashed = assembled  # forgot model.transform\n",
            "q12_answer": "fig, axes = plt.subplots(1, 5, figsize=(16, 3.4))\n"
            "for axis in axes:  # shows the query five times instead of its neighbours\n"
            "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n",
        },
        loses=("q1_resize_224_jpeg", "q4_embeddings_csv", "q8_hashed_dataframe", "q12_neighbor_figure"),
    ),
    "wrong_model": Crafted(
        answers={
            "q2_answer": "class C:\n"
            "    def __init__(self, model):\n"
            "        model.fc = torch.nn.Identity()\n"
            "        self.model = model  # left in training mode\n"
            "        self.transform = T.Compose([T.Resize((224, 224)), T.ToTensor(),\n"
            "                                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
            "\n"
            "    def get_vec(self, image):\n"
            "        with torch.no_grad():\n"
            "            return self.model(self.transform(image.convert('RGB')).unsqueeze(0))[0].numpy()\n",
            "q7_answer": "model = BucketedRandomProjectionLSH(inputCol='features', outputCol='hashes',\n"
            "                                    bucketLength=BUCKET_LENGTH, numHashTables=NUM_HASH_TABLES,\n"
            "                                    seed=SEED)  # never fitted\n",
        },
        # Q3 embeds with the same class C, so its vectors are wrong too; Q8 applies Q7's model, which cannot transform.
        loses=("q2_class_c_get_vec", "q3_all_embeddings", "q7_brp_model", "q8_hashed_dataframe"),
    ),
}
