"""The benchmark harness keeps working: a tiny run writes every stable key and both plots (it times nothing here)."""

from __future__ import annotations

import json

import pytest

from bench import run as bench

pytestmark = pytest.mark.slow


def test_tiny_bench_writes_all_keys_and_plots(default_dataset, tmp_path):
    """24 images, 2x2 LSH settings, no grading: latest.json has the documented keys, plots exist."""
    result = bench.run(default_dataset.root, 24, 5, tmp_path, [0.02, 0.08], [1, 2], grading=False)
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["images"] == 24 and saved["dataset"] == str(default_dataset.root)
    for key in (
        "baseline_img_per_s",
        "fast_img_per_s",
        "speedup",
        "ceiling_img_per_s",
        "fraction_of_ceiling",
        "top5_agreement",
        "mean_cosine",
    ):
        assert saved["embedding"][key] > 0, key
    for key in ("bucket_length", "num_hash_tables", "recall_at_5", "query_ms"):
        assert key in saved["lsh"]["default"]
    assert {"recall_at_5", "query_ms"} <= set(saved["lsh"]["original"]) and saved["lsh"]["exact_query_ms"] > 0
    assert {"cpu", "cores", "bf16"} <= set(saved["machine"])
    assert len(saved["lsh"]["sweep"]) == 4 and all(
        v == "met" or v.startswith("MISSED: ") for v in result["targets"].values()
    )
    assert (tmp_path / "recall_vs_latency.png").stat().st_size > 0 and (
        tmp_path / "embedding_throughput.png"
    ).stat().st_size > 0
