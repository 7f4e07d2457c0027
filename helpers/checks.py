"""The visible tests: what each answer must look like, checked on plain data taken from it.

A test cell calls ``checks.visible("q5_spark_dataframe", df=df)``: :func:`evidence` turns the answer
into plain data (names, arrays, column types, picture pixels) and :func:`visible_problems` lists what
is wrong with it, in words that say what to fix. The autograder runs the same two functions on the
same plain data, outside the student's kernel, before its hidden checks (``grading.checks``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from helpers.lab import EMBEDDING_DIM, LabSetup, load_resnet18, reference_resized_dir
from helpers.transforms import IMAGE_SIZE, load_rgb

Evidence = dict[str, Any]
NUMERIC_TYPES = ("double", "float", "int", "bigint", "smallint", "tinyint")
#: Pictures in a figure are shrunk to this many pixels on the long side before they are compared.
PICTURE_SIZE = 96


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _array(value: object) -> np.ndarray | str:
    """A float64 array (Spark vectors and lists of them too), or the reason the value is not one."""
    try:
        if isinstance(value, (list, tuple)) and value and hasattr(value[0], "toArray"):
            return np.stack([v.toArray() for v in value]).astype(np.float64)
        values = value.toArray() if hasattr(value, "toArray") else value
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        return f"{error.__class__.__name__}: {error}"


def _table(frame: object) -> Evidence:
    """Columns, column types and rows of a Spark or pandas DataFrame (vectors and arrays as arrays)."""
    evidence: Evidence = {"type": _type_name(frame)}
    if hasattr(frame, "toPandas") and hasattr(frame, "dtypes"):
        from pyspark.ml.linalg import VectorUDT

        evidence["dtypes"] = [[name, kind] for name, kind in frame.dtypes]
        evidence["vector_columns"] = [
            field.name for field in frame.schema.fields if isinstance(field.dataType, VectorUDT)
        ]
        table = frame.toPandas()
    elif hasattr(frame, "to_numpy") and hasattr(frame, "columns"):
        table = frame
        evidence["dtypes"] = [
            [str(name), "double" if np.issubdtype(kind, np.number) else "string"] for name, kind in table.dtypes.items()
        ]
        evidence["vector_columns"] = []
    else:
        return evidence
    evidence["columns"] = {}
    for name in table.columns:
        column = table[name]
        if name == "image" or (column.dtype == object and len(column) and isinstance(column.iloc[0], str)):
            evidence["columns"][str(name)] = [str(value) for value in column]
        elif column.dtype != object:
            evidence["columns"][str(name)] = column.to_numpy(dtype=np.float64, na_value=np.nan)  # all rows at once
        else:
            evidence["columns"][str(name)] = [_array(value) for value in column]  # vectors, arrays of vectors
    return evidence


def probe_images(lab: LabSetup) -> list[str]:
    """The images class C is tried on: the run's first colour photo, its first image and its last.

    A grey photo hides mistakes with the colour channels (reversed, or made grey), so one must be in colour.
    """
    folder = reference_resized_dir(lab)
    colour = next(
        (name for name in lab.image_names if np.ptp(np.asarray(load_rgb(folder / name), np.int16), axis=2).max() > 30),
        lab.image_names[0],
    )
    return list(dict.fromkeys([colour, lab.image_names[0], lab.image_names[-1]]))


def _collect_q1(lab: LabSetup) -> Evidence:
    return {}  # the answer is the files in LAB.resized_dir


def _collect_q2(lab: LabSetup, C: object = None) -> Evidence:
    evidence: Evidence = {"defined": inspect.isclass(C), "module": getattr(C, "__module__", ""), "probes": {}}
    if not evidence["defined"]:
        return evidence
    folder = reference_resized_dir(lab)
    for name in probe_images(lab):
        runs = []
        for _ in range(2):  # twice, with fresh objects: the second run shows whether get_vec is deterministic
            try:
                with Image.open(folder / name) as image:
                    runs.append(_array(C(load_resnet18(lab)).get_vec(image)))
            except Exception as error:  # the student's code may raise anything; the message is evidence
                runs.append(f"{error.__class__.__name__}: {error}")
        evidence["probes"][name] = runs
    return evidence


def _collect_q3(lab: LabSetup, names: object = None, vectors: object = None) -> Evidence:
    listed = isinstance(names, (list, tuple, np.ndarray))
    return {
        "names": [str(n) for n in names] if listed else None,
        "names_type": _type_name(names),
        "vectors": _array(vectors),
    }


def _collect_q4(lab: LabSetup, names: object = None, vectors: object = None) -> Evidence:
    return _collect_q3(lab, names, vectors)  # the answer is LAB.embeddings_csv; Q3's vectors may be stored


def _collect_q5(lab: LabSetup, df: object = None) -> Evidence:
    return _table(df)


def _collect_q6(lab: LabSetup, assembled: object = None) -> Evidence:
    return _table(assembled)


def _collect_q7(lab: LabSetup, model: object = None) -> Evidence:
    evidence: Evidence = {"type": _type_name(model)}
    for getter in ("getInputCol", "getOutputCol", "getBucketLength", "getNumHashTables"):
        with contextlib.suppress(Exception):  # not every object has every parameter
            evidence[getter] = getattr(model, getter)()
    java = getattr(model, "_java_obj", None)
    if java is not None and hasattr(model, "approxNearestNeighbors"):
        matrix = java.randMatrix()  # one random unit vector per hash table, as rows
        evidence["projections"] = (
            np.asarray(matrix.toArray(), dtype=np.float64).reshape(matrix.numCols(), matrix.numRows()).T.copy()
        )
    return evidence


def _collect_q8(lab: LabSetup, hashed: object = None, model: object = None) -> Evidence:
    return {"table": _table(hashed), "model": _collect_q7(lab, model)}


def _collect_q9(lab: LabSetup, query_image: object = None) -> Evidence:
    return {
        "query_image": query_image if isinstance(query_image, str) else None,
        "query_image_type": _type_name(query_image),
    }


def _collect_q10(lab: LabSetup, query_image: object = None, query_vector: object = None) -> Evidence:
    return {**_collect_q9(lab, query_image), "query_vector": _array(query_vector)}


def _collect_q11(lab: LabSetup, query_image: object = None, neighbors: object = None) -> Evidence:
    if isinstance(neighbors, list):  # a list of Rows, e.g. from .collect()
        import pandas as pd

        neighbors = pd.DataFrame([row.asDict() if hasattr(row, "asDict") else dict(row) for row in neighbors])
    return {**_collect_q9(lab, query_image), "table": _table(neighbors)}


def _collect_q12(lab: LabSetup, query_image: object = None, fig: object = None) -> Evidence:
    evidence: Evidence = {**_collect_q9(lab, query_image), "type": _type_name(fig), "pictures": [], "titles": []}
    for axis in getattr(fig, "axes", []):
        for picture in axis.get_images():
            pixels = np.asarray(picture.get_array())
            if pixels.dtype != np.uint8:
                pixels = np.clip(pixels * (255.0 if pixels.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels)
            image.thumbnail((PICTURE_SIZE, PICTURE_SIZE))
            evidence["pictures"].append(np.asarray(image.convert("RGB")))
            evidence["titles"].append(axis.get_title())
    return evidence


COLLECTORS: dict[str, Callable[..., Evidence]] = {
    "q1_resize_224_jpeg": _collect_q1,
    "q2_class_c_get_vec": _collect_q2,
    "q3_all_embeddings": _collect_q3,
    "q4_embeddings_csv": _collect_q4,
    "q5_spark_dataframe": _collect_q5,
    "q6_features_vector": _collect_q6,
    "q7_brp_model": _collect_q7,
    "q8_hashed_dataframe": _collect_q8,
    "q9_random_query_image": _collect_q9,
    "q10_query_vector": _collect_q10,
    "q11_five_nearest_neighbors": _collect_q11,
    "q12_neighbor_figure": _collect_q12,
}


def evidence(grade_id: str, lab: LabSetup, **answers: object) -> Evidence:
    """The plain data a test needs from the answers of one question (see COLLECTORS)."""
    return COLLECTORS[grade_id](lab, **answers)


# ---------------------------------------------------------------- the visible checks


def numeric_columns(evidence: Evidence) -> list[str]:
    """The numeric columns of a table, in order (the image column aside)."""
    return [
        name
        for name, kind in evidence.get("dtypes", [])
        if name != "image" and (kind in NUMERIC_TYPES or kind.startswith("decimal"))
    ]


def _visible_q1(lab: LabSetup, found: Evidence) -> list[str]:
    folder = lab.resized_dir
    missing = [name for name in lab.image_names if not (folder / name).is_file()]
    if missing:
        return [
            f"{len(missing)} of {len(lab.image_names)} images are missing from {folder}, e.g. {missing[:3]}: "
            "save each resized image there under its original file name"
        ]
    name = lab.image_names[0]
    with Image.open(folder / name) as image:
        if image.size != (IMAGE_SIZE, IMAGE_SIZE):
            return [
                f"{name} is {image.size[0]}x{image.size[1]}: T.Resize(224) keeps the aspect ratio, "
                "T.Resize((224, 224)) does not"
            ]
        if image.format != "JPEG":
            return [f"{name} was saved as {image.format}; save with format='JPEG'"]
        if image.mode != "RGB":
            return [f"{name} has mode {image.mode}; convert each image to 'RGB' first"]
    return []


#: Vector lengths that come from the wrong place in ResNet-18, and where they come from.
WRONG_LAYERS = {
    1000: "the 1000 class scores of the final fc layer: replace model.fc by torch.nn.Identity() (or read avgpool)",
    25088: "layer4's 512x7x7 feature map before the average pooling: take the output of avgpool",
    256: "the 256 features of layer3: take the output of avgpool, after layer4",
}


def _visible_q2(lab: LabSetup, found: Evidence) -> list[str]:
    if not found["defined"]:
        return ["define a class named C in the answer cell"]
    name, runs = next(iter(found["probes"].items()))
    vector = runs[0]
    if isinstance(vector, str):
        hint = " (add the batch dimension: unsqueeze(0))" if "4D" in vector or "3D" in vector else ""
        return [f"C(resnet).get_vec({name}) raised {vector}{hint}"]
    if vector.size in WRONG_LAYERS:
        return [
            f"get_vec returned {vector.size} numbers, expected {EMBEDDING_DIM}: that is {WRONG_LAYERS[vector.size]}"
        ]
    if vector.shape != (EMBEDDING_DIM,):
        return [
            f"get_vec returned shape {vector.shape}, expected ({EMBEDDING_DIM},): return the {EMBEDDING_DIM} numbers "
            "of the average-pool layer as one flat array (e.g. output[0].numpy())"
        ]
    return []


def _visible_q3(lab: LabSetup, found: Evidence) -> list[str]:
    names, vectors = found["names"], found["vectors"]
    if names is None:
        return [f"names must be a list of file names, not {found['names_type'].rsplit('.', 1)[-1]}"]
    if sorted(names) != sorted(lab.image_names):
        return [
            f"names must be the {len(lab.image_names)} images of LAB.image_names, each once (got {len(names)} names)"
        ]
    if isinstance(vectors, str):
        return [f"vectors must be a NumPy array of numbers ({vectors})"]
    if vectors.shape != (len(names), EMBEDDING_DIM):
        return [f"vectors has shape {vectors.shape}, expected ({len(names)}, {EMBEDDING_DIM})"]
    return []


def _visible_q4(lab: LabSetup, found: Evidence) -> list[str]:
    import pandas as pd

    path = lab.embeddings_csv
    if not path.is_file():
        return [f"write the CSV to {path}"]
    header = list(pd.read_csv(path, nrows=0).columns)
    if "image" not in header:
        return [f"the CSV needs a column named 'image' with the file names; its header starts {header[:3]}"]
    if len(header) != EMBEDDING_DIM + 1:
        return [
            f"expected {EMBEDDING_DIM + 1} columns (image + {EMBEDDING_DIM} numbers), found {len(header)}: "
            "did you write the index too?"
        ]
    return []


def _spark_type_problem(found: Evidence, name: str) -> list[str]:
    kind = found["type"].rsplit(".", 1)[-1]
    if not found["type"].startswith("pyspark.sql"):
        return [f"{name} must be a Spark DataFrame, not {kind}"]
    return []


def _visible_q5(lab: LabSetup, found: Evidence) -> list[str]:
    columns = [name for name, _ in found.get("dtypes", [])]
    if problems := _spark_type_problem(found, "df"):
        return problems
    if "image" not in columns:
        return [
            f"df needs the image column; its columns start {columns[:3]}: read the CSV with header=True, so "
            "that its first line names the columns"
        ]
    if len(numeric_columns(found)) != EMBEDDING_DIM:
        return [
            f"{len(numeric_columns(found))} numeric columns, expected {EMBEDDING_DIM}: use inferSchema=True "
            "(or a schema) so the numbers are not read as strings"
        ]
    return []


def _visible_q6(lab: LabSetup, found: Evidence) -> list[str]:
    if problems := _spark_type_problem(found, "assembled"):
        return problems
    columns = found.get("columns", {})
    if "features" not in columns or "image" not in columns:
        return ["assembled needs the columns image and features"]
    if "features" not in found["vector_columns"]:
        return ["features must be a vector column (VectorAssembler)"]
    first = columns["features"][0] if columns["features"] else np.zeros(0)
    if len(first) != EMBEDDING_DIM:
        return [
            f"features has {len(first)} entries, expected {EMBEDDING_DIM}: "
            "assemble every number column and nothing else"
        ]
    if abs(np.linalg.norm(first) - 1) > 1e-6:
        if abs(np.abs(first).sum() - 1) < 1e-6:
            return [
                "features sum to 1 in absolute value (p=1): normalise with Normalizer(p=2.0), to Euclidean length 1"
            ]
        return [f"features must have length 1 (it is {np.linalg.norm(first):.3g}): apply Normalizer(p=2.0)"]
    return []


def _visible_q7(lab: LabSetup, found: Evidence) -> list[str]:
    kind = found["type"].rsplit(".", 1)[-1]
    if kind == "BucketedRandomProjectionLSH":
        return ["model is the estimator: call .fit(assembled) and keep what it returns"]
    if kind != "BucketedRandomProjectionLSHModel" or "projections" not in found:
        return [f"model must be a fitted BucketedRandomProjectionLSHModel, not {kind}"]
    if found.get("getInputCol") != "features":
        return [f"the model reads {found.get('getInputCol')!r}; it must read 'features'"]
    from helpers.spark import BUCKET_LENGTH, NUM_HASH_TABLES

    if found.get("getBucketLength") != BUCKET_LENGTH or found.get("getNumHashTables") != NUM_HASH_TABLES:
        return [
            f"the model has bucketLength={found.get('getBucketLength')} and numHashTables="
            f"{found.get('getNumHashTables')}: use BUCKET_LENGTH and NUM_HASH_TABLES from the cell above"
        ]
    return []


def _visible_q8(lab: LabSetup, found: Evidence) -> list[str]:
    table = found["table"]
    if problems := _spark_type_problem(table, "hashed"):
        return problems
    if not [name for name, kind in table["dtypes"] if kind.startswith("array<")]:
        return ["hashed has no hash column: use model.transform(assembled)"]
    return []


def _visible_q9(lab: LabSetup, found: Evidence) -> list[str]:
    if found["query_image"] is None:
        return [f"query_image must be a file name (str), not {found['query_image_type'].rsplit('.', 1)[-1]}"]
    return []


def _visible_q10(lab: LabSetup, found: Evidence) -> list[str]:
    vector = found["query_vector"]
    if isinstance(vector, str):
        return [f"query_vector must be a vector of numbers ({vector})"]
    if vector.size != EMBEDDING_DIM:
        hint = ": those are the hashes; take the features column" if vector.size < 16 else ""
        return [f"query_vector has {vector.size} entries, expected {EMBEDDING_DIM}{hint}"]
    return []


def _visible_q11(lab: LabSetup, found: Evidence) -> list[str]:
    columns = found["table"].get("columns")
    if columns is None:
        return [f"neighbors must be a DataFrame, not {found['table']['type']}"]
    if "image" not in columns:
        return ["neighbors must keep the image column"]
    if not columns["image"]:
        return [
            "neighbors has no rows: no indexed image shares a bucket with the key, so query with query_vector, "
            "the unit-length features vector the index was built from (and k=5)"
        ]
    if len(columns["image"]) != 5:
        return [f"neighbors has {len(columns['image'])} rows; ask for k=5"]
    return []


def _visible_q12(lab: LabSetup, found: Evidence) -> list[str]:
    if found["type"] != "matplotlib.figure.Figure":
        return [f"fig must be a matplotlib Figure (e.g. from plt.subplots), not {found['type'].rsplit('.', 1)[-1]}"]
    if len(found["pictures"]) < 5:
        return [f"fig shows {len(found['pictures'])} images; show each of the 5 neighbours with imshow"]
    return []


VISIBLE: dict[str, Callable[[LabSetup, Evidence], list[str]]] = {
    "q1_resize_224_jpeg": _visible_q1,
    "q2_class_c_get_vec": _visible_q2,
    "q3_all_embeddings": _visible_q3,
    "q4_embeddings_csv": _visible_q4,
    "q5_spark_dataframe": _visible_q5,
    "q6_features_vector": _visible_q6,
    "q7_brp_model": _visible_q7,
    "q8_hashed_dataframe": _visible_q8,
    "q9_random_query_image": _visible_q9,
    "q10_query_vector": _visible_q10,
    "q11_five_nearest_neighbors": _visible_q11,
    "q12_neighbor_figure": _visible_q12,
}


def visible_problems(grade_id: str, lab: LabSetup, found: Evidence) -> list[str]:
    """What the visible test of ``grade_id`` finds wrong with the evidence (empty when nothing)."""
    return VISIBLE[grade_id](lab, found)


def visible(grade_id: str, lab: LabSetup, **answers: object) -> list[str]:
    """Collect the evidence of the answers and return the visible test's problems (empty list: passed)."""
    return visible_problems(grade_id, lab, evidence(grade_id, lab, **answers))
