"""nbgrader preprocessors of this course, one per file; ``nbgrader_config.py`` enables them."""

from grading.preprocessors.resilient_execute import ResilientExecute

__all__ = ["ResilientExecute"]
