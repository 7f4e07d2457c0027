"""Q2's hidden check: C is the notebook's own class and get_vec equals the reference embedding, every time."""

from __future__ import annotations

import numpy as np

from grading.questions.class_c_mistakes import diagnose
from grading.references import References
from helpers.images import load_rgb
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.vectors import cosine, same_vectors

GRADE_ID = "q2_class_c_get_vec"
#: The reference functions that do this question's work: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/embedding.py:tensor_transform",
    "reference/embedding.py:model_input_transform",
    "reference/embedding.py:image_batch",
    "reference/embedding.py:strip_classifier",
    "reference/embedding.py:Embedder.embed_tensor",
    "reference/embedding.py:Embedder.get_vec",
    "reference/embedding.py:Embedder.embed_images",
)
KERNEL_NEEDS = ("resized",)


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """The vectors of every probe image equal the reference embedding in both runs; a known mistake is named."""
    if found["module"] != "__main__":
        return Diagnosis(
            "C imported", f"C must be written in this notebook, not imported (it comes from {found['module']})"
        )
    for name, (first, second) in found["probes"].items():
        for run in (first, second):
            if isinstance(run, str):
                return Diagnosis("get_vec raised an error", f"get_vec({name}) raised {run}")
        expected = refs.probe_vectors[name]
        if not same_vectors(first.reshape(1, -1), expected[None, :]).all():
            if mistake := diagnose(first, load_rgb(refs.resized_dir / name), lab.weights):
                return Diagnosis(
                    mistake.name, f"get_vec({name}) is not the average-pool embedding of the image: {mistake.message}"
                )
            return Diagnosis(
                "another embedding",
                f"get_vec({name}) is not the average-pool embedding of the image: cosine similarity "
                f"{float(cosine(first.ravel(), expected)):.4f}, length {np.linalg.norm(first):.2f} (expected about "
                f"{np.linalg.norm(expected):.0f}). None of the usual mistakes (training mode, normalisation, colour "
                "order, cropping, pixel scale) explains it: compare your preprocessing with the four points above "
                "Q2, step by step",
            )
        if not np.allclose(first, second, rtol=1e-5, atol=1e-6):
            return Diagnosis(
                "get_vec not deterministic",
                f"get_vec({name}) gives different vectors for the same image: call model.eval() so that "
                "batch normalisation and dropout stop changing the result",
            )
    return None
