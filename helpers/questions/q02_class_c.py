"""Q2 · class ``C``, written in the notebook, whose ``C(model).get_vec(image)`` is ResNet-18's 512-d embedding.

The test tries C on a few of the run's images (the reference 224x224 copies), twice with fresh objects,
so that the hidden checks can compare the vectors and see whether they change between runs.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from helpers.images import load_rgb
from helpers.lab import load_resnet18
from helpers.models import EMBEDDING_DIM
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence, as_array

if TYPE_CHECKING:
    from helpers.lab import LabSetup

GRADE_ID = "q2_class_c_get_vec"
#: Vector lengths that come from the wrong place in ResNet-18: (diagnosis, where they come from).
WRONG_LAYERS = {
    1000: (
        "fc layer kept",
        "the 1000 class scores of the final fc layer: replace model.fc by torch.nn.Identity() (or read avgpool)",
    ),
    25088: (
        "feature map before pooling",
        "layer4's 512x7x7 feature map before the average pooling: take the output of avgpool",
    ),
    256: ("layer3's features", "the 256 features of layer3: take the output of avgpool, after layer4"),
}


def probe_folder(lab: LabSetup) -> Path:
    """The reference 224x224 copies of the run's images, which C is tried on (made here only when missing)."""
    folder = lab.reference_dir / "resized"
    if not all((folder / name).is_file() for name in lab.image_names):
        # Only on a student's machine whose Setup cell has not run: the autograder provides these files.
        from helpers.reference.resize import resized_dir

        resized_dir(lab)
    return folder


def probe_images(lab: LabSetup) -> list[str]:
    """The images class C is tried on: the run's first colour photo, its first image and its last.

    A grey photo hides mistakes with the colour channels (reversed, or made grey), so one must be in colour.
    """
    folder = probe_folder(lab)
    colour = next(
        (name for name in lab.image_names if np.ptp(np.asarray(load_rgb(folder / name), np.int16), axis=2).max() > 30),
        lab.image_names[0],
    )
    return list(dict.fromkeys([colour, lab.image_names[0], lab.image_names[-1]]))


def collect(lab: LabSetup, C: object = None) -> Evidence:
    """Whether C is a class of this notebook, and its vectors for the probe images in two runs."""
    found: Evidence = {"defined": inspect.isclass(C), "module": getattr(C, "__module__", ""), "probes": {}}
    if not found["defined"]:
        return found
    folder, names = probe_folder(lab), probe_images(lab)
    runs: dict[str, list] = {name: [] for name in names}
    for _ in range(2):  # fresh objects each run: the second shows whether get_vec is deterministic
        try:
            embedder = C(load_resnet18(lab))
        except Exception as error:  # the student's code may raise anything; the message is evidence
            for name in names:
                runs[name].append(f"{error.__class__.__name__}: {error}")
            continue
        for name in names:
            try:
                with Image.open(folder / name) as image:
                    runs[name].append(as_array(embedder.get_vec(image)))
            except Exception as error:
                runs[name].append(f"{error.__class__.__name__}: {error}")
    found["probes"] = runs
    return found


def visible(lab: LabSetup, found: Evidence) -> Diagnosis | None:
    """C is a class; get_vec returns 512 numbers for the first probe image."""
    if not found["defined"]:
        return Diagnosis("C not defined", "define a class named C in the answer cell")
    name, runs = next(iter(found["probes"].items()))
    vector = runs[0]
    if isinstance(vector, str):
        if "4D" in vector or "3D" in vector:
            return Diagnosis(
                "no batch dimension",
                f"C(resnet).get_vec({name}) raised {vector} (add the batch dimension: unsqueeze(0))",
            )
        return Diagnosis("get_vec raised an error", f"C(resnet).get_vec({name}) raised {vector}")
    if vector.size in WRONG_LAYERS:
        wrong, where = WRONG_LAYERS[vector.size]
        return Diagnosis(wrong, f"get_vec returned {vector.size} numbers, expected {EMBEDDING_DIM}: that is {where}")
    if vector.shape != (EMBEDDING_DIM,):
        return Diagnosis(
            "not a flat vector of 512 numbers",
            f"get_vec returned shape {vector.shape}, expected ({EMBEDDING_DIM},): return the {EMBEDDING_DIM} "
            "numbers of the average-pool layer as one flat array (e.g. output[0].numpy())",
        )
    return None
