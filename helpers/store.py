"""Files on disk: atomic writes, and reading the lab's embeddings tables (CSV or Parquet) back, checked for sense."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data import IMAGE_COLUMN

FORMATS = ("csv", "parquet")


class EmbeddingsFileError(ValueError):
    """An embeddings file cannot be used; the message names the file and what is wrong."""


def component_names(dim: int) -> list[str]:
    """Column names of the vector components in the lab's tables: v0 ... v{dim-1}."""
    return [f"v{i}" for i in range(dim)]


def format_of(path: Path) -> str:
    """``csv`` or ``parquet`` from the file suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise EmbeddingsFileError(f"{path}: unknown format {suffix!r}; use a .csv or .parquet file name")
    return suffix


def current_umask() -> int:
    """The process umask (reading it requires setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write`` on a temporary file next to ``path``, then rename it into place.

    Readers see either the old file or the complete new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp creates owner-only files; give the result the permissions a plain open() would.
        Path(temporary).chmod(0o666 & ~current_umask())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_embeddings(path: Path, dim: int | None = None) -> tuple[list[str], np.ndarray]:
    """Names and a float32 (N, dim) array from an embeddings CSV or Parquet file, checked for sense."""
    path = Path(path)
    if not path.is_file():
        raise EmbeddingsFileError(f"{path}: no such file; create it first (the embeddings notebook writes it)")
    try:
        if format_of(path) == "csv":
            frame = pd.read_csv(path, encoding="utf-8-sig", dtype={IMAGE_COLUMN: str})
        else:
            frame = pd.read_parquet(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError, ValueError) as error:
        raise EmbeddingsFileError(f"{path}: cannot be read as {format_of(path)} ({error})") from None
    if IMAGE_COLUMN not in frame.columns:
        raise EmbeddingsFileError(
            f"{path}: no '{IMAGE_COLUMN}' column with the image names (columns start {list(frame.columns[:3])})"
        )
    numbers = frame.drop(columns=[IMAGE_COLUMN])
    if dim is not None and numbers.shape[1] != dim:
        raise EmbeddingsFileError(f"{path}: {numbers.shape[1]} vector columns, expected {dim}")
    try:
        vectors = numbers.to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        raise EmbeddingsFileError(f"{path}: vector columns must hold numbers only") from None
    if numbers.shape[1] == 0 or np.isnan(vectors).any():
        raise EmbeddingsFileError(f"{path}: empty or missing vector values")
    names = frame[IMAGE_COLUMN].astype(str).tolist()
    if len(set(names)) != len(names):
        raise EmbeddingsFileError(f"{path}: some image names appear more than once")
    return names, vectors
