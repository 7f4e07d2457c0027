"""``python -m grading COMMAND``: the instructor's grading commands (the Makefile calls these)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.config import PROJECT_ROOT, artifacts_dir


def reports_dir(course: Path) -> Path:
    """Where the class report and the LMS files go."""
    from grading.course import ASSIGNMENT

    return course / "reports" / ASSIGNMENT


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
    regrade = commands.add_parser("regrade", help="generate the release again from source/, then autograde everyone")
    regrade.add_argument("--course", type=Path, default=PROJECT_ROOT)
    regrade.add_argument("--jobs", type=int, help="submissions graded at once (default: the number of cores)")
    report = commands.add_parser("report", help="the class report: reports/lab5/index.html and similarity.csv")
    report.add_argument("--course", type=Path, default=PROJECT_ROOT)
    report.add_argument("--out", type=Path, help="default: COURSE/reports/lab5")
    grades = commands.add_parser("grades", help="points_per_question.csv, and canvas.csv merged with a roster")
    grades.add_argument("--course", type=Path, default=PROJECT_ROOT)
    grades.add_argument("--out", type=Path, help="default: COURSE/reports/lab5")
    grades.add_argument("--roster", type=Path, help="the gradebook CSV exported from Canvas (Grades > Export)")
    grades.add_argument("--column", help="the roster's column for this lab (default: the one starting 'Lab 5')")
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
    handout.add_argument("--data", type=Path, help="ship the student's sample of this dataset's photos in the hand-out")
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
    if arguments.command == "regrade":
        from grading.autograde import main as autograde_main

        return autograde_main(arguments.course, arguments.jobs, None, False, None, regenerate=True)
    if arguments.command == "report":
        from grading.report import write_report

        print(f"class report: {write_report(arguments.course, arguments.out or reports_dir(arguments.course))}")
        return 0
    if arguments.command == "grades":
        from grading.export import RosterError, export_grades

        try:
            lines = export_grades(
                arguments.course, arguments.out or reports_dir(arguments.course), arguments.roster, arguments.column
            )
        except RosterError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n".join(lines))
        return 0
    if arguments.command == "handout":
        from grading.course import ASSIGNMENT
        from grading.handout import build

        print(f"hand-out: {build(PROJECT_ROOT / 'release' / ASSIGNMENT, arguments.out, arguments.data)}")
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
