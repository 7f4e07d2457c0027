"""tools.demo and helpers.display: `make demo` end to end, and the neighbour figure."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import models
from helpers.reference.neighbors import show_neighbors
from tools import demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def random_weights(monkeypatch):
    """LAB_WEIGHTS=random for one test, with choose_weights' per-process cache cleared before and after."""
    monkeypatch.setenv("LAB_WEIGHTS", "random")
    models.choose_weights.cache_clear()
    yield
    models.choose_weights.cache_clear()


@pytest.mark.slow
def test_demo_run(spark, default_dataset, random_weights, tmp_path, capsys):
    """demo.run saves a PNG figure and prints 5 neighbours, the first being the query at distance 0.0000."""
    out = tmp_path / "fig.png"
    neighbors = demo.run(None, 5, out)
    assert len(neighbors) == 5 and neighbors["distance"].iloc[0] == 0
    assert out.is_file()
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    printed = capsys.readouterr().out
    assert "NOTE: using seeded RANDOM weights" not in printed  # random was asked for, so no fallback note
    assert f"({len(default_dataset.usable_labels())} images, " in printed
    assert "locally with resnet18 (random weights)" in printed and "near-duplicate pairs closer than" in printed
    lines = printed.splitlines()
    query_line = next(line for line in lines if line.startswith("query image: "))
    query = query_line.split()[2]
    header_at = lines.index(query_line) + 1
    assert lines[header_at].split() == ["image", "label", "distance"]
    rows = []
    for line in lines[header_at + 1 :]:
        if not line.strip():
            break
        rows.append(line.split())
    assert len(rows) == 5
    assert rows[0][0] == query == neighbors["image"].iloc[0]
    assert rows[0][-1] == "0.0000"
    distances = [float(row[-1]) for row in rows]
    assert distances == sorted(distances)
    assert all(d > 0 for d in distances[1:])


def test_show_neighbors_figure(default_dataset):
    """show_neighbors draws the query and 5 neighbours: 6 axes, each with exactly one image and a title."""
    names = default_dataset.image_files()[:6]
    neighbors = pd.DataFrame({"image": names[1:], "distance": [0.1, 0.2, 0.3, 0.4, 0.5]})
    captions = {name: f"class of {name}" for name in names}
    figure = show_neighbors(names[0], neighbors, default_dataset.image_dir, captions)
    assert len(figure.axes) == 6
    for axis in figure.axes:
        assert len(axis.images) == 1
        assert not axis.axison
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[0].startswith("query\n" + names[0])
    assert "class of " + names[0] in titles[0]
    for name, title, distance in zip(names[1:], titles[1:], [0.1, 0.2, 0.3, 0.4, 0.5]):
        assert title.startswith(name) and f"distance {distance:.3f}" in title
    assert "5 nearest neighbours of " + names[0] in figure.get_suptitle()
