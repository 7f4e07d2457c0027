"""helpers.spark: one session, embeddings as DataFrames, unit vectors, LSH and nearest-neighbour queries."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.linalg import DenseVector

from helpers import spark as lab_spark
from helpers.reference.neighbors import exact_neighbors, nearest_neighbors, vector_of
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh, read_embeddings_df
from helpers.reference.storage import write_embeddings
from helpers.vectors import unit_vectors

# Measured with the seeded random ResNet-18 (fp32) on the default dataset, every 10th image as the query,
# its 5 nearest neighbours excluding itself: exact 0.910, Spark LSH 0.910 (recall@5 vs exact 1.000).
MIN_SAME_CLASS_FRACTION = 0.85
MIN_LSH_RECALL = 0.9


def test_get_spark_returns_the_same_session(spark):
    """get_spark called again (any app name) returns the running session instead of starting another."""
    assert lab_spark.get_spark() is spark
    assert lab_spark.get_spark("another-name") is spark
    assert spark.sparkContext.appName == "lab5-tests"
    assert spark.conf.get("spark.ui.enabled") == "false"


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, default_embeddings):
    """The first 20 default-dataset embeddings written as CSV and as Parquet by helpers.store."""
    folder = tmp_path_factory.mktemp("embeddings")
    names, vectors = default_embeddings.names[:20], default_embeddings.vectors[:20]
    return (
        names,
        vectors,
        {suffix: write_embeddings(names, vectors, folder / f"emb.{suffix}") for suffix in ("csv", "parquet")},
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_read_embeddings_df_values(spark, small_files, suffix):
    """An embeddings CSV or Parquet file becomes image + 512 numeric columns holding the written float32 values."""
    names, vectors, paths = small_files
    df = read_embeddings_df(spark, paths[suffix])
    assert df.columns == ["image"] + [f"v{i}" for i in range(512)]
    assert lab_spark.numeric_columns(df.dtypes) == [f"v{i}" for i in range(512)]
    table = df.toPandas()
    assert table["image"].tolist() == names
    assert np.array_equal(table.drop(columns="image").to_numpy().astype(np.float32), vectors)


@pytest.mark.parametrize(
    "suffix",
    [
        "csv",
        "parquet",
    ],
)
def test_read_embeddings_df_columns_are_double(spark, small_files, suffix):
    """read_embeddings_df gives a string image column and 512 double columns, whatever the file format."""
    _, _, paths = small_files
    dtypes = read_embeddings_df(spark, paths[suffix]).dtypes
    assert dtypes[0] == ("image", "string")
    assert len(dtypes) == 513
    assert {kind for _, kind in dtypes[1:]} == {"double"}


def test_csv_and_parquet_give_the_same_features(spark, small_files):
    """Assemble on the CSV and on the Parquet DataFrame gives the same unit vectors (to float32 precision)."""
    _, _, paths = small_files
    from_csv, from_parquet = (
        np.array(
            [row.features.toArray() for row in assemble(read_embeddings_df(spark, paths[s])).orderBy("image").collect()]
        )
        for s in ("csv", "parquet")
    )
    np.testing.assert_allclose(from_csv, from_parquet, rtol=0, atol=1e-6)


def test_assemble_gives_unit_features(spark, small_files):
    """Assemble produces an image + features DataFrame whose vectors have length 1 and point like the inputs."""
    names, vectors, paths = small_files
    features = assemble(read_embeddings_df(spark, paths["csv"]))
    assert features.columns == ["image", "features"]
    rows = {row.image: row.features for row in features.collect()}
    assert sorted(rows) == sorted(names)
    for name, vector in zip(names, unit_vectors(vectors)):
        assert isinstance(rows[name], DenseVector) and len(rows[name]) == 512
        assert np.linalg.norm(rows[name].toArray()) == pytest.approx(1.0, abs=1e-9)
        np.testing.assert_allclose(rows[name].toArray(), vector, atol=1e-6)


@pytest.fixture(scope="module")
def default_index(spark, default_embeddings):
    """All default-dataset embeddings in Spark: (features, fitted LSH model, hashed DataFrame)."""
    features = assemble(embeddings_df(spark, default_embeddings.names, default_embeddings.vectors)).cache()
    model = fit_lsh(features)
    hashed = model.transform(features).cache()
    yield features, model, hashed
    hashed.unpersist()
    features.unpersist()


def test_lsh_adds_hashes(default_index, default_embeddings):
    """fit_lsh + transform adds a hashes column with NUM_HASH_TABLES one-number vectors per image."""
    _features, model, hashed = default_index
    assert model.getNumHashTables() == lab_spark.NUM_HASH_TABLES
    assert model.getBucketLength() == lab_spark.BUCKET_LENGTH
    assert hashed.columns == ["image", "features", "hashes"]
    rows = hashed.select("hashes").collect()
    assert len(rows) == len(default_embeddings.names)
    for row in rows:
        assert len(row.hashes) == lab_spark.NUM_HASH_TABLES
        assert all(len(h) == 1 for h in row.hashes)


def test_query_in_index_returns_itself_first(default_index, default_embeddings):
    """Querying an indexed image's vector returns exactly k=5 rows, nearest first, the image itself at distance 0."""
    features, model, hashed = default_index
    query = default_embeddings.names[17]
    vector = vector_of(features, query)
    found = nearest_neighbors(model, hashed, vector, k=5)
    assert list(found.columns) == ["image", "distance"]
    assert len(found) == 5
    assert found.loc[0, "image"] == query
    assert found.loc[0, "distance"] == pytest.approx(0.0, abs=1e-9)
    assert found["distance"].is_monotonic_increasing
    assert found["image"].is_unique


def test_vector_of_unknown_image(default_index):
    """vector_of an image that is not in the DataFrame is a KeyError naming it."""
    features, _, _ = default_index
    with pytest.raises(KeyError, match=r"nope\.jpg"):
        vector_of(features, "nope.jpg")


def test_neighbours_share_the_near_duplicate_group(default_index, default_embeddings):
    """For every 10th image, its 5 nearest neighbours (exact and LSH) mostly share its class; LSH recall@5 >= 0.9."""
    _, model, hashed = default_index
    names, classes = default_embeddings.names, default_embeddings.classes
    class_of = dict(zip(names, classes))
    units = unit_vectors(default_embeddings.vectors)
    exact_fraction, lsh_fraction, recall = [], [], []
    for i in range(0, len(names), 10):
        query = names[i]
        exact = exact_neighbors(names, units, units[i], k=6)
        exact = exact[exact["image"] != query]["image"].tolist()[:5]
        approx = nearest_neighbors(model, hashed, units[i], k=6)
        assert approx.loc[0, "image"] == query
        approx = approx[approx["image"] != query]["image"].tolist()[:5]
        exact_fraction.append(np.mean([class_of[n] == class_of[query] for n in exact]))
        lsh_fraction.append(np.mean([class_of[n] == class_of[query] for n in approx]) if approx else 0.0)
        recall.append(len(set(approx) & set(exact)) / 5)
    print(
        f"\n{len(exact_fraction)} queries: same-class fraction of 5 NN: exact {np.mean(exact_fraction):.3f}, "
        f"LSH {np.mean(lsh_fraction):.3f}; LSH recall@5 vs exact {np.mean(recall):.3f}"
    )
    assert len(exact_fraction) == 31
    assert np.mean(exact_fraction) >= MIN_SAME_CLASS_FRACTION
    assert np.mean(lsh_fraction) >= MIN_SAME_CLASS_FRACTION
    assert np.mean(recall) >= MIN_LSH_RECALL


@pytest.mark.slow
def test_real_data_pipeline_returns_query_first(spark, mini_dataset, random_embedder, embed, tmp_path):
    """Real Stanford Cars: embed -> CSV -> Spark -> LSH; an indexed image is its own nearest neighbour."""
    embedded = embed(mini_dataset, random_embedder)
    assert len(embedded.names) == 160
    path = write_embeddings(embedded.names, embedded.vectors, tmp_path / "mini.csv")
    features = assemble(read_embeddings_df(spark, path)).cache()
    try:
        model = fit_lsh(features)
        hashed = model.transform(features)
        for query in (embedded.names[0], embedded.names[77], embedded.names[-1]):
            found = nearest_neighbors(model, hashed, vector_of(features, query), k=5)
            assert len(found) == 5
            assert found.loc[0, "image"] == query
            assert found.loc[0, "distance"] == pytest.approx(0.0, abs=1e-9)
            assert (found.loc[1:, "distance"] > 0).all()
    finally:
        features.unpersist()
