"""Cache keys: one way to turn settings and files into a short, stable name for a cached result."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterable
from pathlib import Path


def key(*parts: object) -> str:
    """A 16-hex-digit key for any JSON-able settings (other objects count by their ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The largest file a content key reads; larger ones count by size and identity (a lab's image is under 1 MB).
LARGEST_READ = 32 * 2**20


def files_key(paths: Iterable[Path], content: bool = True) -> str:
    """A key for a list of files: by their bytes (``content``), or by name, size and mtime (cheap).

    Content keys survive copying and re-saving the same bytes; stat keys notice any edit without
    reading gigabytes, which is what a large dataset index needs. A content key also stands for what is
    not a file to read: a missing or unreadable path, a folder or pipe (never opened), a file over
    ``LARGEST_READ`` (by its size and identity).
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(path.name.encode())
        if content:
            _update_with_content(digest, path)
        else:
            status = path.stat()
            digest.update(f"|{status.st_size}|{status.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _update_with_content(digest: hashlib._Hash, path: Path) -> None:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            digest.update(f"|kind {stat.S_IFMT(status.st_mode)}|".encode())
        elif status.st_size > LARGEST_READ:
            digest.update(f"|large {status.st_size} {status.st_mtime_ns} {status.st_ino} {status.st_dev}|".encode())
        else:
            with path.open("rb") as stream:
                while chunk := stream.read(2**20):
                    digest.update(chunk)
    except OSError as error:
        digest.update(f"|error {error.errno}|".encode())
