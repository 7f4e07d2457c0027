"""Q11 · ``neighbors``: the 5 approximate nearest neighbours of ``query_vector``, the query first at distance 0."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.questions import Diagnosis, q09_query_image
from helpers.questions.evidence import Evidence, table

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q11_five_nearest_neighbors"


def collect(lab: LabSetup, query_image: object = None, neighbors: object = None) -> Evidence:
    """Q9's name and the neighbours' rows (a list of Rows counts as a table too)."""
    if isinstance(neighbors, list):  # a list of Rows, e.g. from .collect()
        import pandas as pd

        neighbors = pd.DataFrame([row.asDict() if hasattr(row, "asDict") else dict(row) for row in neighbors])
    return {**q09_query_image.collect(lab, query_image), "table": table(neighbors)}


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A table with an image column and 5 rows."""
    columns = found["table"].get("columns")
    if columns is None:
        return Diagnosis("not a DataFrame", f"neighbors must be a DataFrame, not {found['table']['type']}")
    if "image" not in columns:
        return Diagnosis("no image column", "neighbors must keep the image column")
    if not columns["image"]:
        return Diagnosis(
            "no rows",
            "neighbors has no rows: no indexed image shares a bucket with the key, so query with query_vector, "
            "the unit-length features vector the index was built from (and k=5)",
        )
    if len(columns["image"]) != 5:
        return Diagnosis("not 5 rows", f"neighbors has {len(columns['image'])} rows; ask for k=5")
    return None
