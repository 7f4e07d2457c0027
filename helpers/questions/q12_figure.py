"""Q12 · ``fig``: a matplotlib figure whose pictures are the five nearest neighbours of ``query_image``.

The pictures are collected as small thumbnails of their pixels: the hidden checks recognise which
image of the run each one shows, whatever size or colour scaling it was drawn with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from helpers.questions import Diagnosis, q09_query_image
from helpers.questions.evidence import Evidence, type_name

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q12_neighbor_figure"
#: Pictures in a figure are shrunk to this many pixels on the long side before they are compared.
PICTURE_SIZE = 96


def collect(lab: LabSetup, query_image: object = None, fig: object = None) -> Evidence:
    """Q9's name, the figure's type and every picture drawn on its axes (RGB, at most 96 pixels a side)."""
    found: Evidence = {**q09_query_image.collect(lab, query_image), "type": type_name(fig), "pictures": []}
    for axis in getattr(fig, "axes", []):
        for picture in axis.get_images():
            pixels = np.asarray(picture.get_array())
            if pixels.dtype != np.uint8:
                pixels = np.clip(pixels * (255.0 if pixels.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels)
            image.thumbnail((PICTURE_SIZE, PICTURE_SIZE))
            found["pictures"].append(np.asarray(image.convert("RGB")))
    return found


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """A matplotlib Figure with at least 5 pictures."""
    if found["type"] != "matplotlib.figure.Figure":
        return Diagnosis(
            "not a figure",
            f"fig must be a matplotlib Figure (e.g. from plt.subplots), not {found['type'].rsplit('.', 1)[-1]}",
        )
    if len(found["pictures"]) < 5:
        return Diagnosis(
            "fewer than 5 pictures",
            f"fig shows {len(found['pictures'])} images; show each of the 5 neighbours with imshow",
        )
    return None
