"""nbgrader preprocessors of this course, one per file; ``nbgrader_config.py`` enables them."""

from grading.preprocessors.hide_grader_paths import HideGraderPaths
from grading.preprocessors.hide_hidden_tests import HideHiddenTests
from grading.preprocessors.sandboxed_execute import SandboxedExecute

__all__ = ["HideGraderPaths", "HideHiddenTests", "SandboxedExecute"]
