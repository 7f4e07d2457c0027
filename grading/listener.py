"""The grader's end of the sensor: a datagram socket whose reports are handed on as they arrive.

Every report carries the time it was sent (the machine's monotonic clock, which the sandbox shares),
so the grader places it in the cell, or the gap between cells, during which it was sent, however
late it is read. A thread reads the socket all the time: the sensor blocks when the queue is full.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path


class SensorListener:
    """Receives the sensor's reports on ``path`` and passes each to ``on_report(kind, sent_ns, detail)``.

    Anything a process in the sandbox sends that is not a report is ignored. :meth:`close` hands on
    every report still in the socket before it returns.
    """

    def __init__(self, path: Path, on_report: Callable[[str, int, object], None]):
        self.on_report = on_report
        self.lock = threading.Lock()
        self._closing = False
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        Path(path).chmod(0o666)
        self._thread = threading.Thread(target=self._receive, name="sensor-listener", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                return  # closed at the end of the notebook
            if not data and self._closing:
                return  # shutdown() wakes the thread with an empty read
            self._take(data)

    def _take(self, data: bytes) -> None:
        with contextlib.suppress(ValueError, TypeError), self.lock:
            kind, _, sent, detail = json.loads(data)
            self.on_report(str(kind), int(sent), detail)

    def close(self) -> None:
        """Hand on what is left in the socket, then stop listening."""
        self._socket.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            while True:
                self._take(self._socket.recv(65536))
        self._closing = True
        self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._socket.close()
