"""Q8 · ``hashed``: every image once with the hashes that Q7's ``model`` gives its features.

The test also collects Q7's ``model``: hashing with one's own model is what Q8 grades.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.questions import Diagnosis, q07_lsh_model
from helpers.questions.evidence import Evidence, is_spark_frame, table
from helpers.questions.q05_dataframe import not_a_spark_dataframe

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q8_hashed_dataframe"


def collect(lab: LabSetup, hashed: object = None, model: object = None) -> Evidence:
    """Q7's model, as Q7's test collects it, and the hashed DataFrame's column types and the rows the check
    reads: image, the hash (array) columns and the vectors the model hashes.
    """
    found = q07_lsh_model.collect(lab, model)
    hashes = [name for name, kind in hashed.dtypes if kind.startswith("array<")] if is_spark_frame(hashed) else []
    read = found.get("getInputCol")
    keep = {"image", *hashes, read if isinstance(read, str) else "features"}
    return {"table": table(hashed, keep=keep), "model": found}


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A Spark DataFrame with an array (hash) column."""
    rows = found["table"]
    if problem := not_a_spark_dataframe(rows, "hashed"):
        return problem
    if not [name for name, kind in rows["dtypes"] if kind.startswith("array<")]:
        return Diagnosis("no hash column", "hashed has no hash column: use model.transform(assembled)")
    return None
