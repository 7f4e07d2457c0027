"""Class C's plausible mistakes (Q2, and Q3 when it uses a wrong C), reproduced: the reference network with one
thing done wrong.

When a student's vector differs from the reference embedding, the grader computes what each common
mistake would give for the same image; the one that gives the student's vector is the diagnosis,
stated with confidence. Nothing here is shown to students but the mistake's description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from helpers.images import IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD
from helpers.models import load_model
from helpers.reference.embedding import strip_classifier
from helpers.vectors import same_vectors

#: How close a reproduced mistake must come to the student's vector to be named (same pipeline, same numbers).
MATCH = 1e-3


@dataclass(frozen=True)
class ClassCMistake:
    """One way to get class C wrong: how to reproduce it, its name in the class report, what to tell the student."""

    name: str
    message: str
    prepare: Callable[[Image.Image], torch.Tensor]
    train: bool = False


def _standard(image: Image.Image, size: T.Resize | T.Compose | None = None) -> torch.Tensor:
    steps = [size or T.Resize((IMAGE_SIZE, IMAGE_SIZE)), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(steps)(image)


def _raw_pixels(image: Image.Image) -> torch.Tensor:
    pixels = torch.tensor(np.asarray(T.Resize((IMAGE_SIZE, IMAGE_SIZE))(image)), dtype=torch.float32).permute(2, 0, 1)
    return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(pixels)


CLASS_C_MISTAKES = (
    ClassCMistake(
        "C left in training mode",
        "C leaves the network in training mode: batch normalisation then uses the statistics of "
        "the one image instead of those learnt on ImageNet. Call model.eval() in __init__.",
        _standard,
        train=True,
    ),
    ClassCMistake(
        "no ImageNet normalisation",
        "C feeds the network pixels in 0-1 without ImageNet normalisation: add "
        "T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]) after T.ToTensor().",
        lambda image: T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), T.ToTensor()])(image),
    ),
    ClassCMistake(
        "normalised with mean and std 0.5",
        "C normalises with mean and std 0.5 instead of ImageNet's statistics: use "
        "mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225].",
        lambda image: T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])(
            image
        ),
    ),
    ClassCMistake(
        "colour channels reversed (BGR)",
        "C reverses the colour channels (BGR, as OpenCV reads images): the network expects RGB, as PIL gives it.",
        lambda image: _standard(Image.merge("RGB", image.convert("RGB").split()[::-1])),
    ),
    ClassCMistake(
        "image made grey",
        "C turns the image grey before the network: keep its colours, convert('RGB') only makes "
        "sure there are three channels.",
        lambda image: _standard(image.convert("L").convert("RGB")),
    ),
    ClassCMistake(
        "cropped instead of resized",
        "C crops the image (Resize then CenterCrop, as for ImageNet evaluation): resize it to exactly "
        "224x224 with T.Resize((224, 224)) so that nothing is cut off.",
        lambda image: _standard(image, T.Compose([T.Resize(256), T.CenterCrop(IMAGE_SIZE)])),
    ),
    ClassCMistake(
        "pixels from 0 to 255",
        "C gives the network pixel values from 0 to 255: T.ToTensor() scales them to 0-1 before the normalisation.",
        _raw_pixels,
    ),
)


@cache
def _network(weights: str, train: bool) -> torch.nn.Module:
    network = strip_classifier(load_model("resnet18", weights))
    return network.train() if train else network.eval()


def reproduce(mistake: ClassCMistake, image: Image.Image, weights: str) -> np.ndarray:
    """What a class C with this mistake returns for ``image``."""
    with torch.no_grad():
        return _network(weights, mistake.train)(mistake.prepare(image.convert("RGB"))[None])[0].numpy()


def diagnose(vector: np.ndarray, image: Image.Image, weights: str) -> ClassCMistake | None:
    """The mistake that turns the reference embedding of ``image`` into ``vector``, or None when none does."""
    vector = np.asarray(vector, dtype=np.float64).ravel()
    for mistake in CLASS_C_MISTAKES:
        reproduced = reproduce(mistake, image, weights)
        if reproduced.size == vector.size and same_vectors(vector[None, :], reproduced[None, :], MATCH).all():
            return mistake
    return None
