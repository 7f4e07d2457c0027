"""Evidence on disk: how a hidden test inside the sandbox hands its plain data to the grader outside.

The kernel writes one ``<grade_id>.json`` (structure and plain values) and one ``<grade_id>.npz``
(the arrays) per test; the grader reads them back. The files come from untrusted code, so reading
is strict: size limits, no pickles, no links followed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from helpers.checks import Evidence

#: Larger files are refused: a test's evidence is a few megabytes at most (Q12's pictures).
MAX_BYTES = 64 * 2**20


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
    """Write the evidence of one test into ``folder`` (inside the sandbox)."""
    arrays: dict[str, np.ndarray] = {}
    structure = _split(found, arrays)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{grade_id}.npz", "wb") as stream:
        np.savez(stream, **arrays)
    (folder / f"{grade_id}.json").write_text(json.dumps(structure))


def _read(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB")
    return data


def load(folder: Path, grade_id: str) -> Evidence | None:
    """The evidence a test wrote, or None when it wrote none. Raises ValueError for malformed files."""
    if not (folder / f"{grade_id}.json").exists():
        return None
    import io

    try:
        structure = json.loads(_read(folder / f"{grade_id}.json"))
        with np.load(io.BytesIO(_read(folder / f"{grade_id}.npz")), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        found = _join(structure, arrays)
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable evidence for {grade_id}: {error.__class__.__name__}") from None
    if not isinstance(found, dict):
        raise ValueError(f"malformed evidence for {grade_id}")
    return found
