"""helpers.cache: the one way cache keys are made, for settings and for files."""

from __future__ import annotations

import os

from helpers import cache


def test_key_is_stable_and_sensitive():
    """The same settings give the same key; any change gives another."""
    assert cache.key("a", 1, ["x"]) == cache.key("a", 1, ["x"])
    assert len({cache.key("a", 1), cache.key("a", 2), cache.key("b", 1), cache.key(["a", 1])}) == 4


def test_files_key_by_content_survives_copies(tmp_path):
    """A content key follows the bytes (a copy keeps it, an edit changes it)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "x.jpg").write_bytes(b"same bytes")
    key = cache.files_key([tmp_path / "a" / "x.jpg"])
    assert cache.files_key([tmp_path / "b" / "x.jpg"]) == key
    (tmp_path / "b" / "x.jpg").write_bytes(b"other bytes")
    assert cache.files_key([tmp_path / "b" / "x.jpg"]) != key


def test_files_key_by_stat_notices_edits_without_reading(tmp_path):
    """A stat key changes when the size or the modification time changes."""
    path = tmp_path / "x.jpg"
    path.write_bytes(b"12345")
    key = cache.files_key([path], content=False)
    assert cache.files_key([path], content=False) == key
    os.utime(path, ns=(1, 1))
    assert cache.files_key([path], content=False) != key


def test_files_key_by_content_stands_for_what_it_cannot_read(tmp_path):
    """A missing path, a folder and a pipe get keys of their own, and nothing waits on the pipe."""
    path = tmp_path / "x.jpg"
    missing = cache.files_key([path])
    path.mkdir()
    folder = cache.files_key([path])
    path.rmdir()
    os.mkfifo(path)
    assert len({missing, folder, cache.files_key([path])}) == 3
