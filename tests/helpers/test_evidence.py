"""helpers.questions.evidence: DataFrames turned into the plain data the checks read."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.ml.feature import Normalizer, VectorAssembler

from helpers.questions import q06_features, q08_hashed
from helpers.questions.evidence import table
from helpers.reference.spark_lsh import fit_lsh


def _assembled(spark):
    numbers = pd.DataFrame(np.arange(1.0, 13.0).reshape(4, 3), columns=["a", "b", "c.d"])
    numbers.insert(0, "image", [f"{i}.jpg" for i in range(4)])
    df = spark.createDataFrame(numbers)
    raw = VectorAssembler(inputCols=["a", "b", "`c.d`"], outputCol="raw_features").transform(df)
    return Normalizer(inputCol="raw_features", outputCol="features").transform(raw)


def test_kept_columns_only_have_rows_and_every_column_keeps_its_type(spark):
    """``keep`` collects the rows of the named columns (a name with a dot too); the types of all stay."""
    assembled = _assembled(spark)
    found = table(assembled, keep=("image", "features", "c.d", "absent"))
    assert [name for name, _ in found["dtypes"]] == ["image", "a", "b", "c.d", "raw_features", "features"]
    assert set(found["vector_columns"]) == {"raw_features", "features"}
    assert list(found["columns"]) == ["image", "c.d", "features"]
    assert np.allclose(np.linalg.norm(np.stack(found["columns"]["features"]), axis=1), 1.0)
    assert found["columns"]["c.d"].tolist() == [3.0, 6.0, 9.0, 12.0]


def test_ambiguous_names_collect_every_column(spark):
    """Two columns of one name cannot be selected by name: then every column is collected, as without ``keep``."""
    twice = _assembled(spark).select("image", "a", "a")
    found = table(twice, keep=("image",))
    assert [name for name, _ in found["dtypes"]] == ["image", "a", "a"]
    assert list(found["columns"]) == list(table(twice)["columns"]) == ["image", "a"]
    assert found["columns"]["a"].tolist() == [1.0, 4.0, 7.0, 10.0]


def test_q6_and_q8_collect_what_their_checks_read(spark):
    """Q6: image and features; Q8: image, the hashes and the vectors Q7's model hashes, whatever it calls them."""
    assembled = _assembled(spark).withColumnRenamed("features", "unit")
    assert set(q06_features.collect(None, assembled)["columns"]) == {"image"}  # and the check says so
    model = fit_lsh(assembled, input_col="unit")
    found = q08_hashed.collect(None, model.transform(assembled), model)
    assert set(found["table"]["columns"]) == {"image", "unit", "hashes"}
    assert found["model"]["getInputCol"] == "unit"


def test_pandas_frames_keep_the_same_columns():
    """A pandas DataFrame (a Q5-Q8 mistake) is narrowed the same way, and Q8 collects it without failing."""
    frame = pd.DataFrame({"image": ["x.jpg"], "features": [1.0], "other": [2.0]})
    assert list(table(frame, keep=("image", "features"))["columns"]) == ["image", "features"]
    assert q08_hashed.collect(None, frame, None)["table"]["type"] == "pandas.core.frame.DataFrame"
