"""Distributed embedding measured: ``embed_images_df`` on ``local[N]`` and on a real standalone cluster.

``python -m bench.distributed --master URL --data DIR --names FILE`` is the driver that ``on_cluster``
starts in a fresh process (a process keeps the master its first session had); it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from pyspark.sql import SparkSession

from helpers import spark as lab_spark
from helpers.reference.distributed import embed_images_df
from tools.cluster import StandaloneCluster

# Bit of SIGCHLD in /proc/<pid>/status's SigIgn mask (bit n - 1 stands for signal n).
SIGCHLD_IGNORED = 1 << (signal.SIGCHLD - 1)


def ignores_sigchld(pid: int) -> bool:
    """Whether ``pid`` ignores SIGCHLD, so that the kernel reaps its children and discards their CPU times."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), "0")
    return bool(int(mask, 16) & SIGCHLD_IGNORED)


class TreeCpuMeter:
    """CPU seconds used by a process and all its descendants (default: this process): the JVMs, Python workers
    and cluster daemons a run started, living or already ended. Unlike wall time, other work on the machine
    barely changes it.

    A waiting parent receives an ended child's CPU in its children_* times. PySpark's worker daemon ignores
    SIGCHLD instead, so the kernel discards its workers' CPU when they exit: the meter keeps what it last saw
    of each process whose parent ignores SIGCHLD. Inside ``with``, a thread samples every ``interval``
    seconds, so a worker loses at most that much CPU time.
    """

    def __init__(self, root: int | None = None, interval: float = 0.2) -> None:
        self.root = psutil.Process(root)
        self.interval = interval
        self.kept = 0.0  # last seen CPU of ended processes whose parent discarded it
        self.seen: dict[tuple[int, float], tuple[float, bool]] = {}  # (pid, start) -> (CPU, parent ignores)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample_until_stopped, daemon=True)

    def sample(self) -> float:
        """Read the tree now; return the CPU seconds it has used so far, a total that does not go down."""
        with self.lock:
            current: dict[tuple[int, float], tuple[float, bool]] = {}
            for process in [self.root, *self.root.children(recursive=True)]:
                try:
                    with process.oneshot():
                        times, key, parent = process.cpu_times(), (process.pid, process.create_time()), process.ppid()
                except psutil.Error:
                    continue
                used = times.user + times.system + times.children_user + times.children_system
                current[key] = (used, ignores_sigchld(parent))
            self.kept += sum(used for key, (used, lost) in self.seen.items() if lost and key not in current)
            self.seen = current
            return self.kept + sum(used for used, _ in current.values())

    def sample_until_stopped(self) -> None:
        """The thread's loop inside ``with``."""
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeCpuMeter:
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()


def pass_seconds(
    spark: SparkSession, image_dir: Path, names: list[str], weights: str, precision: str, batch_size: int
) -> float:
    """Seconds for one distributed pass: every image read, decoded and embedded on the executors."""
    started = time.perf_counter()
    raw = embed_images_df(
        lab_spark.image_files_df(spark, image_dir, names), weights=weights, precision=precision, batch_size=batch_size
    )
    embedded = raw.count()  # the row count depends on the Python function, so Spark must run it for every file
    seconds = time.perf_counter() - started
    if embedded != len(names):
        raise RuntimeError(f"embedded {embedded} of {len(names)} images")
    return seconds


def measure(
    spark: SparkSession,
    image_dir: Path,
    names: list[str],
    weights: str,
    precision: str,
    batch_size: int,
    root: int | None = None,
) -> dict:
    """A warm-up pass (Python workers start, each loads the model once), then two steady-state passes,
    timed and with the CPU seconds of every process under ``root`` (default: this one).
    """
    warmup = pass_seconds(spark, image_dir, names, weights, precision, batch_size)
    with TreeCpuMeter(root) as meter:
        cpu = meter.sample()
        passes = [pass_seconds(spark, image_dir, names, weights, precision, batch_size) for _ in range(2)]
        cpu = meter.sample() - cpu
    steady = statistics.median(passes)
    cores = spark.sparkContext.defaultParallelism
    return {
        "master": spark.sparkContext.master,
        "cores": cores,
        "warmup_img_per_s": len(names) / warmup,
        "img_per_s": len(names) / steady,
        "per_core_img_per_s": len(names) / steady / cores,
        "img_per_cpu_s": len(passes) * len(names) / cpu,
        "passes_img_per_s": [len(names) / seconds for seconds in passes],
        "load_average": os.getloadavg()[0],  # other work on the machine slows every figure of the run
    }


def on_cluster(
    image_dir: Path, names: list[str], weights: str, precision: str, batch_size: int, cores: int = 2
) -> dict:
    """:func:`measure` on a standalone master + worker with ``cores`` executor cores, from a fresh driver."""
    with StandaloneCluster(cores=cores, memory="4g") as cluster:
        names_file = cluster.work / "names.json"
        names_file.write_text(json.dumps(names))
        command = [sys.executable, "-m", "bench.distributed", "--master", cluster.master_url, "--data", str(image_dir)]
        command += ["--names", str(names_file), "--weights", weights, "--precision", precision]
        command += ["--batch-size", str(batch_size), "--cpu-root", str(os.getpid())]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"the cluster driver failed:\n{result.stderr[-3000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "executor_cores": cores}


def main(argv: list[str] | None = None) -> int:
    """The cluster's driver: measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--master", required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder of the images")
    parser.add_argument("--names", type=Path, required=True, help="JSON list of the file names to embed")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cpu-root", type=int, help="count the CPU of this process tree (the cluster's and ours)")
    arguments = parser.parse_args(argv)
    spark = lab_spark.get_spark("lab5-bench-cluster", master=arguments.master)
    names = json.loads(arguments.names.read_text())
    result = measure(
        spark, arguments.data, names, arguments.weights, arguments.precision, arguments.batch_size, arguments.cpu_root
    )
    spark.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
