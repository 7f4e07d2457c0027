"""Hidden checks of Parts 1 and 2 with their diagnoses: resized images (Q1), class C (Q2), embeddings (Q3), CSV (Q4).

A failed check says what differed in the student's terms, and names the mistake when reproducing
it gives the student's result (the image cropped or mirrored, C in training mode, the rows in
another order, the numbers rounded). It never shows the expected values themselves.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps
from torchvision import transforms as T

from grading.checks.references import References
from grading.checks.variants import VARIANTS, diagnose, reproduce
from helpers.checks import Evidence
from helpers.embedder import Embedder
from helpers.lab import RESIZE_TOLERANCE, LabSetup, embeddings_csv_problems, reference_resized_dir, resized_problems
from helpers.store import EmbeddingsFileError, read_embeddings
from helpers.transforms import IMAGE_SIZE, load_rgb
from helpers.vectors import cosine, same_vectors

#: How to make Q1's typical mistakes from the original photo, to recognise them in the student's JPEGs.
RESIZE_MISTAKES = {
    "cropped: T.Resize(224) then T.CenterCrop(224) cuts off the front or back of the car. Resize to exactly "
    "224x224 with T.Resize((224, 224)) instead": T.Compose([T.Resize(IMAGE_SIZE), T.CenterCrop(IMAGE_SIZE)]),
    "mirrored (flipped left to right): save the resized image as it is": T.Compose(
        [T.Resize((IMAGE_SIZE, IMAGE_SIZE)), ImageOps.mirror]
    ),
    "upside down: save the resized image as it is": T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), ImageOps.flip]),
}


def _pixel_difference(path, expected: Image.Image) -> float:
    with Image.open(path) as image:
        return float(np.abs(np.asarray(image.convert("RGB"), np.float32) - np.asarray(expected, np.float32)).mean())


def q1_resize_224_jpeg(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Every image a 224x224 RGB JPEG that matches a plain resize of its original."""
    problems = resized_problems(lab.resized_dir, lab)
    differing = [problem.split(":")[0] for problem in problems if "content differs" in problem]
    if differing:
        original = load_rgb(lab.image_dir / differing[0])
        for mistake, make in RESIZE_MISTAKES.items():
            if _pixel_difference(lab.resized_dir / differing[0], make(original)) <= RESIZE_TOLERANCE:
                return [f"{len(differing)} of {len(lab.image_names)} images (e.g. {differing[0]}) are {mistake}."]
    if problems:
        more = f" ({len(problems)} problems in all)" if len(problems) > 1 else ""
        return [f"{problems[0]}{more}"]
    return []


def q2_class_c_get_vec(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """C is the notebook's own class and get_vec equals the reference embedding, every time."""
    if found["module"] != "__main__":
        return [f"C must be written in this notebook, not imported (it comes from {found['module']})"]
    folder = reference_resized_dir(lab)
    for name, (first, second) in found["probes"].items():
        if isinstance(first, str) or isinstance(second, str):
            return [f"get_vec({name}) raised {first if isinstance(first, str) else second}"]
        expected = refs.probe_vectors[name]
        if not same_vectors(first.reshape(1, -1), expected[None, :]).all():
            if diagnosis := diagnose(first, load_rgb(folder / name), lab.weights):
                return [f"get_vec({name}) is not the average-pool embedding of the image: {diagnosis}"]
            return [
                f"get_vec({name}) is not the average-pool embedding of the image: cosine similarity "
                f"{float(cosine(first.ravel(), expected)):.4f}, length "
                f"{np.linalg.norm(first):.2f} (expected about {np.linalg.norm(expected):.0f}). None of the usual "
                "mistakes (training mode, normalisation, colour order, cropping, pixel scale) explains it: "
                "compare your preprocessing with the four points above Q2, step by step"
            ]
        if not np.allclose(first, second, rtol=1e-5, atol=1e-6):
            return [
                f"get_vec({name}) gives different vectors for the same image: call model.eval() so that "
                "batch normalisation and dropout stop changing the result"
            ]
    return []


def _each_is_one_of(rows: np.ndarray, candidates: np.ndarray, tolerance: float) -> bool:
    """Whether every row equals some candidate (within ``tolerance`` of its length): the right rows, mixed up."""
    distances = np.linalg.norm(rows[:, None, :] - candidates[None, :, :], axis=2)
    return bool(
        (distances.min(axis=1) <= tolerance * np.linalg.norm(candidates, axis=1)[distances.argmin(axis=1)]).all()
    )


def _q3_diagnosis(lab: LabSetup, found: Evidence, refs: References, wrong: list[str]) -> str | None:
    _, reference = refs.embeddings
    row = {name: i for i, name in enumerate(found["names"])}
    vectors = found["vectors"]
    if np.allclose(vectors, vectors[0], atol=1e-6):
        return "every row of vectors is the same vector: embed each image of names, not the same one again"
    if _each_is_one_of(vectors, reference, 1e-3):
        return (
            "the rows are the right embeddings, but not in the order of names: row i must be the embedding "
            "of names[i] (build both in the same loop over one list of names)"
        )
    sample = [row[name] for name in wrong[:3]]
    originals = Embedder("resnet18", lab.weights, precision="fp32").embed_images(
        [load_rgb(lab.image_dir / found["names"][i]) for i in sample]
    )
    if same_vectors(vectors[sample], originals).all():
        return (
            "these are embeddings of the original photos in LAB.image_dir: embed the 224x224 images in "
            "INPUT_DIR (your Q1 output, or the reference copy)"
        )
    for variant in VARIANTS:  # the rows of a C with one of Q2's mistakes
        made = np.stack([reproduce(variant, load_rgb(refs.input_dir / found["names"][i]), lab.weights) for i in sample])
        if same_vectors(vectors[sample], made).all():
            return f"the vectors come from a class C with a mistake (see Q2): {variant.message}"
    return None


def q3_all_embeddings(lab: LabSetup, found: Evidence, refs: References) -> list[str]:
    """Each row of vectors is the reference embedding of the image with the same position in names."""
    names, reference = refs.embeddings
    row = {name: i for i, name in enumerate(found["names"])}
    aligned = found["vectors"][[row[n] for n in names]]
    matches = same_vectors(aligned, reference)
    if matches.all():
        return []
    wrong = [name for name, ok in zip(names, matches) if not ok]
    first = names.index(wrong[0])
    detail = (
        f"{len(wrong)} of {len(names)} rows are not the embedding of the image with the same position in names "
        f"(e.g. {wrong[0]}: cosine similarity {float(cosine(aligned[first], reference[first])):.3f})"
    )
    diagnosis = _q3_diagnosis(lab, found, refs, wrong)
    return [
        f"{detail}: {diagnosis}"
        if diagnosis
        else f"{detail}: embed each image of INPUT_DIR with your class C, and keep names and rows in the same order"
    ]


def _rounded_to(stored: np.ndarray, memory: np.ndarray) -> int | None:
    for decimals in range(1, 8):
        if np.allclose(stored, np.round(memory, decimals), atol=10.0 ** -(decimals + 3)):
            return decimals
    return None


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
    if not stored_names or sorted(stored_names) != sorted(row) or set(stored_names) - set(lab.image_names):
        return problems
    memory = found["vectors"][[row[n] for n in stored_names]]
    if same_vectors(stored, memory, 1e-5).all():
        return []
    if (decimals := _rounded_to(stored, memory)) is not None:
        return [
            f"{lab.embeddings_csv.name}: the numbers were rounded to {decimals} decimal(s) when written "
            "(float_format?): write them in full, pandas' default"
        ]
    if _each_is_one_of(stored, memory, 1e-5):
        return [
            f"{lab.embeddings_csv.name}: each row holds the vector of another image than its name: write the "
            "image names in the same order as the rows of vectors"
        ]
    return problems
