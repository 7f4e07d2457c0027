"""The Spark session helper: a clear message without Java, one JVM however often it is called, a busy UI port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Each test starts a fresh Python (and JVM or model) in a subprocess.
pytestmark = pytest.mark.slow


def run_python(code: str, **environment: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (the test session's own Spark must not be reused)."""
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )


def _fake_java(folder: Path, version: str) -> Path:
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    java.chmod(0o755)
    return folder


GET_SPARK = """
from helpers.java import JavaError
from helpers.spark import get_spark

try:
    get_spark()
except JavaError as error:
    print("JavaError:", error)
"""


@pytest.mark.parametrize(
    "make_home, expected",
    [
        (lambda tmp: tmp / "no-java-here", "has no bin/java"),
        (lambda tmp: _fake_java(tmp / "jdk11", "11.0.2"), "is Java 11"),
    ],
    ids=["missing", "too-old"],
)
def test_no_usable_java_is_one_clear_error_before_spark_starts(tmp_path, make_home, expected):
    """Missing or old Java raises JavaError naming the fix, and Spark never starts (no JVM stack trace)."""
    result = run_python(GET_SPARK, JAVA_HOME=str(make_home(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "JavaError:" in result.stdout and expected in result.stdout
    assert "openjdk-17-jre-headless" in result.stdout and "environment.yml" in result.stdout
    assert "Java gateway process exited" not in result.stderr + result.stdout


def test_repeated_calls_reuse_one_session_and_one_jvm():
    """Calling get_spark three times (re-running a cell) returns the same session and starts one JVM."""
    result = run_python("""
        import os
        from pathlib import Path
        from helpers.spark import get_spark

        def child_jvms():
            me, found = str(os.getpid()), 0
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    command = (stat.parent / "cmdline").read_bytes()
                except OSError:
                    continue
                found += fields[1] == me and b"java" in command
            return found

        sessions = [get_spark() for _ in range(3)]
        sessions[0].range(10).count()
        print("same", all(s is sessions[0] for s in sessions), "jvms", child_jvms())
    """)
    assert "same True jvms 1" in result.stdout, result.stdout + result.stderr


def test_busy_ui_port_does_not_break_the_session():
    """With port 4040 taken, the session starts, its UI moves to another port, and nothing is logged on stderr."""
    blocker = socket.socket()
    try:
        blocker.bind(("0.0.0.0", 4040))
        blocker.listen()
    except OSError:
        pass  # already busy: the situation under test
    try:
        result = run_python(
            """
            from helpers.spark import get_spark
            spark = get_spark()
            print("count", spark.range(5).count(), "ui", spark.sparkContext.uiWebUrl)
        """,
            LAB_SPARK_UI="true",
        )
    finally:
        blocker.close()
    assert "count 5" in result.stdout, result.stderr
    assert result.stdout.strip().split("ui ")[1].rsplit(":", 1)[1] != "4040"
    assert not result.stderr.strip(), result.stderr  # the JVM's banner included


def test_the_jvm_s_banner_is_dropped_and_its_other_lines_pass():
    """What the JVM writes to standard error after its banner still reaches the process's: only the banner goes."""
    result = run_python("""
        import threading
        from pyspark import SparkContext
        from helpers.spark import get_spark

        spark = get_spark()
        spark._jvm.java.lang.System.err.println("the JVM says this")
        jvm = SparkContext._gateway.proc
        jvm.stdin.close()  # the JVM ends with its standard input, and the filter with the JVM
        jvm.wait()
        for thread in threading.enumerate():
            if thread.name == "jvm-stderr":
                thread.join()
        print("ended")
    """)
    assert "ended" in result.stdout, result.stderr
    assert "the JVM says this" in result.stderr and "incubator" not in result.stderr, result.stderr


def test_a_driver_started_for_others_serves_get_spark_with_the_lab_s_settings_and_ends_with_its_input():
    """start_driver's JVM (the grader shares one between a submission's Spark notebooks): a process that
    attaches to it gets a session with the lab's settings, the JVM's own options included, and prints
    nothing; the JVM ends when its standard input closes.
    """
    result = run_python(
        """
        import json, os, subprocess, sys
        from helpers.spark import start_driver

        port, secret, jvm = start_driver()
        attach = '''
        from helpers.spark import get_spark
        spark = get_spark()
        options = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
        print(spark.range(5).count(), spark.conf.get("spark.ui.showConsoleProgress"), "-XX:+UseSerialGC" in options)
        '''
        env = {**os.environ, "PYSPARK_GATEWAY_PORT": str(port), "PYSPARK_GATEWAY_SECRET": secret}
        attached = subprocess.run([sys.executable, "-c", attach], env=env, capture_output=True, text=True)
        jvm.stdin.close()
        print(json.dumps({"out": attached.stdout, "err": attached.stderr, "ended": jvm.wait()}))
    """,
        SPARK_MASTER="local[1]",
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["out"] == "5 false True\n" and report["err"] == "", report
    assert report["ended"] == 0 and result.stderr == "", (report, result.stderr)  # System.exit(0) on its input's end
