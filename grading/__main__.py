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
    roundtrip = commands.add_parser("roundtrip", help="grade the golden submissions in a scratch course")
    roundtrip.add_argument(
        "--course",
        type=Path,
        default=artifacts_dir() / "grading-roundtrip",
        help="scratch course directory (deleted and recreated)",
    )
    check = commands.add_parser("check", help="report missing or renamed notebooks in submitted/")
    check.add_argument("--course", type=Path, default=PROJECT_ROOT)
    arguments = parser.parse_args(argv)

    if arguments.command == "roundtrip":
        from grading.roundtrip import report

        return report(arguments.course)
    from grading.course import submission_problems

    print("\n".join(submission_problems(arguments.course)) or "every submission has all notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
