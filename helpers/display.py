"""Figures: a query image next to its nearest neighbours, captioned with class and distance."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from helpers.data import IMAGE_COLUMN
from helpers.transforms import load_rgb


def show_neighbors(
    query: str,
    neighbors: pd.DataFrame,
    image_dir: Path,
    captions: Mapping[str, str] | None = None,
    panel_size: float = 2.6,
) -> Figure:
    """A one-row figure: the query image, then each neighbour with its caption and distance.

    ``neighbors`` has columns ``image`` and ``distance``, nearest first; ``captions`` maps an image
    name to a label such as its class name. Returns the Figure (nothing is shown or saved).
    """
    captions = captions or {}
    count = len(neighbors) + 1
    figure = Figure(figsize=(panel_size * count, panel_size * 1.25), layout="constrained")
    axes = figure.subplots(1, count, squeeze=False)[0]
    panels = [(query, f"query\n{query}\n{captions.get(query, '')}")]
    for row in neighbors.itertuples(index=False):
        name = getattr(row, IMAGE_COLUMN)
        panels.append((name, f"{name}\n{captions.get(name, '')}\ndistance {row.distance:.3f}"))
    for axis, (name, caption) in zip(axes, panels):
        axis.imshow(load_rgb(Path(image_dir) / name))
        axis.set_title(caption, fontsize=9)
        axis.set_axis_off()
    figure.suptitle(f"{len(neighbors)} nearest neighbours of {query}", fontsize=11)
    return figure
