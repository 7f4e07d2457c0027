"""nbgrader configuration for Lab 5. The course directory is the folder this file is in."""

from pathlib import Path

c = get_config()

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "lab5-deep-learning-with-spark"
# What the notebooks write while they run is never part of the release or of a submission's grading input.
# The grader's record of each submission (lab5_grading.json) stays out of students' feedback.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "lab5_work",
    "lab5_kernel",
    "lab5_grading.json",
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Student code is untrusted: every kernel runs in a bubblewrap sandbox, a cell is stopped after
# SandboxedExecute.cpu_timeout seconds of CPU time (scaled with LAB_SUBSET; load-independent), and test
# verdicts are computed outside the kernel (grading/preprocessors/sandboxed_execute.py, README
# "Grading integrity"). Execute.timeout is wall-clock time: only a backstop for code that sleeps. A
# kernel that dies on start is noticed at once, so its wall-clock startup_timeout is a backstop too
# (nbclient's 60 s could be exceeded on a loaded grading machine and fail a whole notebook).
c.SandboxedExecute.cpu_timeout = 120
c.Execute.timeout = 1800
c.Execute.startup_timeout = 600
c.Execute.interrupt_on_timeout = True

# A dead kernel costs only its cell (the kernel is restarted and the Setup cells re-run), test cells a
# student deleted are put back from the gradebook, and SandboxedExecute caps each cell's output
# (SandboxedExecute.max_output_chars) as it runs, in place of nbgrader's LimitOutput.
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, SaveAutoGrades

# By name: only autograding imports the sandbox, torch and the checks (nbconvert imports a named preprocessor).
c.Autograde.autograde_preprocessors = [
    "grading.preprocessors.sandboxed_execute.SandboxedExecute",
    IgnorePattern,
    ClearMetadataPreprocessor,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True

# Late work (the due date: `nbgrader db assignment add lab5 --duedate=...`): 10% of a notebook's score
# per started day late, zero after 5 days (grading/late.py).
from grading.late import PercentPerDayPenalty

c.AssignLatePenalties.plugin_class = PercentPerDayPenalty
c.PercentPerDayPenalty.percent_per_day = 10.0
c.PercentPerDayPenalty.max_days = 5

# Feedback shows each test's points and message, never the hidden tests' code (nbgrader issue #917), and no
# path of the grading machine.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

c.GenerateFeedback.preprocessors = [
    "grading.preprocessors.hide_hidden_tests.HideHiddenTests",
    "grading.preprocessors.hide_grader_paths.HideGraderPaths",
    GetGrades,
    CSSHTMLHeaderPreprocessor,
]

# nbgrader gives a test cell 0 points when anything reaches stderr. helpers.spark keeps Spark quiet;
# these are the lines that can still appear (printed by the JVM itself, before logging is set up).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?ms)^(WARNING: Using incubator modules|Setting default log level|"
    r"To adjust logging level|netlib-|\d\d:\d\d:\d\d WARN )"
    r"|pyspark/daemon\.py.*BrokenPipeError"  # a Python worker told to stop early by the JVM
)

# `make collect`: LMS downloads (Canvas names them student_userid_submissionid_file.ipynb, with
# "late_" after the student on late work) go to downloaded/lab5/archive/ as zips or files. nbgrader
# matches the regexp against each extracted file's absolute path, hence the leading ".*/".
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>[^/]+)$"
