"""``make report``: what a graded class got wrong, in one page (``reports/lab5/index.html``, PNG figures beside it).

It reads the course's gradebook (the scores) and each autograded submission's ``lab5_grading.json``
(the diagnosis behind every failed test, the limits hit, shortcuts, tampering, dead kernels and the
CPU time of each answer), and shows:

- the distribution of the total and of each question's score;
- for each question, the mistakes the grader diagnosed, by diagnosis, with how many students made them;
- the students whose grading hit a limit, a dead kernel, a shortcut or tampering, with the reason;
- the CPU time of each question's answer cells: the median and the slowest students;
- answers that look copied (:mod:`grading.similarity`), side by side;
- one row per student with the points of every question and links to the feedback pages.
"""

from __future__ import annotations

import html
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grading import records
from grading.course import (
    ASSIGNMENT,
    notebook_names,
    question_number,
    question_of,
    read_scores,
    score_table,
    test_points,
)

#: Slowest students listed per question.
SLOWEST = 3
#: Below this many students, answers written alike by the whole class are not yet common enough to leave out.
SMALL_CLASS = 20
INCIDENT_KINDS = {"cpu": "stopped: CPU-time limit", "disk": "stopped: disk limit", "died": "the kernel died"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.points { text-align: right; font-variant-numeric: tabular-nums; }
td.lost { background: #fde8e8; }
img { max-width: 100%; }
table.side-by-side td { width: 50%; }
table.side-by-side pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; margin: 0; }
span.line { display: block; }
span.line.shared { background: #ffe58a; }
"""


@dataclass(frozen=True)
class Incident:
    """Grading that did not run as written: a limit, a dead kernel, a shortcut or tampering."""

    student: str
    notebook: str
    kind: str
    reason: str


def class_records(course: Path, students: list[str]) -> dict[str, dict]:
    """Each student's grading record (empty for a submission graded without this lab's grader)."""
    return {student: records.read(course / "autograded" / student / ASSIGNMENT) for student in students}


def mistakes(saved: dict[str, dict]) -> dict[str, Counter]:
    """Per question, the number of students with each diagnosis the grader gave (one count per student)."""
    found: dict[str, Counter] = defaultdict(Counter)
    for record in saved.values():
        diagnoses = {
            (question_of(grade), test["diagnosis"])
            for notebook in record.get("notebooks", {}).values()
            for grade, test in notebook.get("tests", {}).items()
            if not test.get("passed")
        }
        for question, diagnosis in diagnoses:
            found[question][diagnosis] += 1
    return found


def incidents(saved: dict[str, dict]) -> list[Incident]:
    """Every limit hit, dead kernel, shortcut and tampering, with what the grader said about it."""
    found = []
    for student, record in sorted(saved.items()):
        for notebook, entry in sorted(record.get("notebooks", {}).items()):
            for stop in entry.get("stopped", []):
                kind = INCIDENT_KINDS.get(stop["stopped"], f"stopped: {stop['stopped']}")
                found.append(Incident(student, notebook, kind, f"in cell {stop['cell']}"))
            for shortcut in entry.get("shortcuts", []):
                reason = f"{shortcut['question']} lost to the lab's reference code ({shortcut['function']})"
                found.append(Incident(student, notebook, "shortcut", reason))
            found += [Incident(student, notebook, "tampering", reason) for reason in entry.get("tampering", [])]
    # A shortcut's cost carried into a later notebook is recorded there again: listed once, where it ran.
    first = {}
    for incident in found:
        first.setdefault((incident.student, incident.kind, incident.reason), incident)
    return list(first.values())


def answer_cpu(saved: dict[str, dict]) -> pd.DataFrame:
    """CPU seconds of each question's answer cells: students as rows, questions as columns."""
    rows = {
        student: {
            question: seconds
            for notebook in record.get("notebooks", {}).values()
            for question, seconds in notebook.get("answer_cpu_seconds", {}).items()
        }
        for student, record in saved.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table[sorted(table.columns, key=question_number)] if not table.empty else table


def question_points() -> dict[str, float]:
    """Points of each question (``Q1``: 2.0, ...)."""
    return {question_of(grade): points for grade, points in test_points().items()}


def _figures(table: pd.DataFrame, out: Path) -> dict[str, str]:
    """The total's histogram and one small histogram per question; file names by figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = question_points()
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.hist(table["total"], bins=range(0, int(sum(points.values())) + 2), color="#4c72b0", align="left", rwidth=0.85)
    axis.set(xlabel="total points", ylabel="students", title=f"Total ({len(table)} students)")
    figure.tight_layout()
    figure.savefig(out / "total.png", dpi=110)
    plt.close(figure)

    questions = [question for question in table.columns if question != "total"]
    columns, rows = 4, -(-len(questions) // 4)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 2.2 * rows))
    for axis, question in zip(axes.ravel(), questions, strict=False):
        counts = table[question].value_counts()
        axis.bar(counts.index, counts.values, width=0.4 * min(1.0, points[question]), color="#55a868")
        axis.set_xticks(range(int(points[question]) + 1))
        axis.set_xlim(-0.5, points[question] + 0.5)
        axis.set_title(f"{question} ({points[question]:g} points)", fontsize=9)
        axis.tick_params(labelsize=8)
    for axis in axes.ravel()[len(questions) :]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(out / "questions.png", dpi=110)
    plt.close(figure)
    return {"total": "total.png", "questions": "questions.png"}


def _escape(value: object) -> str:
    return html.escape(str(value))


def _mistakes_html(found: dict[str, Counter], table: pd.DataFrame) -> str:
    points = question_points()
    rows = []
    for question in [question for question in table.columns if question != "total"]:
        full = int((table[question] >= points[question]).sum())
        counts = found.get(question, Counter())
        listed = "".join(
            f'<li><span class="diagnosis">{_escape(name)}</span>: <span class="count">{count}</span> '
            f"student{'s' if count != 1 else ''}</li>"
            for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        )
        rows.append(
            f'<tr data-question="{question}"><th>{question}</th><td class="points">{full} of {len(table)}</td>'
            f"<td><ul>{listed}</ul></td></tr>"
        )
    return (
        "<table id='mistakes'><tr><th>question</th><th>full marks</th><th>what the grader found wrong</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _incidents_html(found: list[Incident]) -> str:
    if not found:
        return "<p>No grading hit a limit, a dead kernel, a shortcut or tampering.</p>"
    rows = "".join(
        f"<tr><td>{_escape(i.student)}</td><td>{_escape(i.notebook)}</td><td>{_escape(i.kind)}</td>"
        f"<td>{_escape(i.reason)}</td></tr>"
        for i in found
    )
    return f"<table id='incidents'><tr><th>student</th><th>notebook</th><th>what</th><th>detail</th></tr>{rows}</table>"


def _cpu_html(cpu: pd.DataFrame) -> str:
    if cpu.empty:
        return "<p>No answer cell ran.</p>"
    rows = []
    for question in cpu.columns:
        seconds = cpu[question].dropna().sort_values(ascending=False)
        slowest = ", ".join(f"{_escape(student)} ({value:.1f} s)" for student, value in seconds.head(SLOWEST).items())
        rows.append(f'<tr><th>{question}</th><td class="points">{seconds.median():.2f}</td><td>{slowest}</td></tr>')
    return (
        "<table id='cpu'><tr><th>question</th><th>median CPU s</th><th>slowest</th></tr>" + "".join(rows) + "</table>"
    )


def _students_html(table: pd.DataFrame, course: Path, out: Path) -> str:
    points = question_points()
    questions = [question for question in table.columns if question != "total"]
    head = "".join(f"<th>{question}</th>" for question in questions)
    rows = []
    for student, row in table.iterrows():
        cells = "".join(
            f'<td class="points{" lost" if row[q] < points[q] else ""}" data-question="{q}">{row[q]:g}</td>'
            for q in questions
        )
        feedback = course / "feedback" / student / ASSIGNMENT
        links = " ".join(
            f'<a href="{_escape(os.path.relpath(feedback / name.replace(".ipynb", ".html"), out))}">{name[0]}</a>'
            for name in notebook_names()
            if (feedback / name.replace(".ipynb", ".html")).is_file()
        )
        rows.append(
            f'<tr data-student="{_escape(student)}"><td>{_escape(student)}</td>{cells}'
            f'<td class="points" data-question="total">{row["total"]:g}</td><td>{links or "none yet"}</td></tr>'
        )
    return (
        f"<table id='students'><tr><th>student</th>{head}<th>total</th><th>feedback</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _similarity_html(pairs: pd.DataFrame, answers: dict[str, dict[str, str]], shown: int) -> str:
    from grading.similarity import side_by_side

    if pairs.empty:
        return "<p>No two students' answers share an unusual part of their code.</p>"
    small = (
        f"<p>Only {len(answers)} students: in a class this small, code they all wrote alike is not yet "
        "common enough to be left out, so these pairs show how alike the answers are more than copying.</p>"
        if len(answers) < SMALL_CLASS
        else ""
    )
    rows = "".join(
        f"<tr><td>{_escape(p.student_a)}</td><td>{_escape(p.student_b)}</td><td class='points'>{p.similarity:.2f}</td>"
        f"<td>{_escape(p.questions)}</td></tr>"
        for p in pairs.itertuples()
    )
    details = "".join(
        f"<details><summary>{_escape(p.student_a)} and {_escape(p.student_b)}: {p.similarity:.2f}</summary>"
        f"{side_by_side(answers[p.student_a], answers[p.student_b], p.questions, (p.student_a, p.student_b))}</details>"
        for p in pairs.head(shown).itertuples()
    )
    return (
        f"{small}<table id='similarity'><tr><th>student</th><th>student</th><th>similarity</th><th>questions</th></tr>"
        f"{rows}</table>{details}"
    )


def write_report(course: Path, out: Path, spark=None, pairs_shown: int = 10) -> Path:
    """Write the class report into ``out`` (index.html, total.png, questions.png, similarity.csv)."""
    from grading import similarity

    out.mkdir(parents=True, exist_ok=True)
    table = score_table(read_scores(course))
    if table.empty:
        raise SystemExit(f"{course / 'gradebook.db'} holds no graded submission of {ASSIGNMENT}: run make autograde")
    saved = class_records(course, list(table.index))
    figures = _figures(table, out)
    answers = similarity.class_answers(course)
    pairs = similarity.similar_pairs(spark or _spark(), answers, similarity.baseline_code(course))
    similarity.write_similarity_csv(pairs, out / "similarity.csv")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lab 5: class report</title><style>{STYLE}</style></head>
<body>
<h1>Lab 5: class report</h1>
<p>{len(table)} students graded; mean total <span id="mean-total">{table["total"].mean():.2f}</span> of
{sum(test_points().values()):g} points.</p>
<h2>Scores</h2>
<img src="{figures["total"]}" alt="distribution of the total"><img src="{figures["questions"]}"
 alt="distribution of each question's score">
<h2>What students got wrong</h2>
{_mistakes_html(mistakes(saved), table)}
<h2>Grading incidents</h2>
{_incidents_html(incidents(saved))}
<h2>CPU time of the answers</h2>
{_cpu_html(answer_cpu(saved))}
<h2>Answers that look copied</h2>
<p>Pairs whose answers share an unusual part of their code (<a href="similarity.csv">similarity.csv</a>): code of
the hand-out and code most of the class shares are left out. An answer retyped from scratch, or help from outside
the class, is not seen.</p>
{_similarity_html(pairs, answers, pairs_shown)}
<h2>Students</h2>
{_students_html(table, course, out)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index


def _spark():
    from helpers.spark import get_spark

    return get_spark("lab5-report")
