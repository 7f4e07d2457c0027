"""Answers that look copied: normalisation, the baseline and common shingles left out, LSH pairing, the outputs."""

from __future__ import annotations

import html
import random
import warnings

import nbformat
import pandas as pd
import pytest

from bench.class_grading import synthetic_class
from grading import similarity
from grading.course import ASSIGNMENT, notebook_names
from grading.golden import GOLDEN, make_submission, solution_answers
from grading.mistakes import submissions
from helpers.config import PROJECT_ROOT

RELEASE = PROJECT_ROOT / "release" / ASSIGNMENT

#: A student with answers of their own: a resize function, a loop over the rows, their own prints and figure.
OWN = {
    "q1_answer": "import os\n"
    "def shrink(file_name):\n"
    "    picture = Image.open(LAB.image_dir / file_name).convert('RGB')\n"
    "    picture.resize((224, 224), Image.BICUBIC).save(LAB.resized_dir / file_name, 'JPEG', quality=91)\n"
    "os.makedirs(LAB.resized_dir, exist_ok=True)\n"
    "for file_name in LAB.image_names:\n"
    "    shrink(file_name)\n"
    "print('resized everything, cars now small:', len(os.listdir(LAB.resized_dir)))\n",
    "q4_answer": "header = ['image'] + ['dim%03d' % k for k in range(vectors.shape[1])]\n"
    "rows_out = [[n] + list(v) for n, v in zip(names, vectors)]\n"
    "pd.DataFrame(rows_out, columns=header).to_csv(LAB.embeddings_csv, index=False)\n"
    "print('wrote', LAB.embeddings_csv, 'with', len(rows_out), 'rows of', len(header), 'columns')\n",
    "q9_answer": "chooser = random.Random(SEED)\n"
    "query_image = chooser.choice(sorted(LAB.image_names, key=str.lower)[:: 1])\n"
    "print('my query car is', query_image)\n",
    "q12_answer": "ordered = neighbors.orderBy('distCol').toPandas()\n"
    "fig = plt.figure(figsize=(17.5, 3.1))\n"
    "for slot, (_, entry) in enumerate(ordered.iterrows(), start=1):\n"
    "    panel = fig.add_subplot(1, 5, slot)\n"
    "    panel.imshow(Image.open(LAB.image_dir / entry['image']))\n"
    "    panel.set_title('#%d  d=%.2f' % (slot, entry['distCol']), fontsize=7)\n"
    "    panel.set_axis_off()\n",
}
#: OWN copied to hide it: names renamed, independent lines swapped, comments, quotes and spacing changed.
COPY = {
    "q1_answer": "import os  # for the folder\n"
    "def make_small(fn):\n"
    '    """Resize one photo."""\n'
    '    im = Image.open(LAB.image_dir / fn).convert("RGB")\n'
    '    im.resize( (224,224), Image.BICUBIC ).save(LAB.resized_dir / fn, "JPEG", quality = 91)\n'
    "\n"
    "os.makedirs(LAB.resized_dir,\n            exist_ok=True)\n"
    "for fn in LAB.image_names:\n"
    "    make_small(fn)   # one at a time\n"
    'print("resized everything, cars now small:", len(os.listdir(LAB.resized_dir)))\n',
    "q4_answer": "# one row per image\n"
    "table_rows = [[n] + list(v) for n, v in zip(names, vectors)]\n"
    "cols = ['image'] + ['dim%03d' % j for j in range(vectors.shape[1])]\n"
    "pd.DataFrame(table_rows, columns=cols).to_csv(LAB.embeddings_csv, index=False)\n"
    "print('wrote', LAB.embeddings_csv, 'with', len(table_rows), 'rows of', len(cols), 'columns')\n",
    "q9_answer": "r = random.Random(SEED)  # seeded\n"
    "query_image = r.choice(sorted(LAB.image_names, key=str.lower)[::1])\n"
    "print('my query car is', query_image)\n",
    "q12_answer": "fig = plt.figure(figsize=(17.5, 3.1))\n"
    "ordered_nb = neighbors.orderBy('distCol').toPandas()\n"
    "for k, (_, e) in enumerate(ordered_nb.iterrows(), start=1):\n"
    "    ax = fig.add_subplot(1, 5, k)\n"
    "    ax.imshow(Image.open(LAB.image_dir / e['image']))\n"
    "    ax.set_title('#%d  d=%.2f' % (k, e['distCol']),\n                 fontsize=7)\n"
    "    ax.set_axis_off()\n",
}
BROKEN = {
    "q1_answer": "%time resize_all()\n!ls LAB.resized_dir\nfor name in LAB.image_names\n    print(name)\n",
    "q2_answer": "class C:\n    def get_vec(self, image):\n        return (self.model(image)\n",
    "q3_answer": 'vectors = \'unterminated\nnames = """never closed\n',
    "q4_answer": "if True:\n        x = 1\n    y = 2\n\x00",
    "q5_answer": "",
}


@pytest.fixture(scope="module")
def baseline() -> list[str]:
    return similarity.baseline_code(PROJECT_ROOT)


@pytest.fixture(scope="module")
def release_answers() -> dict[str, str]:
    """The untouched answer cells of the release, as a student who answered nothing hands them in."""
    return similarity.answer_cells(make_submission(RELEASE, GOLDEN["blank"]))


def one_cell(code: str) -> set[str]:
    return similarity.shingles({"q1_answer": code})["q1_answer"]


def test_comments_whitespace_quotes_and_own_names_do_not_change_the_shingles():
    original = (
        "resize = T.Resize((224, 224))\n"
        "for name in LAB.image_names:\n"
        "    with Image.open(LAB.image_dir / name) as image:\n"
        "        resize(image.convert('RGB')).save(LAB.resized_dir / name, format='JPEG', quality=95)\n"
    )
    disguised = (
        "# resize them all\n"
        "r = T.Resize( (224,224) )\n\n"
        "for f in LAB.image_names :   # each file\n"
        "    with Image.open(LAB.image_dir/f) as im:\n"
        '        r(im.convert("RGB")).save(\n'
        '            LAB.resized_dir / f, format="JPEG", quality=95,\n'
        "        )\n"
    )
    assert one_cell(original) == one_cell(disguised)
    assert one_cell(original) != one_cell(original.replace("quality=95", "quality=90")), "a literal is content"
    assert one_cell(original) != one_cell(original.replace("'RGB'", "'L'"))


def test_library_names_attributes_and_keyword_arguments_stay():
    code = (
        "model = brp.fit(assembled)\nq = vector_of(query_image)\n"
        "neighbors = model.approxNearestNeighbors(hashed, q, 5)\n"
    )
    found = one_cell(code)
    assert any("approxNearestNeighbors" in shingle and "hashed" in shingle for shingle in found), "free names stay"
    renamed = code.replace("model", "m").replace("q ", "key ").replace("q,", "key,").replace("neighbors =", "close =")
    assert one_cell(renamed) == found, "model, q and neighbors are the student's names"
    assert one_cell(code.replace("approxNearestNeighbors", "approxSimilarityJoin")) != found
    # The student binds p, and the Normalizer's p= keyword must still read p.
    kwarg = one_cell("p = 3\nnormalizer = Normalizer(inputCol='raw', outputCol='features', p=2.0)\n")
    assert any("p\x1f=\x1f2.0" in shingle for shingle in kwarg)


def test_reordering_independent_lines_and_renaming_across_cells_keep_the_shingles():
    cells = {"q5_answer": "df = spark.read.csv(path, header=True)\ncount = 3\n", "q6_answer": "out = df.limit(count)\n"}
    other = {"q5_answer": "n = 3\nframe = spark.read.csv(path, header=True)\n", "q6_answer": "res = frame.limit(n)\n"}
    assert similarity.shingles(cells) == similarity.shingles(other)


def test_a_submission_of_the_release_alone_has_no_kept_shingles(baseline, release_answers):
    # A line of helpers.reference.spark_lsh, typed into an answer cell: the hand-out has it, so it shows nothing.
    helpers_line = (
        "table = pd.DataFrame({IMAGE_COLUMN: list(names), RAW_FEATURES: list(np.asarray(vectors, dtype=np.float64))})\n"
    )
    answers = {"blank": release_answers, "helped": {**release_answers, "q4_answer": helpers_line}}
    answers["other"] = {"q1_answer": "print('a line nobody was given, to make the class bigger')\n"}
    kept = similarity.kept_shingles(answers, baseline)
    assert kept["blank"] == {}
    assert kept["helped"] == {}
    assert kept["other"]


def test_shingles_most_of_a_class_shares_are_dropped(baseline):
    common = "table.to_csv(LAB.embeddings_csv, index=False, float_format='%.6f')\n"
    own = [f"print('student {n} was here and wrote this line alone')\n" for n in range(30)]
    answers = {f"s{n:02d}": {"q4_answer": common + line} for n, line in enumerate(own)}
    kept = similarity.kept_shingles(answers, baseline)
    assert similarity.common_limit(30) < 30
    assert [kept[student]["Q4"] for student in answers] == [one_cell(line) for line in own]
    # In a small class, what a pair shares counts: the floor keeps it.
    pair = {"a": {"q4_answer": common}, "b": {"q4_answer": common}, "c": {"q4_answer": own[0]}}
    assert similarity.kept_shingles(pair, baseline)["a"]["Q4"] == one_cell(common)


def small_class() -> dict[str, dict[str, str]]:
    """The golden and mistaken submissions, solution copies with catalogued variants, OWN, its copy, a twin."""
    crafted = {**synthetic_class(24), **submissions()}
    answers = {name: similarity.answer_cells(make_submission(RELEASE, c)) for name, c in crafted.items()}
    answers["own"] = {**solution_answers(), **OWN}
    answers["copier"] = {**solution_answers(), **COPY}
    answers["solution_twin"] = solution_answers()
    return answers


def test_a_planted_copy_ranks_first_and_two_plain_solutions_are_no_pair(spark, baseline):
    answers = small_class()
    pairs = similarity.similar_pairs(spark, answers, baseline)
    assert list(pairs.columns) == similarity.COLUMNS
    top = pairs.iloc[0]
    assert (top.student_a, top.student_b) == ("copier", "own"), pairs.head()
    assert top.similarity > 0.9
    assert top.questions == "Q1 Q4 Q9 Q12"
    assert pairs.similarity.is_monotonic_decreasing
    assert (pairs.student_a < pairs.student_b).all()
    # What most of the class wrote is no evidence: the solution's lines are everyone's, so two students who
    # handed in exactly the solution have no kept shingles and are never paired (nor could be told apart).
    kept = similarity.kept_shingles(answers, baseline)
    assert kept["solution"] == kept["solution_twin"] == {}
    assert not ((pairs.student_a == "solution") & (pairs.student_b == "solution_twin")).any()


def test_unparseable_and_empty_submissions_do_not_crash(spark, baseline):
    found = similarity.shingles(BROKEN)
    assert found["q1_answer"], "the lines that parse on their own still count"
    assert found["q5_answer"] == set()
    answers = {"broken": BROKEN, "broken_too": dict(BROKEN), "empty": {}, "blankish": {"q1_answer": "   \n"}}
    pairs = similarity.similar_pairs(spark, answers, baseline)
    assert list(pairs.columns) == similarity.COLUMNS
    assert set(zip(pairs.student_a, pairs.student_b)) <= {("broken", "broken_too")}
    for nobody in ({}, {"alone": OWN}, {"a": {}, "b": {}}):
        assert similarity.similar_pairs(spark, nobody, baseline).empty


def test_damaged_code_never_crashes_and_stays_quiet():
    """Every answer of the solution, damaged a few characters at a time, is still read, without warnings."""
    answers = list(solution_answers().values())
    r = random.Random(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(300):
            code = list(r.choice(answers))
            for _ in range(r.randint(1, 5)):
                code.insert(r.randrange(len(code) + 1), r.choice("()[]{}:'\"\\\n\t #=,.f0!%;"))
            similarity.shingles({"q1_answer": "".join(code), "q2_answer": 'pattern = "\\d+"\nx = 1if y else 2\n'})
    assert not caught, [str(warning.message) for warning in caught]


def test_the_csv_has_the_exact_header(tmp_path):
    table = pd.DataFrame([("a", "b", 0.123456, "Q1 Q3")], columns=similarity.COLUMNS)
    path = similarity.write_similarity_csv(table, tmp_path / "out" / "similarity.csv")
    assert path.read_text().splitlines() == ["student_a,student_b,similarity,questions", "a,b,0.1235,Q1 Q3"]
    empty = similarity.write_similarity_csv(table.iloc[:0], tmp_path / "empty.csv")
    assert empty.read_text().splitlines() == ["student_a,student_b,similarity,questions"]


def test_side_by_side_escapes_and_marks_the_shared_lines():
    a = {"q1_answer": "x = '<script>alert(1)</script>'  # & more\nprint(x)\ny = 1\n"}
    b = {"q1_answer": 'thing = "<script>alert(1)</script>"\nprint( thing )\nz = 2\n'}
    fragment = similarity.side_by_side(a, b, "Q1", labels=("<alice>", "bob"))
    assert "<script>" not in fragment and "<alice>" not in fragment
    assert html.escape("x = '<script>alert(1)</script>'  # & more") in fragment
    assert fragment.count('class="line shared"') == 4  # the assignment and the print, on both sides
    assert '<span class="line">y = 1</span>' in fragment and '<span class="line">z = 2</span>' in fragment
    by_id = similarity.side_by_side(a, b, ["q1_answer"])
    assert by_id == fragment.replace("<h4>Q1</h4>", "<h4>q1_answer</h4>").replace("&lt;alice&gt;", "a").replace(
        ">bob<", ">b<"
    )


def test_class_answers_prefers_autograded_and_falls_back_to_submitted(tmp_path):
    release = {name: nbformat.read(RELEASE / name, as_version=4) for name in notebook_names()}
    course = tmp_path / "course"

    def hand_in(stage: str, student: str, answers: dict[str, str]) -> None:
        folder = course / stage / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, notebook in release.items():
            copy = nbformat.from_dict(notebook)
            for cell in copy.cells:
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in answers:
                    cell.source = answers[cell.metadata.nbgrader.grade_id]
            nbformat.write(copy, folder / name)

    hand_in("submitted", "alice", {"q1_answer": "old = 1\n"})
    hand_in("autograded", "alice", {"q1_answer": "graded = 2\n"})
    hand_in("submitted", "bob", {"q9_answer": "query_image = 'x.jpg'\n"})
    (course / "submitted" / "bob" / ASSIGNMENT / "broken.ipynb").write_text("{not json")
    found = similarity.class_answers(course)
    assert sorted(found) == ["alice", "bob"]
    assert found["alice"]["q1_answer"] == "graded = 2\n"
    assert found["bob"]["q9_answer"] == "query_image = 'x.jpg'\n"
    assert len(found["bob"]) == 12


def test_baseline_code_is_the_release_and_the_helpers(tmp_path):
    code = similarity.baseline_code(PROJECT_ROOT)
    assert any("lab.setup()" in cell for cell in code)
    assert any("def fit_lsh(" in source for source in code)
    with pytest.raises(FileNotFoundError, match="make release"):
        similarity.baseline_code(tmp_path)
