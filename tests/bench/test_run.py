"""The benchmark harness keeps working: a tiny run writes every stable key and both plots (it times nothing here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import run as bench
from bench.distributed import TreeCpuMeter
from helpers import spark as lab_spark

# Loops on its own CPU clock, not the wall clock: half a CPU second however busy the machine is.
BURN = "import time\nwhile time.process_time() < 0.5: pass\n"
# The kernel reports user and system time each cut down to 10 ms clock ticks.
BURNT = 0.5 - 0.05


def test_cpu_meter_counts_a_child_its_parent_reaped():
    """A child that used CPU and was reaped still counts: the total never goes down when a worker exits."""
    meter = TreeCpuMeter()
    before = meter.sample()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    assert meter.sample() - before >= BURNT


def test_cpu_meter_keeps_a_worker_whose_parent_ignores_sigchld():
    """As under PySpark's daemon: the parent ignores SIGCHLD, so the kernel discards the worker's CPU times
    when it exits. The meter saw the worker once and keeps what it saw.
    """
    daemon = f"""
import os, signal, sys, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
worker = os.fork()
if worker == 0:
    exec({BURN!r})
    print("burnt", flush=True)
    sys.stdin.read()
    os._exit(0)
sys.stdin.read()
while True:  # no zombie to wait for: the worker is gone once kill finds no such process
    try:
        os.kill(worker, 0)
    except ProcessLookupError:
        break
    time.sleep(0.01)
"""
    meter = TreeCpuMeter()
    before = meter.sample()
    process = subprocess.Popen([sys.executable, "-c", daemon], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "burnt\n"
    meter.sample()
    process.stdin.close()
    assert process.wait() == 0
    assert meter.sample() - before >= BURNT


@pytest.mark.slow
def test_tiny_bench_writes_all_keys_and_plots(spark, default_dataset, tmp_path):
    """24 images, 2x2 LSH settings, no grading: latest.json has the documented keys, plots exist, and the
    sections of ``make bench-scale`` in an earlier latest.json are kept. The session's ``spark`` comes
    first, so that the bench joins it instead of starting one under its own name for the files that follow.
    """
    (tmp_path / "latest.json").write_text(json.dumps({"lsh_scaling": [{"rows": 10000}], "embedding": {}}))
    result = bench.run(
        default_dataset.root, 24, 5, tmp_path, [0.02, 0.08], [1, 2], grading=False, similarity_sizes=(40, 4, 120, 6)
    )
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["images"] == 24 and saved["dataset"] == str(default_dataset.root)
    for key in (
        "baseline_img_per_s",
        "fast_img_per_s",
        "speedup",
        "ceiling_img_per_s",
        "ceiling_one_thread_img_per_s",
        "fraction_of_ceiling",
        "top5_agreement",
        "mean_cosine",
        "noise_floor_top5",
        "bf16_vs_fp32_top5",
        "draft_vs_full_top5",
    ):
        assert saved["embedding"][key] > 0, key
    distributed = saved["distributed"]
    for mode in ("local", "cluster"):
        assert distributed[mode]["img_per_s"] > 0 and distributed[mode]["warmup_img_per_s"] > 0, mode
        assert distributed[mode]["ratio_to_local"] > 0, mode
        assert distributed[mode]["img_per_cpu_s"] > 0, mode  # the CPU of workers that ended counts too
    assert distributed["cluster"]["master"].startswith("spark://") and distributed["cluster"]["executor_cores"] >= 1
    ratios = [distributed[mode]["ratio_to_local"] for mode in ("local", "cluster")]
    assert distributed["ratio_to_local"] == min(ratios)
    # The lab's own default under "default", whatever the sweep found best.
    assert saved["lsh"]["default"]["bucket_length"] == lab_spark.BUCKET_LENGTH
    assert saved["lsh"]["default"]["num_hash_tables"] == lab_spark.NUM_HASH_TABLES
    for key in ("bucket_length", "num_hash_tables", "recall_at_5", "query_ms", "candidate_fraction"):
        assert key in saved["lsh"]["best"] and key in saved["lsh"]["default"]
    assert {"recall_at_5", "query_ms"} <= set(saved["lsh"]["original"]) and saved["lsh"]["exact_query_ms"] > 0
    assert {"cpu", "cores", "bf16"} <= set(saved["machine"])
    assert saved["lsh_scaling"] == [{"rows": 10000}]
    similarity = saved["similarity"]
    assert similarity["planted_pairs"] == 4 and similarity["large_submissions"] == 120
    assert 0 <= similarity["planted_ranked_above_every_independent_pair"] <= 1 and similarity["seconds_large"] > 0
    assert 0 <= similarity["copies_of_crafted"]["planted_ranked_above_every_independent_pair"] <= 1
    assert len(saved["lsh"]["sweep"]) == 4 and all(
        v == "met" or v.startswith("MISSED: ") for v in result["targets"].values()
    )
    assert (tmp_path / "recall_vs_latency.png").stat().st_size > 0 and (
        tmp_path / "embedding_throughput.png"
    ).stat().st_size > 0


@pytest.mark.slow
def test_synthetic_class_varies_answers_and_expects_their_cost():
    """The bench's class: the golden submissions plus varied copies, each wrong variant expected to cost points."""
    from bench.class_grading import ANSWER_VARIANTS, synthetic_class
    from grading.golden import GOLDEN

    submissions = synthetic_class(24)
    assert len(submissions) == 24 and set(GOLDEN) <= set(submissions)
    copies = [crafted for name, crafted in submissions.items() if name not in GOLDEN]
    assert len({tuple(sorted(crafted.answers.items())) for crafted in copies}) > len(ANSWER_VARIANTS)
    wrong_q9 = [crafted for crafted in copies if "q9_answer" in crafted.answers]
    assert wrong_q9 and all("q12_neighbor_figure" in crafted.loses for crafted in wrong_q9)
    right_only = [crafted for crafted in copies if not {"q9_answer", "q11_answer"} & set(crafted.answers)]
    assert right_only and all(crafted.loses == () for crafted in right_only)
