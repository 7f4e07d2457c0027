"""``make bench-laptop``: what a student's whole run of the four notebooks costs on this machine.

The release notebooks with the golden answers run one after another, each in a fresh kernel, as a
student runs them, at the default ``LAB_SUBSET`` on real photos when ``../shared`` has them (else on
the embedded dataset). Measured: the peak memory of the kernel and everything it starts (Spark's JVM
included, RSS summed over the process tree, sampled every 0.1 s), their CPU time, the wall time of
the four notebooks (installation and the one-time weight download aside) and the disk ``lab5_work/``
takes. Writes ``bench/results/laptop.json``, which the hand-out's README quotes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from bench.run import machine
from grading.course import ASSIGNMENT, notebook_names
from grading.golden import GOLDEN, make_submission
from grading.watchdog import TICKS, folder_usage, process_tree
from helpers.config import PROJECT_ROOT, shared_dir
from helpers.models import choose_weights

RESULTS = PROJECT_ROOT / "bench" / "results"
MINI = shared_dir() / "data" / "stanford-cars-mini"


def _rss_and_cpu(pids: list[int]) -> tuple[int, float]:
    rss, ticks = 0, 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        rss += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) * 1024
        ticks += sum(int(value) for value in stat[stat.rindex(")") + 2 :].split()[11:15])
    return rss, ticks / TICKS


def run_notebook(path: Path) -> dict:
    """Execute one notebook in a fresh kernel; its wall time, CPU time and the peak memory of its processes."""
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3")
    started = time.perf_counter()
    manager.start_kernel(cwd=str(path.parent))
    root = manager.provisioner.process.pid
    peak, cpu, stop = [0], [0.0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            rss, used = _rss_and_cpu(process_tree(root))
            peak[0], cpu[0] = max(peak[0], rss), max(cpu[0], used)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        NotebookClient(notebook, km=manager, timeout=1800, allow_errors=True).execute()
        rss, used = _rss_and_cpu(process_tree(root))
        peak[0], cpu[0] = max(peak[0], rss), max(cpu[0], used)
    finally:
        stop.set()
        sampler.join()
        manager.shutdown_kernel(now=True)
    errors = [o.ename for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    nbformat.write(notebook, path)
    return {
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": cpu[0],
        "peak_memory_mb": peak[0] / 2**20,
        "errors": errors,
    }


def measure(work: Path, data: Path | None) -> dict:
    """The student's run of the four notebooks with the golden answers, in ``work``."""
    if data is not None:
        os.environ["LAB_DATA_DIR"] = str(data)
    folder = work / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, notebook in make_submission(PROJECT_ROOT / "release" / ASSIGNMENT, GOLDEN["solution"]).items():
        nbformat.write(notebook, folder / name)
    notebooks = {name: run_notebook(folder / name) for name in notebook_names()}
    disk, _ = folder_usage(folder / "lab5_work", 10**9)
    images = len(list((folder / "lab5_work" / "resized").glob("*")))
    result = {
        "machine": f"{machine()['cores']} cores, {machine()['cpu']}",
        "date": datetime.date.today().isoformat(),
        "data": str(data) if data else "embedded dataset",
        "images": images,
        # What ran, not what was asked for: offline, ImageNet falls back to random weights (the same compute).
        "weights": choose_weights()[0],
        "wall_seconds": sum(run["wall_seconds"] for run in notebooks.values()),
        "cpu_seconds": sum(run["cpu_seconds"] for run in notebooks.values()),
        "peak_memory_mb": max(run["peak_memory_mb"] for run in notebooks.values()),
        "work_disk_mb": disk / 2**20,
        "notebooks": notebooks,
    }
    result["targets"] = {
        "peak_memory_mb <= 3072": "met" if result["peak_memory_mb"] <= 3072 else "MISSED",
        "wall_seconds <= 300": "met" if result["wall_seconds"] <= 300 else "MISSED",
    }
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure and write bench/results/laptop.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, default=MINI if MINI.is_dir() else None, help="dataset (default: ../shared mini)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "laptop.json")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lab5-laptop-") as work:
        result = measure(Path(work), arguments.data)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({key: value for key, value in result.items() if key != "notebooks"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
