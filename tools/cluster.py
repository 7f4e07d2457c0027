"""A real Spark standalone cluster on this machine (one master, one worker), from pyspark's own scripts.

Used by the cluster tests and ``make cluster-demo``. Nothing is downloaded: pyspark ships
``bin/spark-class`` and every jar the master and worker need. Ports are chosen free at run time, and
the cluster is always stopped on exit, also when the code inside the ``with`` block fails.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pyspark

from helpers.config import artifacts_dir
from helpers.java import require_java

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports nobody listens on right now (held together while chosen, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class StandaloneCluster:
    """``with StandaloneCluster() as cluster:`` starts a master and a worker; ``cluster.master_url`` is theirs."""

    def __init__(self, cores: int = 2, memory: str = "4g"):
        self.cores, self.memory = cores, memory
        self._choose_ports()
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []  # the daemons' logs of the current attempt
        self.work = Path(tempfile.mkdtemp(prefix="lab5-cluster-"))

    def _choose_ports(self) -> None:
        self.port, self.ui_port, self.worker_ui_port = free_ports(3)
        self.master_url = f"spark://{HOST}:{self.port}"
        self.ui_url = f"http://{HOST}:{self.ui_port}"

    def _start(self, name: str, *arguments: str) -> None:
        spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
        environment = {
            **os.environ,
            "SPARK_HOME": str(spark_class.parents[1]),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_LOG_DIR": str(self.work),
            "PYSPARK_PYTHON": sys.executable,
            # A port taken meanwhile (by another program) must stop the daemon, not move it silently to
            # the next port, where ui_url would find some other server: start() then tries new ports.
            # The master's REST submission server is off: nothing here uses it, and its fixed port 6066
            # is taken whenever another cluster runs on this machine.
            "SPARK_DAEMON_JAVA_OPTS": "-Dspark.port.maxRetries=0 -Dspark.master.rest.enabled=false",
        }
        self.logs.append(self.work / f"{name}-{self.port}.log")  # one per attempt: each has its own port
        log = self.logs[-1].open("w")
        self.processes.append(
            subprocess.Popen(
                [str(spark_class), *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        )

    def state(self) -> dict:
        """The master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=5) as response:
            return json.load(response)

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def start(self, attempts: int = 3) -> StandaloneCluster:
        """Start the master and the worker and wait until the worker has registered (new ports on a clash)."""
        require_java()
        atexit.register(self.stop)  # a notebook kernel that exits early still stops the cluster
        for attempt in range(attempts):
            if attempt:
                self._choose_ports()
            if self._start_once():
                return self
        errors = [
            f"{log.name}: {line}"
            for log in sorted(self.work.glob("*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if " ERROR " in line or line.startswith(("java.", "Exception"))
        ]
        raise RuntimeError(
            f"the Spark cluster failed to start {attempts} times; the errors in its logs ({self.work}):\n"
            + "\n".join(errors[:12])
        )

    def _start_once(self) -> bool:
        """True once the worker registered; False if a daemon failed (a port taken meanwhile): try new ports.

        The worker starts only once the master is ALIVE, so its first registration attempt finds the master:
        a worker started alongside a slow master backs off for up to 90 s between attempts. Neither wait
        has a deadline, because a loaded machine may take any time to start a JVM; both end when a daemon
        exits or logs an error (a master that could not bind a port logs it and lingers, never ALIVE).
        """
        self.logs = []
        self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--webui-port",
            str(self.ui_port),
        )
        if not self._wait_until(lambda state: state.get("status") == "ALIVE"):
            return False
        self._start(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            self.master_url,
            "--host",
            HOST,
            "--cores",
            str(self.cores),
            "--memory",
            self.memory,
            "--webui-port",
            str(self.worker_ui_port),
            "--work-dir",
            str(self.work / "work"),
        )
        return self._wait_until(lambda state: any(w.get("state") == "ALIVE" for w in state.get("workers", [])))

    def _wait_until(self, ready: Callable[[dict], bool]) -> bool:
        """Poll this master's status until ``ready(status)``; False (daemons stopped) once a daemon failed."""
        while True:
            try:
                state = self.state()
                # Only our own master counts: another server may answer on this port until ours exits.
                if state.get("url") == self.master_url and ready(state):
                    return True
            except (OSError, ValueError):  # not listening yet, or not a master answering
                pass
            if any(process.poll() is not None for process in self.processes) or any(
                " ERROR " in log.read_text(errors="replace") for log in self.logs
            ):
                self.stop()
                return False
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the worker and the master (and everything they started)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
        self.processes.clear()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``make cluster-demo``: start a cluster, run the distributed pipeline on it, stop the cluster."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, help="Stanford-Cars-style directory (default: the embedded dataset)")
    parser.add_argument("--k", type=int, default=5)
    arguments = parser.parse_args(argv)
    from tools.demo import run

    with StandaloneCluster() as cluster:
        print(f"Spark master: {cluster.master_url}\nSpark UI:     {cluster.ui_url}\n", flush=True)
        os.environ["SPARK_MASTER"] = cluster.master_url
        run(arguments.data, arguments.k, artifacts_dir() / "cluster_demo_neighbors.png", distributed=True)
    print("cluster stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
