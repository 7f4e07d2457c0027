"""Lab 5 "Deep Learning with Spark": what the lab notebooks import, and nothing else.

One module per concern; import the one you need (``from helpers import data``). This file stays
import-light on purpose: ``python -m helpers.java`` must run before any dependency is installed.
"""

import os as _os

__version__ = "1.0.0"

# Only inside the autograder's sandbox does this file exist: there every Python process that uses the
# lab's package also runs the grader's sensor, which reports when the lab's reference code runs during
# grading (README, "Grading integrity"). On a student's machine nothing happens here.
_GRADER_SENSOR = "/run/lab5/sensor.py"
if _os.path.isfile(_GRADER_SENSOR):  # noqa: PTH113 - this file must stay import-light
    import runpy as _runpy

    _runpy.run_path(_GRADER_SENSOR, run_name="lab5_sensor")
