"""Java detection: Spark 4 needs Java 17 or newer, and says so only deep inside a JVM stack trace.

Standard library only, so ``python3 -m helpers.java`` can run before the virtual environment exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.config import java_home_setting

MIN_JAVA = 17

FIX = (
    "Install Java 17 or newer: on Debian/Ubuntu `apt-get install openjdk-17-jre-headless`; "
    "with conda, `conda env create -f environment.yml` (it includes openjdk 17). "
    "If Java is installed elsewhere, point JAVA_HOME at it."
)


class JavaError(RuntimeError):
    """Java is missing or too old for Spark."""


def java_executable() -> str | None:
    """The java binary Spark will use: $JAVA_HOME/bin/java when JAVA_HOME is set (as spark-class
    does, even if it is missing), otherwise `java` on the PATH.
    """
    home = java_home_setting()
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def parse_java_version(text: str) -> int | None:
    """Major version from `java -version` output ("1.8.0_392" -> 8, "17.0.15" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def java_version(executable: str | None = None) -> int | None:
    """Major version of the Java that Spark would start, or None when there is none."""
    executable = executable or java_executable()
    if not executable:
        return None
    try:
        result = subprocess.run([executable, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_version(result.stderr + result.stdout)


def require_java(minimum: int = MIN_JAVA) -> int:
    """Return the Java major version, or raise JavaError with the fix when it is missing or too old."""
    executable = java_executable()
    if executable is None:
        home = java_home_setting()
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` was found"
        raise JavaError(f"Spark needs Java {minimum}+, but {where}. {FIX}")
    version = java_version(executable)
    if version is None:
        raise JavaError(f"Spark needs Java {minimum}+, but `{executable} -version` did not answer. {FIX}")
    if version < minimum:
        raise JavaError(f"Spark needs Java {minimum}+, but {executable} is Java {version}. {FIX}")
    return version


def main() -> int:
    """Command-line check used by `make setup`: one line, exit status 0 or 1."""
    try:
        version = require_java()
    except JavaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Java {version} found: OK for Spark.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
