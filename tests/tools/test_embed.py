"""The embedding generator command: bad input is named and skipped, the good input still gets done,
and interrupted runs resume to the same result.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.store import read_embeddings
from tools.embed import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_SKIPPED

# Each test starts a fresh Python (and JVM or model) in a subprocess.
pytestmark = pytest.mark.slow


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    """`python -m tools.embed` with random weights and no progress bar."""
    command = [sys.executable, "-m", "tools.embed", *arguments, "--weights", "random", "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True)


def report(out: Path) -> pd.DataFrame:
    """The report written next to an output file."""
    return pd.read_csv(out.with_name(out.name + ".report.csv"))


def _bomb_png(path: Path, width: int = 30000, height: int = 30000) -> None:
    """A tiny PNG whose header claims more pixels than Pillow's decompression-bomb guard allows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def _photo(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


@pytest.fixture
def messy_folder(tmp_path) -> tuple[Path, set[str], set[str]]:
    """A folder with good images, odd-but-readable images and broken files; returns (folder, readable, broken)."""
    folder = tmp_path / "messy"
    folder.mkdir()
    _photo(seed=1).save(folder / "good_1.jpg")
    _photo(seed=2).save(folder / "good_2.jpg")
    _photo(seed=3).convert("RGBA").save(folder / "alpha.png")
    _photo(seed=4).convert("L").save(folder / "gray.jpg")
    _photo(seed=5).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).astype(np.uint16)).save(
        folder / "deep16.png"
    )
    _photo((3, 2), seed=6).save(folder / "tiny.png")
    whole = (folder / "good_1.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not an image\n")
    _bomb_png(folder / "bomb.png")
    readable = {"good_1.jpg", "good_2.jpg", "alpha.png", "gray.jpg", "cmyk.jpg", "deep16.png", "tiny.png"}
    broken = {"truncated.jpg", "empty.jpg", "notes.jpg", "bomb.png"}
    return folder, readable, broken


def test_bad_images_are_skipped_and_reported_while_the_rest_is_embedded(messy_folder, tmp_path):
    """Every readable image is embedded; each broken one is in the report with its reason; exit 3."""
    folder, readable, broken = messy_folder
    out = tmp_path / "out" / "vectors.csv"
    result = run_cli(str(folder), "--out", str(out))
    assert result.returncode == EXIT_SKIPPED, result.stderr
    names, vectors = read_embeddings(out, 512)
    assert set(names) == readable and np.isfinite(vectors).all()
    skipped = report(out).query("status == 'skipped'").set_index("file")["reason"]
    assert set(skipped.index) == broken
    assert "truncated" in skipped["truncated.jpg"].lower()
    assert "DecompressionBomb" in skipped["bomb.png"]
    assert "UnidentifiedImageError" in skipped["notes.jpg"] and "UnidentifiedImageError" in skipped["empty.jpg"]
    assert f"skipped {len(broken)}" in result.stdout and "images/s" in result.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: permission bits do not stop root from reading a file")
def test_unreadable_file_is_skipped(messy_folder, tmp_path):
    """A file without read permission is skipped with a permission reason."""
    folder, _, _ = messy_folder
    locked = folder / "locked.jpg"
    _photo(seed=9).save(locked)
    locked.chmod(0)
    out = tmp_path / "vectors.csv"
    assert run_cli(str(folder), "--out", str(out)).returncode == EXIT_SKIPPED
    assert "Permission" in report(out).set_index("file").loc["locked.jpg", "reason"]


def _stanford(tmp_path: Path, csv_text: str, files: list[str]) -> Path:
    root = tmp_path / "cars"
    (root / "cars_train").mkdir(parents=True)
    for seed, name in enumerate(files):
        _photo(seed=seed).save(root / "cars_train" / name)
    (root / "cardatasettrain.csv").write_bytes(csv_text.encode("utf-8"))
    return root


def test_csv_problems_are_reported_and_the_images_still_embedded(tmp_path):
    """Listed-but-missing rows are skipped; unlisted images and duplicate rows are embedded once, with warnings."""
    csv = "Class,image\n1,00001.jpg\n2,00002.jpg\n2,00002.jpg\n3,00009.jpg\n"
    root = _stanford(tmp_path, csv, ["00001.jpg", "00002.jpg", "00003.jpg"])
    out = tmp_path / "vectors.csv"
    result = run_cli(str(root), "--out", str(out))
    assert result.returncode == EXIT_SKIPPED, result.stderr
    names, _ = read_embeddings(out, 512)
    assert names == ["00001.jpg", "00002.jpg", "00003.jpg"]
    table = report(out).set_index("file")
    assert table.loc["00009.jpg", "status"] == "skipped" and "not found" in table.loc["00009.jpg", "reason"]
    assert table.loc["00003.jpg", "status"] == "warning" and "not listed" in table.loc["00003.jpg", "reason"]
    assert table.loc["00002.jpg", "status"] == "warning" and "2 times" in table.loc["00002.jpg", "reason"]


@pytest.mark.parametrize(
    "csv_text, warned",
    [
        ("\ufeffClass,image\n1,00001.jpg\n2,00002.jpg\n", False),
        ("label,file\n1,00001.jpg\n2,00002.jpg\n", True),
        ("", True),
    ],
    ids=["utf8-bom", "missing-columns", "empty-csv"],
)
def test_a_broken_csv_does_not_stop_the_images(tmp_path, csv_text, warned):
    """A BOM is read transparently; a CSV without Class/image or an empty one is reported and every image embedded."""
    root = _stanford(tmp_path, csv_text, ["00001.jpg", "00002.jpg"])
    out = tmp_path / "vectors.csv"
    result = run_cli(str(root), "--out", str(out))
    assert result.returncode == EXIT_OK, result.stderr
    assert read_embeddings(out, 512)[0] == ["00001.jpg", "00002.jpg"]
    warnings = report(out)
    assert (len(warnings) > 0) == warned
    if warned:
        assert "cardatasettrain.csv" in " ".join(warnings["file"].astype(str) + warnings["reason"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}", "--out", "{out}"], "no such directory"),
        (["{only_text}", "--out", "{out}"], "none of the 1 images could be read"),
        (["{only_text}", "--out", "{out}", "--batch-size", "0"], "must be positive"),
        (["{only_text}", "--out", "{out}", "--format", "parquet"], "--format is parquet"),
    ],
    ids=["missing-dir", "nothing-readable", "bad-batch-size", "format-mismatch"],
)
def test_unusable_input_is_one_clear_line(tmp_path, arguments, message):
    """Wrong arguments or nothing usable: exit 2 and a one-line error, no traceback."""
    only_text = tmp_path / "only_text"
    only_text.mkdir()
    (only_text / "a.jpg").write_text("not an image")
    values = {"missing": tmp_path / "nope", "only_text": only_text, "out": tmp_path / "o.csv"}
    result = run_cli(*[a.format(**values) for a in arguments])
    assert result.returncode == EXIT_ERROR
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_parquet_output(default_dataset, tmp_path):
    """--format parquet writes a Parquet file with the same vectors as CSV."""
    csv_out, parquet_out = tmp_path / "v.csv", tmp_path / "v.parquet"
    for out in (csv_out, parquet_out):
        assert run_cli(str(default_dataset.root), "--out", str(out), "--limit", "20").returncode == EXIT_OK
    csv_names, csv_vectors = read_embeddings(csv_out, 512)
    parquet_names, parquet_vectors = read_embeddings(parquet_out, 512)
    assert csv_names == parquet_names and np.array_equal(csv_vectors, parquet_vectors)


def _interrupt_after_first_batch(arguments: list[str], out: Path, send: signal.Signals) -> subprocess.Popen:
    command = [sys.executable, "-m", "tools.embed", *arguments, "--weights", "random", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = out.parent / f".{out.name}.partial"
    while not list(partial.glob("batch-*.npz")) and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(send)
    process.wait()
    return process


RESUMABLE = ["--limit", "120", "--batch-size", "8"]


@pytest.fixture(scope="module")
def uninterrupted(default_dataset, tmp_path_factory) -> Path:
    """The output of one uninterrupted run, the reference for both kinds of interruption."""
    reference = tmp_path_factory.mktemp("reference") / "vectors.csv"
    assert run_cli(str(default_dataset.root), *RESUMABLE, "--out", str(reference)).returncode == EXIT_OK
    return reference


@pytest.mark.parametrize("send", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_interrupted_run_resumes_to_the_same_output(default_dataset, uninterrupted, tmp_path, send):
    """After Ctrl-C or a kill, no output exists under the final name; a second run skips saved batches
    and writes exactly the bytes an uninterrupted run writes.
    """
    arguments = [str(default_dataset.root), *RESUMABLE]
    out = tmp_path / "resumed" / "vectors.csv"
    out.parent.mkdir()
    process = _interrupt_after_first_batch([*arguments, "--out", str(out)], out, send)
    if send == signal.SIGINT:
        assert process.returncode == EXIT_INTERRUPTED
        assert "run the same command again" in process.stderr.read()
    else:
        assert process.returncode == -signal.SIGKILL
    assert not out.exists(), "a half-written output appeared under the final name"
    saved = len(list((out.parent / f".{out.name}.partial").glob("batch-*.npz")))
    assert saved >= 1

    resumed = run_cli(*arguments, "--out", str(out))
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert f"resuming: {saved * 8} images already embedded" in resumed.stdout
    assert out.read_bytes() == uninterrupted.read_bytes()
    assert not (out.parent / f".{out.name}.partial").exists()
