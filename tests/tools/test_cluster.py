"""Scale-out: distributed embedding, LSH and the similarity join on a real standalone cluster, equal to local mode."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from helpers import spark as lab_spark
from helpers.reference.distributed import embed_images_df
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import nearest_neighbors, vector_of
from helpers.reference.spark_lsh import assemble, embeddings_df, fit_lsh
from tools.cluster import HOST, StandaloneCluster

pytestmark = pytest.mark.slow

#: Runs in a fresh driver process: the test session's own SparkSession is local and cannot switch masters.
PIPELINE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from helpers import spark as lab_spark
    from helpers.reference.distributed import embed_images_df
    from helpers.reference.neighbors import nearest_neighbors, vector_of
    from helpers.reference.spark_lsh import assemble, fit_lsh
    image_dir, names = Path(sys.argv[1]), json.loads(sys.argv[2])
    spark = lab_spark.get_spark("lab5-cluster-test")
    files = lab_spark.image_files_df(spark, image_dir, names)
    raw = embed_images_df(files, weights="random", precision="fp32", batch_size=8)
    rows = {row["image"]: row["raw_features"].toArray().tolist() for row in raw.collect()}
    features = assemble(raw).cache()
    model = fit_lsh(features)
    hashed = model.transform(features).cache()
    neighbors = nearest_neighbors(model, hashed, vector_of(features, names[0]), 5)
    pairs = lab_spark.near_duplicates(model, hashed, 0.05)
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    print(json.dumps({"master": spark.sparkContext.master, "executors": executors, "vectors": rows,
                      "neighbors": neighbors["image"].tolist(),
                      "pairs": pairs[["image_a", "image_b"]].values.tolist()}))
""")


@pytest.fixture(scope="module")
def sample(default_dataset):
    """Thirty images of the embedded dataset, in CSV order."""
    return default_dataset.image_dir, default_dataset.usable_labels()["image"].tolist()[:30]


@pytest.fixture(scope="module")
def local_result(spark, sample):
    """The same pipeline in local mode: local embedder for the vectors, the test session's Spark for the rest."""
    image_dir, names = sample
    embedder = Embedder(weights="random", precision="fp32")
    vectors, failures = embedder.embed_files([image_dir / n for n in names], draft=True)
    reference, _ = embedder.embed_files([image_dir / n for n in names], draft=False)
    assert not failures
    features = assemble(embeddings_df(spark, names, vectors)).cache()
    model = fit_lsh(features)
    hashed = model.transform(features).cache()
    neighbors = nearest_neighbors(model, hashed, vector_of(features, names[0]), 5)
    pairs = lab_spark.near_duplicates(model, hashed, 0.05)
    files = lab_spark.image_files_df(spark, image_dir, names)
    distributed = embed_images_df(files, weights="random", batch_size=8)
    full_decoding = embed_images_df(files, weights="random", batch_size=8, draft=False)
    return {
        "vectors": dict(zip(names, vectors)),
        "reference": dict(zip(names, reference)),
        "full_decoding": {row["image"]: row["raw_features"].toArray() for row in full_decoding.collect()},
        "neighbors": neighbors["image"].tolist(),
        "pairs": pairs[["image_a", "image_b"]].values.tolist(),
        "local_distributed": {row["image"]: row["raw_features"].toArray() for row in distributed.collect()},
    }


@pytest.fixture(scope="module")
def cluster_result(sample):
    """The pipeline on a standalone master + worker started for this module (always stopped afterwards)."""
    image_dir, names = sample
    with StandaloneCluster(cores=2, memory="3g") as cluster:
        environment = {"SPARK_MASTER": cluster.master_url, "LAB_SPARK_UI": "false"}
        result = subprocess.run(
            [sys.executable, "-c", PIPELINE, str(image_dir), json.dumps(names)],
            capture_output=True,
            text=True,
            env={**os.environ, **environment},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        state = cluster.state()
    processes_alive = [p for p in cluster.processes if p.poll() is None]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    return output, cluster, state, processes_alive


def test_distributed_embedding_equals_local_embedding(local_result):
    """BinaryFile + mapInArrow gives the local embedder's fp32 vectors (max abs difference <= 1e-4), with the
    fast decoding of both (the default) and with full decoding (the reference path).
    """
    for local, distributed in (
        (local_result["vectors"], local_result["local_distributed"]),
        (local_result["reference"], local_result["full_decoding"]),
    ):
        assert set(distributed) == set(local)
        assert max(np.abs(distributed[n] - local[n]).max() for n in local) <= 1e-4


def test_the_cluster_really_ran_the_job(cluster_result):
    """The driver was connected to the standalone master, with an executor on the worker."""
    output, cluster, state, _ = cluster_result
    assert output["master"] == cluster.master_url
    assert output["executors"] >= 2  # the driver's block manager and at least one executor
    assert len(state["workers"]) == 1 and state["workers"][0]["state"] == "ALIVE"
    assert any(
        app["name"] == "lab5-cluster-test" for app in state.get("completedapps", []) + state.get("activeapps", [])
    )


def test_cluster_results_equal_local_mode(local_result, cluster_result):
    """Vectors, the 5 nearest neighbours and the near-duplicate pairs on the cluster equal local mode."""
    output, _, _, _ = cluster_result
    assert set(output["vectors"]) == set(local_result["vectors"])
    worst = max(np.abs(np.asarray(output["vectors"][n]) - local_result["vectors"][n]).max() for n in output["vectors"])
    assert worst <= 1e-4
    assert output["neighbors"] == local_result["neighbors"]
    assert sorted(map(tuple, output["pairs"])) == sorted(map(tuple, local_result["pairs"]))


def test_cluster_is_stopped_afterwards(cluster_result):
    """Leaving the block stops the master and the worker."""
    _, cluster, _, alive = cluster_result
    assert not alive and not cluster.processes


def test_a_second_cluster_starts_beside_another_and_around_a_taken_port():
    """With another cluster running and one of its ports taken after it was chosen, a cluster starts on free ports.

    Two clusters at once once hung the second master on Spark's fixed REST port (6066) for 14 minutes.
    """
    with StandaloneCluster(cores=1, memory="1g") as other:
        cluster = StandaloneCluster(cores=1, memory="1g")
        with socket.create_server((HOST, cluster.ui_port)) as squatter:  # listens, never answers
            taken = cluster.ui_port
            with cluster:
                assert cluster.ui_port != taken and cluster.master_url != other.master_url
                for running in (cluster, other):
                    state = running.state()
                    assert state["url"] == running.master_url and state["status"] == "ALIVE"
                    assert [worker["state"] for worker in state["workers"]] == ["ALIVE"]
            assert squatter.getsockname()[1] == taken
    assert not cluster.processes and not other.processes


def test_similarity_join_finds_planted_duplicates(spark, tmp_path, default_dataset):
    """Exact copies and re-encoded copies planted in a folder come back as pairs; distinct photos do not."""
    names = default_dataset.usable_labels().drop_duplicates("Class")["image"].tolist()[:6]
    for name in names:
        Image.open(default_dataset.image_path(name)).convert("RGB").save(tmp_path / name, quality=95)
    Image.open(tmp_path / names[0]).save(tmp_path / "copy_of_0.jpg", quality=95)
    Image.open(tmp_path / names[1]).save(tmp_path / "reencoded_1.jpg", quality=60)
    raw = embed_images_df(lab_spark.image_files_df(spark, tmp_path), weights="random")
    features = assemble(raw).cache()
    model = fit_lsh(features)
    pairs = lab_spark.near_duplicates(model, model.transform(features), threshold=0.02)
    found = {tuple(sorted(pair)) for pair in pairs[["image_a", "image_b"]].values.tolist()}
    assert found == {tuple(sorted((names[0], "copy_of_0.jpg"))), tuple(sorted((names[1], "reencoded_1.jpg")))}
