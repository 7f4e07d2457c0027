"""nbgrader configuration for Lab 5. The course directory is the folder this file is in."""

from pathlib import Path

c = get_config()

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "lab5-deep-learning-with-spark"
# What the notebooks write while they run is never part of the release or of a submission's grading input.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "lab5_work"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A cell that runs longer than this is stopped and the notebook graded without it (infinite loops).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Student code that misbehaves must not cost more than its own question: a dead kernel is restarted
# (grading/preprocessors/resilient_execute.py), and test cells a student deleted are put back from the gradebook.
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades

from grading.preprocessors import ResilientExecute

c.Autograde.autograde_preprocessors = [
    ResilientExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True

# nbgrader gives a test cell 0 points when anything reaches stderr. helpers.spark keeps Spark quiet;
# these are the lines that can still appear (printed by the JVM itself, before logging is set up).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?ms)^(WARNING: Using incubator modules|Setting default log level|"
    r"To adjust logging level|netlib-|\d\d:\d\d:\d\d WARN )"
    r"|pyspark/daemon\.py.*BrokenPipeError"  # a Python worker told to stop early by the JVM
)

# `make collect`: LMS downloads (Canvas names them student_userid_submissionid_file.ipynb, with
# "late_" after the student on late work) go to downloaded/lab5/archive/ as zips or files.
c.FileNameCollectorPlugin.named_regexp = r"^(?P<student_id>[^_]+)_(?:late_)?\d+_\d+_(?P<file_id>.+)$"
