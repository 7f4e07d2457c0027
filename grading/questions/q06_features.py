"""Q6's hidden check: features is each image's embedding scaled to unit length, components in their order."""

from __future__ import annotations

import numpy as np

from grading.questions.q05_dataframe import UNIT_TOLERANCE, rows_problem, same_images
from grading.references import References
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence

GRADE_ID = "q6_features_vector"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/spark_lsh.py:assemble",
    "reference/spark_lsh.py:query_index",
)


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """Each image's features vector is its unit-length reference embedding."""
    if problem := same_images(lab, found["columns"]["image"], "assembled"):
        return problem
    rows = dict(zip(found["columns"]["image"], found["columns"]["features"]))
    got = np.stack([np.asarray(rows[name], dtype=np.float64) for name in lab.image_names])
    expected = np.stack([refs.unit[name] for name in lab.image_names])
    equal = np.array([np.allclose(a, b, atol=UNIT_TOLERANCE) for a, b in zip(got, expected)])
    return rows_problem(
        got,
        expected,
        equal,
        "features",
        "the assembler's inputCols must be the 512 number columns in the CSV's order (df.columns "
        "without image, not sorted: as text v10 comes before v2)",
        "assemble the 512 number columns of df, all but image, and normalise with Normalizer(p=2.0)",
    )
