"""Cache keys: one way to turn settings and files into a short, stable name for a cached result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path


def key(*parts: object) -> str:
    """A 16-hex-digit key for any JSON-able settings (other objects count by their ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def files_key(paths: Iterable[Path], content: bool = True) -> str:
    """A key for a list of files: by their bytes (``content``), or by name, size and mtime (cheap).

    Content keys survive copying and re-saving the same bytes; stat keys notice any edit without
    reading gigabytes, which is what a large dataset index needs.
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(path.name.encode())
        if content:
            digest.update(path.read_bytes())
        else:
            stat = path.stat()
            digest.update(f"|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
