"""Q3's hidden check: row i of vectors is the reference embedding of names[i]; the usual slips are named."""

from __future__ import annotations

import numpy as np

from grading.questions.class_c_mistakes import CLASS_C_MISTAKES, reproduce
from grading.references import References
from helpers.images import load_rgb
from helpers.lab import LabSetup
from helpers.questions import Diagnosis
from helpers.questions.evidence import Evidence
from helpers.reference.embedding import Embedder
from helpers.vectors import cosine, same_vectors

GRADE_ID = "q3_all_embeddings"
#: The reference functions that do this question's work (the per-image ones too: looped, they embed every image):
#: running one anywhere but in verified plumbing costs it.
REFERENCE_WORK = (
    "reference/embedding.py:Embedder.embed_tensor",
    "reference/embedding.py:Embedder.get_vec",
    "reference/embedding.py:Embedder.embed_images",
    "reference/embedding.py:Embedder.embed_batch",
    "reference/embedding.py:Embedder.iter_files",
    "reference/embedding.py:Embedder.embed_files",
    "reference/embedding.py:Embedder.embed_folder",
    "reference/vectors.py:embeddings",
    "reference/distributed.py:embed_images_df",
    "reference/storage.py:embeddings_csv",
)


def each_is_one_of(rows: np.ndarray, candidates: np.ndarray, tolerance: float) -> bool:
    """Whether every row equals some candidate (within ``tolerance`` of its length): the right rows, mixed up."""
    distances = np.linalg.norm(rows[:, None, :] - candidates[None, :, :], axis=2)
    return bool(
        (distances.min(axis=1) <= tolerance * np.linalg.norm(candidates, axis=1)[distances.argmin(axis=1)]).all()
    )


def _diagnosis(lab: LabSetup, found: Evidence, refs: References, wrong: list[str]) -> tuple[str, str] | None:
    _, reference = refs.embeddings
    row = {name: i for i, name in enumerate(found["names"])}
    vectors = found["vectors"]
    if np.allclose(vectors, vectors[0], atol=1e-6):
        return (
            "the same vector in every row",
            "every row of vectors is the same vector: embed each image of names, not the same one again",
        )
    if each_is_one_of(vectors, reference, 1e-3):
        return "rows in another order than names", (
            "the rows are the right embeddings, but not in the order of names: row i must be the embedding "
            "of names[i] (build both in the same loop over one list of names)"
        )
    sample = [row[name] for name in wrong[:3]]
    originals = Embedder("resnet18", lab.weights, precision="fp32").embed_images(
        [load_rgb(lab.image_dir / found["names"][i]) for i in sample]
    )
    if same_vectors(vectors[sample], originals).all():
        return "the original photos embedded", (
            "these are embeddings of the original photos in LAB.image_dir: embed the 224x224 images in "
            "INPUT_DIR (your Q1 output, or the reference copy)"
        )
    for mistake in CLASS_C_MISTAKES:  # the rows of a C with one of Q2's mistakes
        made = np.stack([reproduce(mistake, load_rgb(refs.input_dir / found["names"][i]), lab.weights) for i in sample])
        if same_vectors(vectors[sample], made).all():
            return f"a class C with a mistake ({mistake.name})", (
                f"the vectors come from a class C with a mistake (see Q2): {mistake.message}"
            )
    return None


def check(lab: LabSetup, found: Evidence, refs: References) -> Diagnosis | None:
    """Each row of vectors is the reference embedding of the image with the same position in names."""
    names, reference = refs.embeddings
    row = {name: i for i, name in enumerate(found["names"])}
    aligned = found["vectors"][[row[n] for n in names]]
    matches = same_vectors(aligned, reference)
    if matches.all():
        return None
    wrong = [name for name, ok in zip(names, matches) if not ok]
    first = names.index(wrong[0])
    detail = (
        f"{len(wrong)} of {len(names)} rows are not the embedding of the image with the same position in names "
        f"(e.g. {wrong[0]}: cosine similarity {float(cosine(aligned[first], reference[first])):.3f})"
    )
    if diagnosis := _diagnosis(lab, found, refs, wrong):
        return Diagnosis(diagnosis[0], f"{detail}: {diagnosis[1]}")
    return Diagnosis(
        "other vectors",
        f"{detail}: embed each image of INPUT_DIR with your class C, and keep names and rows in the same order",
    )
