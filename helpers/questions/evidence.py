"""Evidence: an answer turned into plain data (names, numbers, arrays, column types, pixels), and its file format.

The test cells collect evidence from the student's objects; the visible checks, and under the
autograder the hidden checks outside the sandbox, read only that. On disk a test's evidence is one
``<grade_id>.json`` (structure and plain values) and one ``<grade_id>.npz`` (the arrays). The files
come from untrusted code, so :func:`load` is strict: size limits, no pickles, no links followed, and
any damage is one :class:`EvidenceError`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

Evidence = dict[str, Any]
#: Larger evidence files are refused: a test's evidence is a few megabytes at most (Q12's pictures).
MAX_EVIDENCE_BYTES = 64 * 2**20


class EvidenceError(ValueError):
    """A test's evidence file cannot be used; the message says what is wrong with it."""


def type_name(value: object) -> str:
    """``module.QualifiedName`` of the value's type."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def as_array(value: object) -> np.ndarray | str:
    """A float64 array (Spark vectors and lists of them too), or the reason the value is not one."""
    try:
        if isinstance(value, (list, tuple)) and value and hasattr(value[0], "toArray"):
            return np.stack([v.toArray() for v in value]).astype(np.float64)
        values = value.toArray() if hasattr(value, "toArray") else value
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        return f"{error.__class__.__name__}: {error}"


def is_spark_frame(value: object) -> bool:
    """True for what behaves like a Spark DataFrame (toPandas and dtypes), without importing Spark."""
    return hasattr(value, "toPandas") and hasattr(value, "dtypes")


def _only(names: list[str], keep: Collection[str] | None) -> list[str] | None:
    """The columns of ``names`` in ``keep`` (None: all of them, or a name is ambiguous, so select would fail)."""
    if keep is None or len(set(names)) < len(names):
        return None
    return [name for name in names if name in keep]


def table(frame: object, keep: Collection[str] | None = None) -> Evidence:
    """Columns, column types and rows of a Spark or pandas DataFrame (vectors and arrays as arrays).

    ``keep``: the rows of only these columns, the ones a check reads (the types of all columns stay). Spark then
    collects a few columns instead of the 512 number columns that Part 3's DataFrames carry along.
    """
    evidence: Evidence = {"type": type_name(frame)}
    if is_spark_frame(frame):
        from pyspark.ml.linalg import VectorUDT

        evidence["dtypes"] = [[name, kind] for name, kind in frame.dtypes]
        evidence["vector_columns"] = [
            field.name for field in frame.schema.fields if isinstance(field.dataType, VectorUDT)
        ]
        if (kept := _only([name for name, _ in frame.dtypes], keep)) is not None:
            frame = frame.select(*("`" + name.replace("`", "``") + "`" for name in kept))
        rows = frame.toPandas()
    elif hasattr(frame, "to_numpy") and hasattr(frame, "columns"):
        rows = frame if (kept := _only(list(frame.columns), keep)) is None else frame[kept]
        evidence["dtypes"] = [
            [str(name), "double" if np.issubdtype(kind, np.number) else "string"] for name, kind in rows.dtypes.items()
        ]
        evidence["vector_columns"] = []
    else:
        return evidence
    evidence["columns"] = {}
    for position, name in enumerate(rows.columns):
        column = rows.iloc[:, position]  # by position: two columns may share a name
        if name == "image" or (column.dtype == object and len(column) and isinstance(column.iloc[0], str)):
            evidence["columns"][str(name)] = [str(value) for value in column]
        elif column.dtype != object:
            evidence["columns"][str(name)] = column.to_numpy(dtype=np.float64, na_value=np.nan)  # all rows at once
        else:
            evidence["columns"][str(name)] = [as_array(value) for value in column]  # vectors, arrays of vectors
    return evidence


def _split(value: object, arrays: dict[str, np.ndarray]) -> object:
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        return {str(k): _split(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, arrays) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _join(value: object, arrays: dict[str, np.ndarray]) -> object:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def save(found: Evidence, folder: Path, grade_id: str) -> None:
    """Write the evidence of one test into ``folder``."""
    arrays: dict[str, np.ndarray] = {}
    structure = _split(found, arrays)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{grade_id}.npz", "wb") as stream:
        np.savez(stream, **arrays)
    (folder / f"{grade_id}.json").write_text(json.dumps(structure))


def _read(path: Path, max_bytes: int) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise EvidenceError(f"{path.name} is larger than {max_bytes / 2**20:.0f} MB")
    return data


def load(folder: Path, grade_id: str, max_bytes: int = MAX_EVIDENCE_BYTES) -> Evidence | None:
    """The evidence a test wrote, or None when it wrote none; EvidenceError for anything unreadable."""
    if not (folder / f"{grade_id}.json").exists():
        return None
    try:
        structure = json.loads(_read(folder / f"{grade_id}.json", max_bytes))
        with np.load(io.BytesIO(_read(folder / f"{grade_id}.npz", max_bytes)), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        found = _join(structure, arrays)
    except EvidenceError:
        raise
    except Exception as error:  # truncated zips, bad JSON, missing arrays, links: all the same to the grader
        raise EvidenceError(f"its files are damaged ({error.__class__.__name__})") from None
    if not isinstance(found, dict):
        raise EvidenceError("its files hold no answer")
    return found
