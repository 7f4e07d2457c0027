"""helpers.store: embeddings as CSV/Parquet, exact round trips, atomic writes and clear read errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.reference.storage import write_embeddings
from helpers.store import EmbeddingsFileError, atomic_write, component_names, read_embeddings


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    """Awkward float32 vectors: wide range of magnitudes, negatives, zeros, subnormal-ish and large values."""
    rng = np.random.default_rng(7)
    array = (rng.standard_normal((6, 512)) * 10.0 ** rng.integers(-8, 8, size=(6, 512))).astype(np.float32)
    array[0, :4] = [0.0, -0.0, np.float32(1) / np.float32(3), np.finfo(np.float32).max]
    array[1, :2] = [np.finfo(np.float32).tiny, np.nextafter(np.float32(1), np.float32(2))]
    return array


NAMES = ["00001.jpg", "00002.jpg", "00010.jpg", "a b.jpg", "ünïcode.jpg", "007"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_round_trip_is_bit_identical(tmp_path, vectors, suffix):
    """Writing then reading gives the same names and bit-identical float32 vectors."""
    path = write_embeddings(NAMES, vectors, tmp_path / f"emb.{suffix}")
    assert path == tmp_path / f"emb.{suffix}"
    names, loaded = read_embeddings(path, dim=512)
    assert names == NAMES
    assert loaded.dtype == np.float32
    assert loaded.shape == (6, 512)
    assert np.array_equal(loaded.view(np.uint32), vectors.view(np.uint32))


def test_csv_header(tmp_path, vectors):
    """The CSV header is image,v0,...,v511 and there is no index column."""
    path = write_embeddings(NAMES, vectors, tmp_path / "emb.csv")
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(["image"] + [f"v{i}" for i in range(512)])
    assert component_names(3) == ["v0", "v1", "v2"]
    assert list(pd.read_parquet(write_embeddings(NAMES, vectors, tmp_path / "emb.parquet")).columns) == header.split(
        ","
    )


def test_unknown_suffix_is_rejected(tmp_path, vectors):
    """A file name that is neither .csv nor .parquet is an EmbeddingsFileError naming the file."""
    with pytest.raises(EmbeddingsFileError, match=r"emb\.txt"):
        write_embeddings(NAMES, vectors, tmp_path / "emb.txt")
    assert not (tmp_path / "emb.txt").exists()


def test_mismatched_names_and_vectors(tmp_path, vectors):
    """More names than vectors is refused before anything is written."""
    with pytest.raises(ValueError, match="expected 7 vectors"):
        write_embeddings([*NAMES, "extra.jpg"], vectors, tmp_path / "emb.csv")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failure_leaves_no_file(tmp_path):
    """When the writer raises, nothing appears under the final name and no temporary file is left."""
    target = tmp_path / "sub" / "out.csv"

    def failing(path):
        path.write_text("half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_write_failure_keeps_old_file(tmp_path):
    """When the writer raises, an existing file under the final name stays intact."""
    target = tmp_path / "out.csv"
    target.write_text("old content\n")

    def failing(path):
        path.write_text("new but broken")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, failing)
    assert target.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_success_replaces(tmp_path):
    """A successful write replaces the old file and leaves only it."""
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    assert atomic_write(target, lambda path: path.write_text("new\n")) == target
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def assert_error_names_file(path, match: str, dim: int | None = None) -> None:
    """read_embeddings(path) raises EmbeddingsFileError whose message names the file and contains ``match``."""
    with pytest.raises(EmbeddingsFileError) as error:
        read_embeddings(path, dim=dim)
    message = str(error.value)
    assert str(path) in message
    assert match in message, message


def test_read_missing_file(tmp_path):
    """A missing file is an EmbeddingsFileError naming it."""
    assert_error_names_file(tmp_path / "nope.csv", "no such file")


def test_read_without_image_column(tmp_path):
    """A table without an image column is an EmbeddingsFileError naming the file."""
    path = tmp_path / "no_image.csv"
    path.write_text("name,v0,v1\na.jpg,1,2\n")
    assert_error_names_file(path, "'image'")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_read_wrong_dimension(tmp_path, suffix, vectors):
    """A file with 512 components read as 256-d is an EmbeddingsFileError naming the file and both numbers."""
    path = write_embeddings(NAMES, vectors, tmp_path / f"emb.{suffix}")
    assert_error_names_file(path, "512 vector columns, expected 256", dim=256)


def test_read_non_numeric(tmp_path):
    """A text value among the vector components is an EmbeddingsFileError naming the file."""
    path = tmp_path / "text.csv"
    path.write_text("image,v0,v1\na.jpg,1.5,oops\nb.jpg,2,3\n")
    assert_error_names_file(path, "numbers only")


def test_read_missing_values(tmp_path):
    """An empty component is an EmbeddingsFileError, not a silent NaN."""
    path = tmp_path / "gap.csv"
    path.write_text("image,v0,v1\na.jpg,1.5,\nb.jpg,2,3\n")
    assert_error_names_file(path, "missing vector values")


def test_read_duplicate_names(tmp_path):
    """An image listed twice is an EmbeddingsFileError naming the file."""
    path = write_embeddings(["a.jpg", "b.jpg", "a.jpg"], np.ones((3, 4), np.float32), tmp_path / "dup.parquet")
    assert_error_names_file(path, "more than once")


def test_read_garbage_parquet(tmp_path):
    """A .parquet file that is not Parquet is an EmbeddingsFileError naming the file."""
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    assert_error_names_file(path, "cannot be read")


def test_csv_round_trip_keeps_numeric_looking_names(tmp_path):
    """Image names that all look like numbers survive a CSV round trip unchanged."""
    names = ["007", "010", "2e3"]
    path = write_embeddings(names, np.ones((3, 4), np.float32), tmp_path / "numeric.csv")
    assert read_embeddings(path)[0] == names
