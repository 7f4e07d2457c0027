"""Every check on small hand-made evidence: one right answer per question, and one wrong answer per diagnosis.

The evidence is what a test cell would export (plain data), made here from a run of 12 images of the
embedded dataset, so that a broken check fails in seconds instead of in a graded class. Each case
asserts the verdict, the diagnosis' name (what the class report counts) and words of its message.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps
from torchvision import transforms as T

from grading.course import grade_id, is_test_cell, source_cells
from grading.hidden import settings_of
from grading.questions.class_c_mistakes import CLASS_C_MISTAKES, reproduce
from grading.references import References
from grading.verdicts import verdict
from helpers import lab as lab_plumbing
from helpers.data import stratified_sample
from helpers.images import load_rgb
from helpers.models import EMBEDDING_DIM
from helpers.questions.q01_resize import resized_problems
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import exact_neighbors, nearest_neighbors
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh, lsh_hashes, lsh_projections
from helpers.reference.storage import write_embeddings
from helpers.spark import BUCKET_LENGTH, NUM_HASH_TABLES
from helpers.vectors import unit_vectors

SEED = 123  # the run's seed: not the lab's own, as under the autograder


@dataclass
class Run:
    """The lab of one case (its own work folder), the shared references, and the base lab's values."""

    lab: lab_plumbing.LabSetup
    refs: References


@pytest.fixture(scope="module")
def base(default_dataset, tmp_path_factory):
    """A graded run of 12 images, seed 123, random weights; its references computed once."""
    folder = tmp_path_factory.mktemp("run")
    images = stratified_sample(default_dataset.usable_labels(), 12, SEED)["image"].tolist()
    (folder / "sample.json").write_text(json.dumps({"images": images, "seed": SEED}))
    lab = lab_plumbing.setup(folder / "base" / "lab5_work", default_dataset.root, folder / "sample.json")
    assert lab.weights == "random" or lab.weights == "imagenet"
    refs = References(lab)
    refs.embeddings, refs.probe_vectors, refs.thumbnails  # noqa: B018 - computed once for every case
    return folder, refs


@pytest.fixture
def run(base, default_dataset, tmp_path):
    """The base run with a work folder of this case's own (Q1's images and Q4's CSV go there)."""
    folder, refs = base
    return Run(lab_plumbing.setup(tmp_path / "lab5_work", default_dataset.root, folder / "sample.json"), refs)


def _table(names: list[str], columns: dict, dtypes: list | None = None, kind: str = "pyspark.sql.dataframe.DataFrame"):
    dtypes = dtypes or [["image", "string"], *[[name, "double"] for name in columns]]
    return {"type": kind, "dtypes": dtypes, "vector_columns": [], "columns": {"image": names, **columns}}


def _components(vectors: np.ndarray) -> dict:
    return {f"v{i}": vectors[:, i] for i in range(vectors.shape[1])}


# ---------------------------------------------------------------- Q1: files in the case's work folder


def _resized(run: Run, make: Callable[[Image.Image], Image.Image] | None = None, **save) -> dict:
    run.lab.resized_dir.mkdir(parents=True, exist_ok=True)
    for name in run.lab.image_names:
        if make is None:
            shutil.copy(run.refs.resized_dir / name, run.lab.resized_dir / name)
        else:
            make(load_rgb(run.lab.image_dir / name)).save(run.lab.resized_dir / name, **{"format": "JPEG", **save})
    return {}


Q1 = {
    "right": (lambda run: _resized(run), None, ""),
    "cropped": (
        lambda run: _resized(run, T.Compose([T.Resize(224), T.CenterCrop(224)])),
        "cropped instead of resized",
        "T.CenterCrop",
    ),
    "mirrored": (
        lambda run: _resized(run, lambda image: ImageOps.mirror(image.resize((224, 224)))),
        "mirrored",
        "flipped left to right",
    ),
    "upside down": (
        lambda run: _resized(run, lambda image: ImageOps.flip(image.resize((224, 224)))),
        "upside down",
        "upside down",
    ),
    "png": (
        lambda run: _resized(run, lambda image: image.resize((224, 224)), format="PNG"),
        "not saved as JPEG",
        "JPEG",
    ),
    "aspect ratio": (
        lambda run: _resized(run, T.Resize(224)),
        "aspect ratio kept",
        "T.Resize((224, 224))",
    ),
    "grey": (lambda run: _resized(run, lambda image: image.resize((224, 224)).convert("L")), "not RGB", "expected RGB"),
    "missing": (lambda run: {}, "images missing", "missing from lab5_work/resized"),
}


# ---------------------------------------------------------------- Q2: class C's vectors for the probe images


def _probes(run: Run, first: Callable, second: Callable | None = None) -> dict:
    probes = {}
    for name, expected in run.refs.probe_vectors.items():
        vector = first(run, name, expected)
        probes[name] = [vector, (second or first)(run, name, expected)]
    return {"defined": True, "module": "__main__", "probes": probes}


def _mistake(index: int) -> Callable:
    return lambda run, name, expected: reproduce(
        CLASS_C_MISTAKES[index], load_rgb(run.refs.resized_dir / name), run.lab.weights
    ).astype(np.float64)


Q2 = {
    "right": (lambda run: _probes(run, lambda run, name, expected: expected), None, ""),
    **{
        mistake.name: (lambda run, index=index: _probes(run, _mistake(index)), mistake.name, mistake.message[:30])
        for index, mistake in enumerate(CLASS_C_MISTAKES)
    },
    "not deterministic": (
        lambda run: _probes(run, lambda r, n, e: e, lambda r, n, e: e * 1.01),
        "get_vec not deterministic",
        "model.eval()",
    ),
    "another embedding": (
        lambda run: _probes(run, lambda r, n, e: np.random.default_rng(1).normal(size=EMBEDDING_DIM)),
        "another embedding",
        "cosine similarity",
    ),
    "imported": (
        lambda run: {**_probes(run, lambda r, n, e: e), "module": "helpers.reference.embedding"},
        "C imported",
        "not imported",
    ),
    "not defined": (
        lambda run: {"defined": False, "module": "builtins", "probes": {}},
        "C not defined",
        "class named C",
    ),
    "raised": (
        lambda run: _probes(run, lambda r, n, e: "RuntimeError: Expected 4D input (got 3D input)"),
        "no batch dimension",
        "unsqueeze(0)",
    ),
    "fc kept": (lambda run: _probes(run, lambda r, n, e: np.zeros(1000)), "fc layer kept", "torch.nn.Identity()"),
    "before pooling": (
        lambda run: _probes(run, lambda r, n, e: np.zeros(25088)),
        "feature map before pooling",
        "avgpool",
    ),
    "not flat": (lambda run: _probes(run, lambda r, n, e: np.zeros((1, 512))), "not a flat vector", "output[0]"),
}


# ---------------------------------------------------------------- Q3 and Q4: names, vectors and the CSV


def _q3(names: list[str], vectors: np.ndarray) -> dict:
    return {"names": list(names), "names_type": "builtins.list", "vectors": np.asarray(vectors, dtype=np.float64)}


def _embeddings(run: Run) -> tuple[list[str], np.ndarray]:
    names, vectors = run.refs.embeddings
    return list(names), np.asarray(vectors, dtype=np.float64)


def _originals(run: Run) -> dict:
    names, _ = _embeddings(run)
    embedder = Embedder("resnet18", run.lab.weights, precision="fp32")
    return _q3(names, embedder.embed_images([load_rgb(run.lab.image_dir / name) for name in names]))


def _wrong_c(run: Run) -> dict:
    names, _ = _embeddings(run)
    made = [reproduce(CLASS_C_MISTAKES[0], load_rgb(run.refs.input_dir / name), run.lab.weights) for name in names]
    return _q3(names, np.stack(made))


Q3 = {
    "right": (lambda run: _q3(*_embeddings(run)), None, ""),
    "reordered": (
        lambda run: _q3(_embeddings(run)[0], _embeddings(run)[1][::-1]),
        "rows in another order than names",
        "order of names",
    ),
    "same vector": (
        lambda run: _q3(_embeddings(run)[0], np.repeat(_embeddings(run)[1][:1], 12, axis=0)),
        "the same vector in every row",
        "same vector",
    ),
    "originals": (_originals, "the original photos embedded", "original photos"),
    "wrong C": (_wrong_c, f"a class C with a mistake ({CLASS_C_MISTAKES[0].name})", "training mode"),
    "other": (
        lambda run: _q3(_embeddings(run)[0], np.random.default_rng(2).normal(size=(12, 512))),
        "other vectors",
        "rows are not the embedding",
    ),
    "names not a list": (
        lambda run: {**_q3(*_embeddings(run)), "names": None, "names_type": "builtins.int"},
        "names not a list",
        "not int",
    ),
    "some images": (
        lambda run: _q3(_embeddings(run)[0][:5], _embeddings(run)[1][:5]),
        "not every image once",
        "each once",
    ),
    "not numbers": (
        lambda run: {**_q3(*_embeddings(run)), "vectors": "ValueError: could not convert"},
        "vectors not numbers",
        "NumPy array",
    ),
    "wrong shape": (
        lambda run: _q3(_embeddings(run)[0], _embeddings(run)[1][:, :100]),
        "vectors of the wrong shape",
        "(12, 512)",
    ),
}


def _csv(run: Run, names, vectors, **options) -> dict:
    if options:
        frame = pd.DataFrame(vectors)
        frame.insert(0, "image", names)
        frame.to_csv(run.lab.embeddings_csv, **{"index": False, **options})
    else:
        write_embeddings(names, vectors, run.lab.embeddings_csv)
    return _q3(*_embeddings(run))


Q4 = {
    "right": (lambda run: _csv(run, *_embeddings(run)), None, ""),
    "faithful copy of wrong vectors": (
        lambda run: {**_csv(run, _embeddings(run)[0], _embeddings(run)[1] * 2), "vectors": _embeddings(run)[1] * 2},
        None,
        "",
    ),
    "rounded": (
        lambda run: _csv(run, *_embeddings(run), float_format="%.1f"),
        "numbers rounded when written",
        "rounded to 1 decimal",
    ),
    "names shuffled": (
        lambda run: _csv(run, _embeddings(run)[0][::-1], _embeddings(run)[1], float_format="%.9g"),
        "names next to other images' vectors",
        "another image than its name",
    ),
    "index written": (lambda run: _csv(run, *_embeddings(run), index=True), "index written", "write the index"),
    "not written": (lambda run: _q3(*_embeddings(run)), "CSV not written", "lab5_work/embeddings.csv"),
}


# ---------------------------------------------------------------- Q5-Q8: tables as Spark's evidence looks


def _df(run: Run, vectors: np.ndarray | None = None, **options) -> dict:
    names, reference = _embeddings(run)
    return _table(names, _components(reference if vectors is None else vectors), **options)


def _features(run: Run, vectors: np.ndarray) -> dict:
    names, _ = _embeddings(run)
    found = _table(names, {"features": list(vectors)}, [["image", "string"], ["features", "vector"]])
    return {**found, "vector_columns": ["features"]}


def _unit(run: Run) -> np.ndarray:
    return unit_vectors(_embeddings(run)[1])


Q5 = {
    "right": (lambda run: _df(run), None, ""),
    "reordered": (lambda run: _df(run, _embeddings(run)[1][:, ::-1]), "columns in another order", "reordering"),
    "other numbers": (lambda run: _df(run, _embeddings(run)[1] + 1), "other numbers", "EMBEDDINGS_CSV"),
    "missing rows": (
        lambda run: _table(_embeddings(run)[0][:6], _components(_embeddings(run)[1][:6])),
        "not every image once",
        "exactly once",
    ),
    "pandas": (lambda run: _df(run, kind="pandas.core.frame.DataFrame"), "not a Spark DataFrame", "Spark DataFrame"),
    "no header": (
        lambda run: _df(run, dtypes=[["_c0", "string"], *[[f"v{i}", "double"] for i in range(512)]]),
        "read without header=True",
        "header=True",
    ),
    "strings": (
        lambda run: _df(run, dtypes=[["image", "string"], *[[f"v{i}", "string"] for i in range(512)]]),
        "numbers read as strings",
        "inferSchema",
    ),
}

Q6 = {
    "right": (lambda run: _features(run, _unit(run)), None, ""),
    "not normalised": (lambda run: _features(run, _embeddings(run)[1]), "not normalised", "Normalizer(p=2.0)"),
    "p=1": (
        lambda run: _features(run, _unit(run) / np.abs(_unit(run)).sum(axis=1, keepdims=True)),
        "normalised with p=1",
        "p=1",
    ),
    "sorted columns": (
        lambda run: _features(run, _unit(run)[:, sorted(range(512), key=str)]),
        "columns in another order",
        "not sorted",
    ),
    "not a vector": (
        lambda run: {**_features(run, _unit(run)), "vector_columns": []},
        "features not a vector column",
        "VectorAssembler",
    ),
}


def _model(run: Run, seed: int | None = None, **overrides) -> dict:
    return {
        "type": "pyspark.ml.feature.BucketedRandomProjectionLSHModel",
        "getInputCol": "features",
        "getOutputCol": "hashes",
        "getBucketLength": BUCKET_LENGTH,
        "getNumHashTables": NUM_HASH_TABLES,
        "projections": lsh_projections(NUM_HASH_TABLES, EMBEDDING_DIM, run.lab.seed if seed is None else seed),
        **overrides,
    }


Q7 = {
    "right": (lambda run: _model(run), None, ""),
    "lab's seed, not the run's": (lambda run: _model(run, seed=5), "not seeded with SEED", "seed=SEED"),
    "estimator": (
        lambda run: {"type": "pyspark.ml.feature.BucketedRandomProjectionLSH"},
        "the estimator, not fitted",
        ".fit(assembled)",
    ),
    "raw features": (lambda run: _model(run, getInputCol="raw_features"), "fitted on another column", "'features'"),
    "bucket length": (lambda run: _model(run, getBucketLength=2.0), "other parameters", "BUCKET_LENGTH"),
    "dimensions": (lambda run: _model(run, projections=np.ones((2, 10))), "other tables or dimensions", "512"),
}


def _hashed(run: Run, projections: np.ndarray, model: dict | None = None, rows: int = 12) -> dict:
    names = _embeddings(run)[0][:rows]
    hashes = lsh_hashes(projections, BUCKET_LENGTH, _unit(run)[:rows])
    table = _table(
        names,
        {"features": list(_unit(run)[:rows]), "hashes": [row.reshape(-1, 1) for row in hashes]},
        [["image", "string"], ["features", "vector"], ["hashes", "array<vector>"]],
    )
    return {"table": table, "model": model or _model(run)}


Q8 = {
    "right": (lambda run: _hashed(run, _model(run)["projections"]), None, ""),
    "another model": (
        lambda run: _hashed(run, _model(run)["projections"], _model(run, seed=1)),
        "hashed with another model",
        "another model",
    ),
    "other hashes": (
        lambda run: _hashed(run, _model(run, seed=7)["projections"]),
        "other hashes",
        "model.transform(assembled)",
    ),
    "some rows": (lambda run: _hashed(run, _model(run)["projections"], rows=5), "not every image once", "exactly once"),
    "model not fitted": (
        lambda run: _hashed(run, _model(run)["projections"], {"type": "x", "getInputCol": "features"}),
        "Q7's model not fitted",
        "fix Q7",
    ),
    "no hash column": (
        lambda run: {**_hashed(run, _model(run)["projections"]), "table": _table([], {})},
        "no hash column",
        "model.transform",
    ),
}


# ---------------------------------------------------------------- Q9-Q12: the query and its neighbours


def _query(run: Run) -> str:
    return run.lab.image_names[3]


def _q9(name: object) -> dict:
    return {"query_image": name if isinstance(name, str) else None, "query_image_type": type(name).__name__}


Q9 = {
    "right": (lambda run: _q9(_query(run)), None, ""),
    "path": (lambda run: _q9(str(run.lab.image_dir / _query(run))), "a path, not a file name", "file name alone"),
    "outside the run": (
        lambda run: _q9(next(n for n in run.lab.dataset.image_files() if n not in run.lab.image_names)),
        "an image outside the run",
        "not one of the 12",
    ),
    "made up": (lambda run: _q9("00042-nowhere.jpg"), "not an image of the run", "not one of the images"),
    "an index": (lambda run: _q9(3), "not a file name", "file name (str)"),
}


def _q10(run: Run, vector: object) -> dict:
    return {**_q9(_query(run)), "query_vector": np.asarray(vector, dtype=np.float64)}


def _unit_of(run: Run, name: str) -> np.ndarray:
    return run.refs.unit[name]


Q10 = {
    "right": (lambda run: _q10(run, _unit_of(run, _query(run))), None, ""),
    "raw": (lambda run: _q10(run, _unit_of(run, _query(run)) * 7), "not unit length", "length 7.00"),
    "another image": (
        lambda run: _q10(run, _unit_of(run, run.lab.image_names[0])),
        "another image's vector",
        "not of query_image",
    ),
    "another vector": (lambda run: _q10(run, unit_vectors(np.ones(512))), "another vector", "features column"),
    "hashes": (lambda run: _q10(run, [1.0, -2.0]), "the hashes", "those are the hashes"),
}


def _q11(run: Run, names: list[str], distances: list[float]) -> dict:
    table = _table(names, {"distCol": np.asarray(distances)}, [["image", "string"], ["distCol", "double"]])
    return {**_q9(_query(run)), "table": table}


def _exact(run: Run, k: int = 5) -> pd.DataFrame:
    names = list(run.refs.unit)
    return exact_neighbors(names, np.stack(list(run.refs.unit.values())), _unit_of(run, _query(run)), k)


Q11 = {
    "right": (lambda run: _q11(run, _exact(run).image.tolist(), _exact(run).distance.tolist()), None, ""),
    "four": (
        lambda run: _q11(run, _exact(run, 4).image.tolist(), _exact(run, 4).distance.tolist()),
        "not 5 rows",
        "k=5",
    ),
    "another key": (
        lambda run: _q11(run, [*_exact(run).image.tolist()[1:], "x"], [0.1, 0.2, 0.3, 0.4, 0.5]),
        "queried with another vector",
        "distance 0",
    ),
    "raw key": (
        lambda run: _q11(run, _exact(run).image.tolist(), [30.0, 31, 32, 33, 34]),
        "key not unit length",
        "more than any two unit vectors",
    ),
    "strangers": (
        lambda run: _q11(run, [_query(run), *_exact(run, 12).image.tolist()[-4:]], [0.0, 1, 1, 1, 1]),
        "too few true neighbours",
        "approxNearestNeighbors",
    ),
    "no rows": (lambda run: _q11(run, [], []), "no rows", "shares a bucket"),
}


def _q12(run: Run, names: list[str | None]) -> dict:
    pictures = []
    for name in names:
        image = load_rgb(run.lab.image_dir / name) if name else Image.new("RGB", (80, 60), (10, 200, 30))
        image.thumbnail((96, 96))
        pictures.append(np.asarray(image))
    return {**_q9(_query(run)), "type": "matplotlib.figure.Figure", "pictures": pictures}


Q12 = {
    "right": (lambda run: _q12(run, _exact(run).image.tolist()), None, ""),
    # An approximate answer Q11 accepts (4 of the 5 nearest, one far image): its figure passes too.
    "four of five": (
        lambda run: _q12(run, [*_exact(run).image.tolist()[:4], _exact(run, 30).image.tolist()[-1]]),
        None,
        "",
    ),
    "same picture": (lambda run: _q12(run, [_query(run)] * 5), "the same picture repeated", "same picture 5 times"),
    "not dataset photos": (
        lambda run: _q12(run, [*_exact(run).image.tolist()[:4], None]),
        "pictures that are not dataset photos",
        "not images of the dataset",
    ),
    "not neighbours": (
        lambda run: _q12(run, _exact(run, 12).image.tolist()[-5:]),
        "pictures that are not neighbours",
        "not among the nearest neighbours",
    ),
    "no pictures": (lambda run: _q12(run, []), "fewer than 5 pictures", "imshow"),
    "not a figure": (
        lambda run: {**_q12(run, []), "type": "matplotlib.axes._axes.Axes"},
        "not a figure",
        "plt.subplots",
    ),
}

#: Each check's settings as the source notebooks' test cells give them (Q11's at_least).
SETTINGS = {
    grade_id(cell): settings_of(cell.source)
    for cells in source_cells().values()
    for cell in cells
    if is_test_cell(cell)
}

CASES = {
    "q1_resize_224_jpeg": Q1,
    "q2_class_c_get_vec": Q2,
    "q3_all_embeddings": Q3,
    "q4_embeddings_csv": Q4,
    "q5_spark_dataframe": Q5,
    "q6_features_vector": Q6,
    "q7_brp_model": Q7,
    "q8_hashed_dataframe": Q8,
    "q9_random_query_image": Q9,
    "q10_query_vector": Q10,
    "q11_five_nearest_neighbors": Q11,
    "q12_neighbor_figure": Q12,
}


@pytest.mark.parametrize(
    ("grade", "case"),
    [(grade, case) for grade, cases in CASES.items() for case in cases],
    ids=[f"{grade.split('_')[0]}-{case}" for grade, cases in CASES.items() for case in cases],
)
def test_the_check_finds_what_is_wrong(run, grade, case):
    """The verdict on hand-made evidence: passed for the right answer, else the diagnosis and its words."""
    make, diagnosis, words = CASES[grade][case]
    outcome = verdict(grade, run.lab, make(run), run.refs, SETTINGS[grade])
    if diagnosis is None:
        assert outcome.passed, outcome.message
    else:
        assert not outcome.passed and outcome.diagnosis.name.startswith(diagnosis), (outcome.diagnosis, diagnosis)
        assert words in outcome.message, outcome.message


def test_every_question_has_a_right_answer_and_wrong_ones():
    """Each question is covered: its right answer and at least three diagnoses."""
    from grading.questions import questions

    assert set(CASES) == set(questions())
    assert all("right" in cases and len(cases) >= 4 for cases in CASES.values())


def test_q1_problems_follow_the_files_bytes_not_an_earlier_answer(run):
    """Asked again after a file changed (as the grader asks once per notebook), Q1's check sees the new bytes; a
    pipe under an image's name counts as missing and is never opened (opening it would wait forever).
    """
    _resized(run)
    assert resized_problems(run.lab.resized_dir, run.lab) == []
    first, second = run.lab.image_names[:2]
    ImageOps.mirror(load_rgb(run.refs.resized_dir / first)).save(run.lab.resized_dir / first, format="JPEG")
    (run.lab.resized_dir / second).unlink()
    os.mkfifo(run.lab.resized_dir / second)
    problems = resized_problems(run.lab.resized_dir, run.lab)
    assert [problem.name for problem in problems] == ["content differs from a plain resize", "images missing"]
    assert problems[0].message.startswith(first) and problems[1].message.startswith(second)


def test_q11_takes_its_threshold_from_the_test_cell(run):
    """Four of the five exact neighbours pass with the source's ``at_least=4`` and fail with 5."""
    exact = _exact(run, 6)
    names, distances = [*exact.image.tolist()[:4], exact.image.tolist()[5]], [*exact.distance.tolist()[:4], 9.0]
    grade = "q11_five_nearest_neighbors"
    assert SETTINGS[grade] == {"at_least": 4}
    assert verdict(grade, run.lab, _q11(run, names, distances), run.refs, {"at_least": 4}).passed
    strict = verdict(grade, run.lab, _q11(run, names, distances), run.refs, {"at_least": 5})
    assert strict.diagnosis.name == "too few true neighbours" and "only 4 of these 5" in strict.message


def _lab_index(spark, names: list[str], vectors: np.ndarray, seed: int):
    """Spark's BucketedRandomProjectionLSH fitted as the lab fits it, and its hashed (cached) table."""
    features = assemble(embeddings_df(spark, names, vectors))
    model = fit_lsh(features, seed=seed)
    return model, model.transform(features).cache()


def test_the_grader_answers_as_the_lab_index_does(run, spark):
    """For every image of the run, the grader's copy of the index (NumPy) returns Spark's 5 images."""
    names, vectors = list(run.refs.unit), np.stack(list(run.refs.unit.values()))
    model, hashed = _lab_index(spark, names, vectors, run.lab.seed)
    for query in names:
        answer = nearest_neighbors(model, hashed, run.refs.unit[query], 5)
        assert set(answer.image) == set(run.refs.lsh_top(query, 5)), query
    hashed.unpersist()


def test_q11_passes_what_the_lab_index_answers_even_below_its_threshold(run, spark):
    """Three images nearer to the query than any other but across a bucket edge in every table: the index
    misses them, and its answer (2 of the 5 exact neighbours) still passes, as an honest answer must.
    """
    query, projections = _query(run), run.refs.projections
    q = run.refs.unit[query]
    positions = projections @ q / BUCKET_LENGTH  # in buckets
    edge = np.where(positions % 1 < 0.5, np.floor(positions) - 0.05, np.floor(positions) + 1.05)
    across = projections.T @ np.linalg.solve(projections @ projections.T, (edge - positions) * BUCKET_LENGTH)
    rng = np.random.default_rng(SEED)
    sideways = rng.normal(size=(13, EMBEDDING_DIM))
    sideways -= sideways @ projections.T @ np.linalg.solve(projections @ projections.T, projections)  # same buckets
    sideways /= np.linalg.norm(sideways, axis=1, keepdims=True)
    hidden = [q + across + 0.002 * (k + 1) * sideways[k] for k in range(3)]
    shown = [q + (2 * np.linalg.norm(across) + 0.01 * k) * sideways[3 + k] for k in range(10)]
    names = [query, *(f"hidden{k}.jpg" for k in range(3)), *(f"shown{k}.jpg" for k in range(10))]
    vectors = unit_vectors(np.stack([q, *hidden, *shown]))
    refs = References(run.lab)
    refs.__dict__.update(unit=dict(zip(names, vectors)), projections=projections)
    model, hashed = _lab_index(spark, names, vectors, run.lab.seed)
    answer = nearest_neighbors(model, hashed, vectors[0], 5)
    hashed.unpersist()
    assert set(answer.image) == set(refs.lsh_top(query, 5)) and not set(answer.image) & set(names[1:4])
    assert len(set(answer.image) & set(refs.exact_top(query, 5))) == 2
    evidence = {**_q9(query), "table": _table(answer.image.tolist(), {"distCol": answer.distance.to_numpy()})}
    for at_least in (4, 5):
        assert verdict("q11_five_nearest_neighbors", run.lab, evidence, refs, {"at_least": at_least}).passed


def test_the_settings_of_a_hidden_test_are_its_literal_keywords():
    assert settings_of("from grading.hidden import grade\n\ngrade(_found, at_least=5, name='x')") == {
        "at_least": 5,
        "name": "x",
    }
    assert settings_of("grade(_found)") == {}
