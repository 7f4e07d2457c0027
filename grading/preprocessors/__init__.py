"""nbgrader preprocessors of this course, one per file; ``nbgrader_config.py`` enables them by name.

- ``hide_grader_paths.HideGraderPaths``: feedback shows no path of the grading machine;
- ``hide_hidden_tests.HideHiddenTests``: feedback shows each test's message, never its code;
- ``sandboxed_execute.SandboxedExecute``: runs the notebook in the sandbox and computes the verdicts.

Nothing is imported here: nbgrader's other commands (generate_assignment, feedback, db) then start
without importing torch and the checks, which only autograding needs.
"""
