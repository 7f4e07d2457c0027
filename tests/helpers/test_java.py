"""helpers.java: Spark 4 needs Java 17+, and the check says how to get it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers.config import PROJECT_ROOT
from helpers.java import MIN_JAVA, JavaError, java_executable, parse_java_version, require_java


def fake_java(folder, version_line: str):
    """An executable ``folder/java`` shell script that prints ``version_line`` like `java -version` does."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "java"
    script.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment (build 1.8.0_392-b08)', 8),
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Ubuntu)', 17),
        ('openjdk version "21" 2023-09-19\nOpenJDK 64-Bit Server VM (build 21+35)', 21),
        ('openjdk version "11.0.2" 2019-01-15', 11),
    ],
)
def test_parse_java_version(output, major):
    """The major version is read from `java -version` output for the old 1.x and the modern schemes."""
    assert parse_java_version(output) == major


def test_parse_java_version_garbage():
    """Output without a version string gives None."""
    assert parse_java_version("bash: java: command not found") is None
    assert parse_java_version("") is None


def test_require_java_without_java(monkeypatch, tmp_path):
    """With JAVA_HOME an empty folder and no java on the PATH, JavaError says to install openjdk-17."""
    (tmp_path / "jdk").mkdir()
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert java_executable() is None
    with pytest.raises(JavaError) as error:
        require_java()
    message = str(error.value)
    assert "openjdk-17" in message
    assert f"Java {MIN_JAVA}+" in message
    assert "JAVA_HOME" in message


def test_require_java_too_old(monkeypatch, tmp_path):
    """A java that reports version 1.8 is refused with the version in the message."""
    fake = fake_java(tmp_path / "jdk" / "bin", 'java version "1.8.0_392"')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert java_executable() == str(fake)
    with pytest.raises(JavaError, match="is Java 8") as error:
        require_java()
    assert "openjdk-17" in str(error.value)


def test_require_java_uses_path_when_java_home_unset(monkeypatch, tmp_path):
    """Without JAVA_HOME the java on the PATH is checked (a fake Java 21 here)."""
    script = fake_java(tmp_path / "bin", 'openjdk version "21" 2023-09-19')
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert java_executable() == str(script)
    assert require_java() == 21


def test_broken_java_home_is_reported_even_with_java_on_path(monkeypatch, tmp_path):
    """JAVA_HOME without bin/java is an error even with a good java on the PATH (Spark uses JAVA_HOME)."""
    fake_java(tmp_path / "bin", 'openjdk version "17.0.15" 2025-04-15')
    (tmp_path / "jdk").mkdir()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(JavaError, match="JAVA_HOME"):
        require_java()


def test_this_machine_has_java_17_or_newer():
    """The machine running the tests has a Java Spark accepts."""
    assert require_java() >= MIN_JAVA


def test_command_line_check_exits_zero():
    """`python3 -m helpers.java` (standard library only) exits 0 and prints one OK line."""
    python = shutil.which("python3") or sys.executable
    result = subprocess.run(
        [python, "-m", "helpers.java"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "OK for Spark" in result.stdout
