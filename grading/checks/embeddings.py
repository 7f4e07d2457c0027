"""Hidden checks of Parts 1 and 2: the resized images (Q1), class C (Q2), all embeddings (Q3), the CSV (Q4)."""

from __future__ import annotations

import numpy as np

from grading.checks.references import References
from helpers.checks import Evidence
from helpers.lab import LabSetup, embeddings_csv_problems, resized_problems
from helpers.store import EmbeddingsFileError, read_embeddings
from helpers.vectors import cosine, same_vectors


def q1_resize_224_jpeg(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Every image a 224x224 RGB JPEG that matches a plain resize of its original."""
    return resized_problems(lab.resized_dir, lab)[:5]


def q2_class_c_get_vec(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """C is the notebook's own class and get_vec equals the reference embedding, every time."""
    if found["module"] != "__main__":
        return [f"C must be written in this notebook, not imported (it comes from {found['module']})"]
    for name, (first, second) in found["probes"].items():
        if isinstance(first, str) or isinstance(second, str):
            return [f"get_vec({name}) raised {first if isinstance(first, str) else second}"]
        expected = refs.probe_vectors[name]
        if not same_vectors(first.reshape(1, -1), expected[None, :]).all():
            similarity = float(cosine(first.ravel(), expected)) if first.size == expected.size else float("nan")
            return [
                f"get_vec({name}) differs from ResNet-18's average-pool embedding of that image "
                f"(cosine similarity {similarity:.4f}, length {np.linalg.norm(first):.2f} against "
                f"{np.linalg.norm(expected):.2f}): check the layer, eval mode and the preprocessing"
            ]
        if not np.allclose(first, second, rtol=1e-5, atol=1e-6):
            return [
                f"get_vec({name}) gives different vectors for the same image: call model.eval() so "
                "batch normalisation and dropout stop changing the result"
            ]
    return []


def q3_all_embeddings(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Each row of vectors is the reference embedding of the image with the same position in names."""
    names, reference = refs.embeddings
    row = {name: i for i, name in enumerate(found["names"])}
    matches = same_vectors(found["vectors"][[row[n] for n in names]], reference)
    if matches.all():
        return []
    return [
        f"{int((~matches).sum())} of {len(names)} rows are not the embedding of the image with the same "
        "position in names: check the preprocessing and that rows follow the order of names"
    ]


def q4_embeddings_csv(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """The CSV holds each image's embedding; a faithful copy of this notebook's own Q3 vectors also counts."""
    problems = embeddings_csv_problems(lab.embeddings_csv, lab)
    if not problems or found["names"] is None or isinstance(found["vectors"], str):
        return problems
    try:  # Q4 grades storing: writing this notebook's Q3 vectors faithfully is right even when Q3 is not.
        stored_names, stored = read_embeddings(lab.embeddings_csv, found["vectors"].shape[-1])
    except EmbeddingsFileError:
        return problems
    row = {name: i for i, name in enumerate(found["names"])}
    if sorted(stored_names) != sorted(lab.image_names) or set(stored_names) - set(row):
        return problems
    memory = found["vectors"][[row[n] for n in stored_names]]
    return [] if same_vectors(stored, memory, 0.99999).all() else problems
