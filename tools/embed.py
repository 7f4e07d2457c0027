"""The embedding generator: every image of a folder (or Stanford-Cars-style dataset) to a CSV or Parquet file.

    python -m tools.embed DATA_DIR --out OUT [--format csv|parquet] [--batch-size N]
                            [--weights imagenet|random|PATH] [--limit N]

Also installed as ``lab5-embed``. Unreadable images are skipped and listed, with the reason, in
``OUT.report.csv`` next to the output; problems in the label CSV are reported there too. Progress is
checkpointed batch by batch in a hidden folder next to OUT, so an interrupted run (Ctrl-C or killed)
continues where it stopped when run again, and ends with the same file an uninterrupted run writes.
The output only ever appears complete: it is written to a temporary file and renamed.

Exit status: 0 every image embedded; 3 done, but some files were skipped (see the report);
2 bad arguments or nothing usable (one-line error); 130 interrupted (run again to resume).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import cache
from helpers.data import DatasetError, Problem, find_dataset
from helpers.models import BACKBONES, DEFAULT_BACKBONE, WeightsUnavailableError
from helpers.reference.storage import write_embeddings
from helpers.store import FORMATS, atomic_write

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 2, 3, 130


class UsageError(Exception):
    """The arguments or the input cannot work; the message is the one line the user sees."""


@dataclass
class Inputs:
    """What to embed, in output order, and what was already found wrong before embedding."""

    image_dir: Path
    names: list[str]
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def collect_inputs(data_dir: Path, limit: int | None = None) -> Inputs:
    """The images to embed: CSV rows whose file exists (in CSV order), then images the CSV does not list."""
    dataset = find_dataset(data_dir)
    present = dataset.image_files()
    try:
        listed = dataset.labels()["image"].drop_duplicates().tolist()
        problems = dataset.problems()
    except DatasetError as error:
        listed, problems = (
            [],
            [Problem(dataset.labels_csv.name, f"{error}; every image in the folder is embedded instead")],
        )
    present_set = set(present)
    names = [name for name in listed if name in present_set]
    names += sorted(present_set - set(listed))
    inputs = Inputs(dataset.image_dir, names[:limit] if limit else names)
    for problem in problems:
        is_missing_file = problem.file in set(listed) - present_set
        (inputs.skipped if is_missing_file else inputs.warnings).append(problem)
    return inputs


class Checkpoint:
    """Finished batches of an interrupted run, in a hidden folder next to the output."""

    def __init__(self, out: Path, settings: dict):
        self.folder = out.parent / f".{out.name}.partial"
        self.fingerprint = cache.key(settings)

    def load(self) -> dict[int, dict]:
        """Batches saved by an earlier run with the same settings (others are discarded)."""
        stamp = self.folder / "settings.sha256"
        if not stamp.is_file() or stamp.read_text() != self.fingerprint:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            stamp.write_text(self.fingerprint)
            return {}
        batches = {}
        for path in sorted(self.folder.glob("batch-*.npz")):
            with np.load(path, allow_pickle=False) as saved:
                batches[int(path.stem.split("-")[1])] = {
                    "indices": saved["indices"].tolist(),
                    "vectors": saved["vectors"],
                    "failures": json.loads(str(saved["failures"])),
                }
        return batches

    def save(self, number: int, indices: list[int], vectors: np.ndarray, failures: dict[int, str]) -> None:
        """Store one finished batch atomically."""

        def write(target: Path) -> None:
            with target.open("wb") as stream:
                np.savez(
                    stream,
                    indices=np.asarray(indices, dtype=np.int64),
                    vectors=vectors,
                    failures=json.dumps({str(k): v for k, v in failures.items()}),
                )

        atomic_write(self.folder / f"batch-{number:06d}.npz", write)

    def clear(self) -> None:
        """Remove the checkpoint once the output is complete."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _output_format(out: Path, requested: str | None) -> str:
    suffix = out.suffix.lower().lstrip(".")
    if requested and suffix in FORMATS and suffix != requested:
        raise UsageError(f"--out {out} ends in .{suffix} but --format is {requested}; make them agree")
    return requested or (suffix if suffix in FORMATS else "csv")


def _report(out: Path, skipped: list[Problem], warnings: list[Problem]) -> Path:
    report = out.with_name(out.name + ".report.csv")
    rows = [{"file": p.file, "status": "skipped", "reason": p.reason} for p in skipped]
    rows += [{"file": p.file, "status": "warning", "reason": p.reason} for p in warnings]
    table = pd.DataFrame(rows, columns=["file", "status", "reason"])
    return atomic_write(report, lambda target: table.to_csv(target, index=False))


def run(
    data_dir: Path,
    out: Path,
    output_format: str | None = None,
    batch_size: int = 32,
    weights: str | None = None,
    limit: int | None = None,
    backbone: str = DEFAULT_BACKBONE,
    precision: str = "fp32",
    progress: bool = True,
) -> int:
    """Embed, checkpointing every batch; returns the exit status. Raises UsageError for the one-line errors."""
    started = time.perf_counter()
    if batch_size < 1 or (limit is not None and limit < 1):
        raise UsageError("--batch-size and --limit must be positive")
    fmt = _output_format(out, output_format)
    out = out if out.suffix.lower() == f".{fmt}" else out.with_name(out.name + f".{fmt}")
    try:
        inputs = collect_inputs(data_dir, limit)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    if not inputs.names:
        raise UsageError(
            f"{data_dir}: no usable images (see the CSV problems: {'; '.join(map(str, inputs.skipped[:3]))})"
        )
    # torch only now: a command whose arguments or input cannot work says so in a second, not after an import.
    from helpers.reference.embedding import Embedder, Embeddings

    try:
        embedder = Embedder(backbone, weights, precision=precision)
    except WeightsUnavailableError as error:
        raise UsageError(str(error)) from None

    settings = {
        "names": inputs.names,
        "dir": str(inputs.image_dir.resolve()),
        "weights": weights or "",
        "backbone": backbone,
        "precision": embedder.precision,
        "batch": batch_size,
        "format": fmt,
    }
    checkpoint = Checkpoint(out, settings)
    done = checkpoint.load()
    batches = [
        list(range(start, min(start + batch_size, len(inputs.names))))
        for start in range(0, len(inputs.names), batch_size)
    ]
    todo = [number for number in range(len(batches)) if number not in done]
    resumed = sum(len(batches[number]) for number in done)
    if resumed:
        print(f"resuming: {resumed} images already embedded by an interrupted run")
    # Remaining batches keep their original composition, so resumed vectors equal uninterrupted ones.
    positions = [i for number in todo for i in batches[number]]
    paths = [inputs.image_dir / inputs.names[i] for i in positions]
    try:
        stream = embedder.iter_files(paths, batch_size=batch_size, draft=True, progress=progress)
        for number, batch in zip(todo, stream):
            indices = [positions[p] for p in batch.indices]
            failures = {positions[p]: reason for p, reason in batch.failures.items()}
            checkpoint.save(number, indices, batch.vectors, failures)
            done[number] = {"indices": indices, "vectors": batch.vectors, "failures": failures}
    except KeyboardInterrupt:
        kept = sum(len(batches[number]) for number in done)
        print(
            f"\ninterrupted: {kept} of {len(inputs.names)} images are saved in {checkpoint.folder}; "
            "run the same command again to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED

    vectors = np.full((len(inputs.names), embedder.dim), np.nan, dtype=np.float32)
    failures: dict[int, str] = {}
    for result in done.values():
        vectors[result["indices"]] = result["vectors"]
        failures.update({int(k): v for k, v in result["failures"].items()})
    embedded = Embeddings.keep_readable(inputs.names, vectors, failures)
    skipped = inputs.skipped + [Problem(name, reason) for name, reason in embedded.failures.items()]
    if not embedded.names:
        _report(out, skipped, inputs.warnings)
        raise UsageError(f"none of the {len(inputs.names)} images could be read; see {out.name}.report.csv")
    write_embeddings(embedded.names, embedded.vectors, out)
    report = _report(out, skipped, inputs.warnings)
    checkpoint.clear()

    seconds = time.perf_counter() - started
    computed = len(inputs.names) - resumed
    print(f"embedded {len(embedded.names)} images -> {out} ({embedder.dim}-d, {backbone}, {embedder.precision})")
    print(f"skipped {len(skipped)}, warnings {len(inputs.warnings)} -> {report}")
    for problem in (skipped + inputs.warnings)[:10]:
        print(f"  {problem}")
    print(f"time {seconds:.1f} s, {computed / seconds:.1f} images/s")
    return EXIT_SKIPPED if skipped else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m tools.embed``, ``lab5-embed``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.embed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "data_dir", type=Path, help="Stanford-Cars-style directory (images + CSV) or any folder of images"
    )
    parser.add_argument("--out", type=Path, required=True, help="output file (.csv or .parquet)")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from the --out suffix, else csv)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch and per checkpoint (default 32)")
    parser.add_argument("--weights", help="imagenet, random or a checkpoint path (default: LAB_WEIGHTS, else imagenet)")
    parser.add_argument("--limit", type=int, help="embed only the first N images")
    parser.add_argument(
        "--backbone", choices=sorted(BACKBONES), default=DEFAULT_BACKBONE, help="network (default resnet18)"
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="fp32",
        help="fp32 (default): full-precision arithmetic (the fast JPEG decoding still puts the vectors within "
        "cosine 0.999 of the notebooks' own, not equal); auto/bf16 run ~2x faster where the CPU has native "
        "bfloat16 but reorder near-equidistant neighbours (README Performance)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    arguments = parser.parse_args(argv)
    try:
        return run(
            arguments.data_dir,
            arguments.out,
            arguments.format,
            arguments.batch_size,
            arguments.weights,
            arguments.limit,
            arguments.backbone,
            arguments.precision,
            not arguments.no_progress,
        )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
