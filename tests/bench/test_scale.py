"""The LSH scale study's pieces: the rule, the synthetic rows, the NumPy baseline and Spark-equal bucket ids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import scale
from bench.lsh import bucket_ids
from helpers import spark as lab_spark
from helpers.reference.neighbors import exact_neighbors
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh
from helpers.vectors import unit_vectors


@pytest.fixture(scope="module")
def base(default_embeddings):
    """The default dataset's random-weight embeddings as unit float32 vectors (512-d)."""
    return unit_vectors(default_embeddings.vectors).astype(np.float32)


def test_rule_reaches_the_target_recall_and_moves_the_right_way():
    """The rule's bucket length gives each table count its target collision rate at d5; more tables or a
    lower target allow narrower buckets, and the bucket scales with d5.
    """
    for tables in (1, 2, 4, 8):
        width = scale.rule(0.5, 0.95, tables)
        found = 1 - (1 - scale.collision(width * np.sqrt(scale.DIMENSION) / 0.5)) ** tables
        assert found >= 0.95 - 1e-3
    assert scale.rule(0.5, 0.95, 8) < scale.rule(0.5, 0.95, 4) < scale.rule(0.5, 0.95, 2)
    assert scale.rule(0.5, 0.9, 4) < scale.rule(0.5, 0.99, 4)
    assert scale.rule(0.25, 0.95, 4) == pytest.approx(scale.rule(0.5, 0.95, 4) / 2, rel=0.01)


def test_synthetic_rows_are_unit_prefixes_with_planted_duplicates(base):
    """Smaller sizes are prefixes of larger ones; rows are unit length; every 100th row is a near-duplicate."""
    small, large = scale.synthetic(base, 300, 0.1), scale.synthetic(base, 1000, 0.1)
    np.testing.assert_array_equal(small, large[:300])
    assert small.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(large, axis=1), 1, atol=1e-5)
    planted = np.linalg.norm(large[99::100] - large[98::100][: len(large[99::100])], axis=1)
    assert np.all(planted < 2 * scale.DUPLICATE_DISTANCE)
    others = np.linalg.norm(large[1:98] - large[:97], axis=1)
    assert others.min() > 2 * scale.DUPLICATE_DISTANCE


def test_numpy_baseline_finds_the_exact_neighbours(base):
    """exact_top returns the neighbours helpers.vectors.exact_neighbors finds, nearest first."""
    names = [str(i) for i in range(len(base))]
    top, distances = scale.exact_top(base, base[[3, 17]], 5)
    for row, found, found_distances in zip((3, 17), top, distances):
        expected = exact_neighbors(names, base, base[row], 5)
        assert [names[i] for i in found] == expected["image"].tolist()
        np.testing.assert_allclose(found_distances, expected["distance"], atol=1e-3)


def test_bucket_ids_equal_sparks_hashes(spark, default_embeddings):
    """The NumPy bucket ids used for candidate counts are the hashes Spark's model.transform computes."""
    features = assemble(embeddings_df(spark, default_embeddings.names, default_embeddings.vectors))
    model = fit_lsh(features, 0.01, 3)
    spark_ids = np.array([[h[0] for h in row[0]] for row in model.transform(features).select("hashes").collect()])
    numpy_ids = bucket_ids(model, unit_vectors(default_embeddings.vectors))
    assert numpy_ids.shape == (len(default_embeddings.names), 3)
    assert (numpy_ids == spark_ids).mean() >= 0.999  # a projection exactly on a bucket edge may round apart
    assert len(np.unique(numpy_ids[:, 0])) > 1  # several buckets, so the comparison means something


@pytest.mark.slow
def test_tiny_study_writes_rows_and_keeps_other_keys(base, tmp_path):
    """Two tiny sizes: an lsh_scaling row per size and setting with the documented keys; other keys kept."""
    (tmp_path / "latest.json").write_text(json.dumps({"embedding": {"fast_img_per_s": 1.0}}))
    scale.run((300, 600), 3, tmp_path, base=base[:200])
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["embedding"] == {"fast_img_per_s": 1.0}
    rows = saved["lsh_scaling"]
    assert {row["rows"] for row in rows} == {300, 600}
    for row in rows:
        assert {"rows", "recall_at_5", "candidate_fraction", "query_ms", "bucket_length", "num_hash_tables"} <= set(row)
        assert 0 <= row["recall_at_5"] <= 1 and 0 < row["candidate_fraction"] <= 1 and row["query_ms"] > 0
    assert any(row["setting"] == "lab default" and row["bucket_length"] == lab_spark.BUCKET_LENGTH for row in rows)
    sizes = saved["lsh_scale_study"]["sizes"]
    assert [size["rows"] for size in sizes] == [300, 600] and all(size["numpy"]["query_ms"] > 0 for size in sizes)
    assert all("recall" in join or "skipped" in join for size in sizes for join in size["joins"])


def test_simulated_lsh_matches_sparks_answers(spark, default_embeddings):
    """simulate_lsh (NumPy, used by the tuning notebook at sizes Spark takes minutes for) gives Spark's recall
    and candidate fraction on the same model and rows.
    """
    from bench.lsh import evaluate_lsh, simulate_lsh

    names, unit = default_embeddings.names, unit_vectors(default_embeddings.vectors)
    features = assemble(embeddings_df(spark, names, default_embeddings.vectors)).cache()
    queries = list(range(0, len(names), 40))
    measured = evaluate_lsh(features, names, unit, queries, 0.004, 2)
    simulated = simulate_lsh(fit_lsh(features, 0.004, 2), unit, queries)
    assert 0 < measured["recall_at_5"] < 1  # a setting that misses some neighbours: the comparison can fail
    assert simulated["recall_at_5"] == pytest.approx(measured["recall_at_5"], abs=0.03)
    assert simulated["candidate_fraction"] == pytest.approx(measured["candidate_fraction"], abs=1e-9)
