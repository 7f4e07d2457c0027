"""``python -m grading COMMAND``: the instructor's grading commands (the Makefile calls these)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.config import PROJECT_ROOT, artifacts_dir


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    autograde = commands.add_parser("autograde", help="grade every submission in submitted/, in parallel, sandboxed")
    autograde.add_argument("--course", type=Path, default=PROJECT_ROOT)
    autograde.add_argument("--jobs", type=int, help="submissions graded at once (default: the number of cores)")
    autograde.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    autograde.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without the sandbox (only for code you trust)",
    )
    autograde.add_argument(
        "--sample-pool",
        type=int,
        metavar="N",
        help="draw N image samples for the run, students spread across them (default: one per student)",
    )
    roundtrip = commands.add_parser("roundtrip", help="grade the golden submissions in a scratch course")
    roundtrip.add_argument(
        "--course",
        type=Path,
        default=artifacts_dir() / "grading-roundtrip",
        help="scratch course directory (deleted and recreated)",
    )
    roundtrip.add_argument("--jobs", type=int, help="submissions graded at once (default: the number of cores)")
    handout = commands.add_parser("handout", help="write the student hand-out zip (no answers, checked)")
    handout.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist" / "lab5-handout.zip")
    release = commands.add_parser("release-feedback", help="return feedback/ through the exchange, list LMS students")
    release.add_argument("--course", type=Path, default=PROJECT_ROOT)
    check = commands.add_parser("check", help="report missing or renamed notebooks in submitted/")
    check.add_argument("--course", type=Path, default=PROJECT_ROOT)
    arguments = parser.parse_args(argv)

    if arguments.command == "autograde":
        from grading.autograde import main as autograde_main

        return autograde_main(
            arguments.course, arguments.jobs, arguments.students, arguments.unsafe_no_sandbox, arguments.sample_pool
        )
    if arguments.command == "handout":
        from grading.course import ASSIGNMENT
        from grading.handout import build

        print(f"hand-out: {build(PROJECT_ROOT / 'release' / ASSIGNMENT, arguments.out)}")
        return 0
    if arguments.command == "roundtrip":
        from grading.roundtrip import report

        return report(arguments.course, arguments.jobs)
    if arguments.command == "release-feedback":
        from grading.course import ASSIGNMENT, release_feedback

        for student in release_feedback(arguments.course):
            print(f"{student}: collected from an LMS; upload feedback/{student}/{ASSIGNMENT}/*.html there")
        return 0
    from grading.course import submission_problems

    print("\n".join(submission_problems(arguments.course)) or "every submission has all notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
