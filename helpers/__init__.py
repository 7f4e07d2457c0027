"""Lab 5 "Deep Learning with Spark": what the lab notebooks import, and nothing else.

One module per concern; import the one you need (``from helpers import data``). ``helpers.reference``
holds the lab's reference answers, ``helpers.questions`` what each question's test checks. This file
stays import-light on purpose: ``python -m helpers.java`` must run before any dependency is installed.
"""

from helpers.config import GRADER_DIR as _GRADER_DIR

__version__ = "1.0.0"

# Only inside the autograder's sandbox does the sensor exist: there every Python process that uses the
# lab's package also runs it, and it reports when the lab's reference code runs during grading
# (README, "Grading integrity"). On a student's machine nothing happens here.
if (_GRADER_DIR / "sensor.py").is_file():
    import runpy as _runpy

    _runpy.run_path(str(_GRADER_DIR / "sensor.py"), run_name="lab5_sensor")
