"""Q5 · ``df``: a Spark DataFrame with one row per image, an ``image`` column and 512 numeric columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, table

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q5_spark_dataframe"


def collect(lab: LabSetup, df: object = None) -> Evidence:
    """The DataFrame's column types and rows."""
    return table(df)


def not_a_spark_dataframe(found: Evidence, name: str) -> Diagnosis | None:
    """A Diagnosis when the table evidence does not come from a Spark DataFrame (Q5, Q6 and Q8 need one)."""
    if not found["type"].startswith("pyspark.sql"):
        return Diagnosis(
            "not a Spark DataFrame", f"{name} must be a Spark DataFrame, not {found['type'].rsplit('.', 1)[-1]}"
        )
    return None


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A Spark DataFrame with the image column and 512 numeric columns."""
    from helpers.spark import numeric_columns

    if problem := not_a_spark_dataframe(found, "df"):
        return problem
    columns = [name for name, _ in found.get("dtypes", [])]
    if "image" not in columns:
        return Diagnosis(
            "read without header=True",
            f"df needs the image column; its columns start {columns[:3]}: read the CSV with header=True, so "
            "that its first line names the columns",
        )
    numeric = numeric_columns(found.get("dtypes", []))
    if len(numeric) != EMBEDDING_DIM:
        return Diagnosis(
            "numbers read as strings",
            f"{len(numeric)} numeric columns, expected {EMBEDDING_DIM}: use inferSchema=True "
            "(or a schema) so the numbers are not read as strings",
        )
    return None
