"""A whole class graded at once, sandboxed and in parallel: golden, attacking and misbehaving submissions.

One course, graded in two rounds. Round 1 grades an honest student and a misbehaving one, one at a
time; then the course is fingerprinted (source, gradebook rows, other students' files). Round 2
grades everyone else two at a time: the golden submissions, every attack of ``grading.attacks`` and
the misbehaving ones. Two of them are round 1's answers under other names (the golden "solution"
and "kernel_dies"), so the rounds also compare sequential with parallel grading cell by cell. Every
test below reads that one run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import os
import re
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from grading import attacks, course, golden, roundtrip
from grading.autograde import grade_class
from grading.gradebook import url

pytestmark = pytest.mark.slow

OPTIONS = roundtrip.QUICK_CPU_LIMIT
#: A last cell that shows how many threads the kernel's torch runs.
THREADS = "import torch\nprint(f'torch threads: {torch.get_num_threads()}')"


class Listener:
    """A TCP server on the grading machine's loopback that records whatever reaches it."""

    def __init__(self):
        self.received: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.received.append(connection.recv(1024) or b"(connected)")


def fingerprint(course_dir: Path, students: list[str]) -> dict[str, str]:
    """Hashes of the course's source, the given students' gradebook rows and their submitted and graded files."""
    from nbgrader.api import Gradebook

    prints = {}
    for path in sorted(
        [
            *course_dir.glob("source/**/*"),
            *course_dir.glob("submitted/**/*"),
            *[p for s in students for p in (course_dir / "autograded" / s).glob("**/*")],
        ]
    ):
        if path.is_file():
            prints[str(path.relative_to(course_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    with Gradebook(url(course_dir / "gradebook.db")) as gradebook:
        for student in students:
            rows = [
                (g.notebook.name, g.name, g.auto_score, g.manual_score)
                for nb in gradebook.find_submission("lab5", student).notebooks
                for g in nb.grades
            ]
            prints[f"gradebook:{student}"] = hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()
    return prints


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, graded in two rounds, with the world outside fingerprinted in between."""
    course_dir = tmp_path_factory.mktemp("class") / "course"
    listener = Listener()
    # Notebooks 1 and 2 hold the most points and the cells the attacks go after; the golden "solution"
    # of round 2 is the second honest student, with all four notebooks.
    honest = {
        "honest": golden.Crafted(notebooks=(attacks.NB1, attacks.NB2), added={attacks.NB2: (THREADS,)}),
        "kernel_dies_alone": attacks.MISBEHAVING["kernel_dies"],
    }
    course.prepare_course(course_dir)
    release = course.generate_release(course_dir)
    everyone = {
        **golden.GOLDEN,
        # Its notebooks 1 and 4 are the solution's, graded under that name already.
        "wrong_model": dataclasses.replace(golden.GOLDEN["wrong_model"], notebooks=(attacks.NB2, attacks.NB3)),
        **attacks.SHORTCUTS,
        "callbacks": attacks.CALLBACKS,
        "borrowed_names": attacks.borrowed_names(release),
        "patched_lab": attacks.PATCHED_LAB,
        "pasted_answers": attacks.pasted_answers(tmp_path_factory.mktemp("home")),
        "garbage_evidence": attacks.GARBAGE_EVIDENCE,
        "tampering": attacks.TAMPERING,
        "escapes": attacks.escapes(listener.port, str(course_dir)),
        **attacks.MISBEHAVING,
        "edited_tests": dataclasses.replace(attacks.MISBEHAVING["edited_tests"], added={attacks.NB2: (THREADS,)}),
    }
    for student, crafted in {**honest, **everyone}.items():
        course.submit(course_dir, student, golden.make_submission(release, crafted))
    problems = course.submission_problems(course_dir)
    first = grade_class(course_dir, list(honest), jobs=1, options=OPTIONS, progress=False)
    before = fingerprint(course_dir, list(honest))
    second = grade_class(course_dir, list(everyone), jobs=2, options=OPTIONS, progress=False)
    course.nbgrader(course_dir, "generate_feedback", "lab5", "--force")
    listener.server.close()
    return {
        "course": course_dir,
        "scores": course.read_scores(course_dir),
        "runs": (first, second),
        "before": before,
        "after": fingerprint(course_dir, list(honest)),
        "listener": listener,
        "submissions": {**honest, **everyone},
        "problems": problems,
    }


def _table(graded, student):
    scores = graded["scores"]
    return dict(zip(scores[scores.student == student].grade_id, scores[scores.student == student].score))


def _outputs(graded, student, notebook) -> str:
    path = graded["course"] / "autograded" / student / "lab5" / notebook
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(o.get("text", "") + o.get("evalue", "") for cell in cells for o in cell.get("outputs", []))


def _text(page: Path) -> str:
    """What a feedback page shows, as plain text (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def _feedback(graded, student, notebook) -> str:
    return _text(graded["course"] / "feedback" / student / "lab5" / notebook.replace(".ipynb", ".html"))


def test_every_submission_scores_exactly_what_its_honest_answers_earn(graded):
    """Golden, shortcut, tampering, escaping and misbehaving submissions: every test cell as expected."""
    assert not [run for run in graded["runs"] if run.failures]
    assert roundtrip.mismatches(graded["scores"], graded["submissions"]) == []


def test_nothing_outside_the_submission_changes(graded):
    """The source, the honest student's gradebook rows and files, every submitted file: unchanged."""
    assert graded["after"] == graded["before"]


def test_the_escapes_all_failed_inside_the_sandbox(graded):
    """No secret was read, nothing written, nothing reached the grading machine's network."""
    printed = _outputs(graded, "escapes", attacks.NB1)
    attempts = [line for line in printed.splitlines() if line.startswith("ATTACK")]
    assert len(attempts) == 7 and all("failed:" in line for line in attempts), attempts
    assert graded["listener"].received == []
    assert "BEGIN SOLUTION" not in printed and "grade_id" not in printed


def test_a_process_left_behind_is_gone_before_the_next_notebook(graded):
    """A process notebook 1 leaves running is killed before notebook 2's reference files are shown."""
    printed = _outputs(graded, "escapes", attacks.NB2)
    [line] = [line for line in printed.splitlines() if line.startswith("ATTACK linger")]
    assert line.startswith("ATTACK linger failed: gone"), line


def test_notebook_4_starts_clean_in_the_driver_jvm_notebook_3_used(graded):
    """Notebooks 3 and 4 share one driver JVM; what notebook 3 left in it (a view, a cached table, the JVM
    stopped) is gone, and notebook 4 scores full marks (``test_every_submission_scores_...``).
    """
    third, fourth = (_outputs(graded, "left_in_driver", notebook) for notebook in (attacks.NB3, attacks.NB4))
    [line] = [line for line in fourth.splitlines() if line.startswith("ATTACK left in driver")]
    assert line == "ATTACK left in driver failed: view gone"
    jvms = [re.findall(r"^JVM (\d+)$", text, re.MULTILINE) for text in (third, fourth)]
    assert jvms[0] == jvms[1] and len(jvms[0]) == 1, jvms


def test_a_flood_of_output_is_cut(graded):
    """100 MB printed by an answer cell end up as at most 100,000 characters in the graded notebook."""
    notebook = graded["course"] / "autograded" / "escapes" / "lab5" / attacks.NB1
    assert notebook.stat().st_size < 2_000_000
    assert "output cut by the grader" in _outputs(graded, "escapes", attacks.NB1)


def test_a_fork_bomb_is_stopped_and_the_next_notebook_graded(graded):
    """The bomb's cell is stopped by its CPU time; notebook 2 of the same student then scores full marks."""
    assert "CPU time" in _outputs(graded, "escapes", attacks.NB1)
    scores = _table(graded, "escapes")
    assert scores["q2_class_c_get_vec"] == 3 and scores["q3_all_embeddings"] == 2


@pytest.mark.parametrize(
    "student",
    ["shortcuts_a", "shortcuts_b", "stashed_for_later", "callbacks", "borrowed_names", "patched_lab", "pasted_answers"],
)
def test_feedback_names_what_cost_the_points(graded, student):
    """The feedback says which reference function ran (or what else was wrong), in the failed test's own notebook."""
    for grade, word in graded["submissions"][student].says.items():
        notebook = next(
            name for name, cells in course.source_cells().items() if grade in {course.grade_id(cell) for cell in cells}
        )
        assert word in _feedback(graded, student, notebook), (grade, word)


def test_a_damaged_evidence_file_fails_only_its_own_test(graded):
    """Truncated evidence (a broken zip) fails Q9 with the grader's message; Q10-Q12 keep their points."""
    scores = _table(graded, "garbage_evidence")
    assert scores["q9_random_query_image"] == 0 and scores["q12_neighbor_figure"] == 2
    assert "could not read this test's results" in _feedback(graded, "garbage_evidence", attacks.NB4)


def test_an_endless_loop_is_stopped_by_cpu_time(graded):
    """The loop's cell is stopped after its CPU limit and says so; the next test and notebook still run."""
    assert "CPU time" in _outputs(graded, "infinite_loop", attacks.NB1)


def test_a_dead_kernel_costs_only_what_depended_on_it(graded):
    """os._exit in Q3: the kernel is restarted, the rest of the notebook graded, and the cell says why."""
    assert "The kernel died while this cell ran" in _outputs(graded, "kernel_dies", attacks.NB2)


def test_missing_and_renamed_notebooks_are_reported(graded):
    """A renamed notebook is named in the report and graded as missing."""
    mine = [p for p in graded["problems"] if p.startswith("renamed_and_missing:")]
    assert len(mine) == 3 and any("(1).ipynb" in p and "renamed" in p for p in mine)


def test_feedback_shows_messages_but_never_hidden_tests(graded):
    """A wrong submission's feedback carries its messages; no page quotes a hidden test line."""
    hidden = {
        line.strip()
        for cells in course.source_cells().values()
        for cell in cells
        if course.is_test_cell(cell)
        for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
        if line.strip()
    }
    pages = list((graded["course"] / "feedback").glob("*/lab5/*.html"))
    assert len(pages) >= 40
    for page in pages:
        text = _text(page)
        assert "BEGIN HIDDEN TESTS" not in text and not [line for line in hidden if line in text], page
    wrong = _feedback(graded, "wrong_answers", attacks.NB1)
    assert "hidden tests are not shown" in wrong and "cropped" in wrong


def test_feedback_shows_no_path_of_the_grading_machine(graded):
    """No feedback output names the grader's Python, the lab's folder, the course or a scratch folder; the Setup
    cells say the notebooks ran on other images, and paths read as the student knows them (lab5_work/...).
    """
    import sys

    from helpers.config import PROJECT_ROOT

    secrets = [str(PROJECT_ROOT), sys.prefix, str(graded["course"]), "/lab5-grading-", "/tmp/lab5-"]
    for page in (graded["course"] / "feedback").glob("*/lab5/*.html"):
        if page.parts[-3] == "escapes":
            continue  # its own code names the course folder, as an attacker who guessed it would
        text = _text(page)
        assert not [secret for secret in secrets if secret in text], page
    setup = _feedback(graded, "solution", attacks.NB2)
    assert "not the ones you had" in setup and "Using your Q1 output: lab5_work/resized" in setup


def test_grading_one_at_a_time_gives_the_same_scores(graded):
    """Round 1 (JOBS=1) and round 2 (JOBS=2) graded the same golden and misbehaving answers: every cell alike."""
    assert graded["runs"][0].jobs == 1 and graded["runs"][1].jobs == 2
    scores = graded["scores"]
    for alone, together in (("honest", "solution"), ("kernel_dies_alone", "kernel_dies")):
        submitted = graded["submissions"][alone].notebooks
        cells = scores[scores.notebook.isin([name.removesuffix(".ipynb") for name in submitted])]
        sequential, parallel = (
            cells[cells.student == student].sort_values("grade_id")[["grade_id", "score"]].values.tolist()
            for student in (alone, together)
        )
        tests = [c for name in submitted for c in course.source_cells()[name] if course.is_test_cell(c)]
        assert len(sequential) == len(tests) and sequential == parallel, alone


def test_each_job_s_kernel_runs_its_share_of_the_cores(graded):
    """One job has every core; two jobs share them, so that their kernels do not wait on each other."""
    cores = os.cpu_count() or 1
    assert f"torch threads: {cores}" in _outputs(graded, "honest", attacks.NB2)
    assert f"torch threads: {max(1, cores // 2)}" in _outputs(graded, "edited_tests", attacks.NB2)


def test_the_class_report_shows_what_the_gradebook_holds(graded, chromium, spark):
    """Make report on this class, read in Chromium: every student's points, the full-marks counts, the
    diagnosed mistakes, the incidents and working feedback links, as the gradebook and records say.
    """
    from grading.export import points_per_question
    from grading.report import class_records, mistakes, write_report
    from helpers.config import artifacts_dir

    index = write_report(graded["course"], graded["course"] / "reports" / "lab5", spark)
    table = course.score_table(graded["scores"])
    page = chromium.new_page()
    page.goto(index.as_uri())
    shown = {
        row.get_attribute("data-student"): {
            cell.get_attribute("data-question"): float(cell.inner_text())
            for cell in row.locator("td[data-question]").all()
        }
        for row in page.locator("#students tr[data-student]").all()
    }
    assert shown == {student: {q: float(v) for q, v in row.items()} for student, row in table.iterrows()}
    assert points_per_question(graded["course"])["total"].to_dict() == {s: r["total"] for s, r in shown.items()}

    diagnosed = mistakes(class_records(graded["course"], list(table.index)))
    trained = diagnosed["Q2"]["C left in training mode"]
    assert trained >= 1 and f"C left in training mode: {trained} student" in page.locator("#mistakes").inner_text()
    points = {course.question_of(grade): value for grade, value in course.test_points().items()}
    for question, value in points.items():
        full = int((table[question] >= value).sum())
        assert (
            page.locator(f'#mistakes tr[data-question="{question}"] td.points').inner_text()
            == f"{full} of {len(table)}"
        )
    incidents = page.locator("#incidents").inner_text()
    for student, kind in (
        ("kernel_dies", "the kernel died"),
        ("infinite_loop", "CPU-time limit"),
        ("tampering", "tampering"),
        ("shortcuts_a", "shortcut"),
    ):
        assert any(student in line and kind in line for line in incidents.splitlines()), (student, kind)
    link = page.locator('#students tr[data-student="wrong_answers"] a').first
    with page.expect_navigation():  # until the feedback page has loaded: read at once, its body can still be empty
        link.click()
    assert "cropped" in page.content()
    page.goto(index.as_uri())
    artifacts_dir().mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts_dir() / "class_report.png"), full_page=True)
    assert (index.parent / "total.png").stat().st_size > 5000 and (index.parent / "similarity.csv").is_file()
