"""The reference class C (Q2) and embedding many images at once (Q3): ResNet-18's average-pool vectors.

The classification layer is removed, so the output is the average-pooled feature vector (512 numbers
for ResNet-18) that describes what the image looks like. :class:`Embedder` is also the fast embedder
of the tools, the web app and the benchmark: batches, decoding threads and optionally bf16.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.fx.experimental.optimization import fuse
from torchvision import transforms as T
from tqdm.auto import tqdm

from helpers.images import IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD, decode_pixels, load_rgb, normalize_pixels, to_rgb
from helpers.models import DEFAULT_BACKBONE, backbone, load_model, resolve_precision
from helpers.reference.resize import resize_transform


def tensor_transform() -> T.Compose:
    """PIL image to a normalised float tensor (C, H, W): ToTensor then ImageNet normalisation."""
    return T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def model_input_transform(size: int = IMAGE_SIZE) -> T.Compose:
    """Everything between a decoded RGB image of any size and the network input."""
    return T.Compose([resize_transform(size), tensor_transform()])


def image_batch(images: Sequence[Image.Image], size: int = IMAGE_SIZE) -> torch.Tensor:
    """A (N, 3, size, size) network input batch from RGB images of any size."""
    transform = model_input_transform(size)
    return torch.stack([transform(to_rgb(image)) for image in images])


def strip_classifier(model: nn.Module, name: str = DEFAULT_BACKBONE) -> nn.Module:
    """Replace the final classification layer by the identity, so the model returns the pooled features."""
    setattr(model, backbone(name).classifier_attribute, nn.Identity())
    return model


def _decode(source: Path | bytes, draft: bool) -> tuple[torch.Tensor | None, str]:
    """One image file (path or bytes) as network input, or None and why it could not be read.

    ``draft``: 8-bit pixels from the fast path (:func:`decode_pixels`), normalised later per batch;
    otherwise the reference path of :meth:`Embedder.get_vec`, a normalised float tensor.
    """
    try:
        if draft:
            return decode_pixels(source), ""
        image = load_rgb(io.BytesIO(source) if isinstance(source, bytes) else source, strict=True)
        return model_input_transform()(image), ""
    except Exception as error:  # any unreadable file is reported, never fatal for the batch
        return None, f"{error.__class__.__name__}: {error}"


def _decode_all(
    sources: Sequence[Path | bytes], draft: bool, pool: Executor | None
) -> list[tuple[torch.Tensor | None, str]]:
    # Pillow and torch release the GIL while they decode and resize, so threads use every core.
    return list(pool.map(_decode, sources, repeat(draft))) if pool else [_decode(s, draft) for s in sources]


@dataclass(frozen=True)
class Embeddings:
    """Vectors of the images that could be read, in order, and why each of the others could not."""

    names: list[str]
    vectors: np.ndarray
    failures: dict[str, str]

    @classmethod
    def keep_readable(cls, names: Sequence[str], vectors: np.ndarray, failures: dict[int, str]) -> Embeddings:
        """Drop the rows of ``vectors`` (one per name) whose index is in ``failures``."""
        kept = [i for i in range(len(names)) if i not in failures]
        return cls(
            [names[i] for i in kept], np.asarray(vectors)[kept], {names[i]: r for i, r in sorted(failures.items())}
        )


@dataclass
class EmbeddedBatch:
    """Vectors for the files of one batch that decoded, and the reasons for those that did not."""

    indices: list[int]
    vectors: np.ndarray
    failures: dict[int, str] = field(default_factory=dict)


class Embedder:
    """A headless backbone in eval mode: images in, float32 vectors of length ``dim`` out."""

    def __init__(
        self,
        name: str = DEFAULT_BACKBONE,
        weights: str | None = None,
        precision: str = "fp32",
        model: nn.Module | None = None,
    ):
        self.backbone = name
        self.dim = backbone(name).dim
        self.precision = resolve_precision(precision)
        network = model if model is not None else load_model(name, weights)
        self.model = strip_classifier(network, name).eval()
        if self.precision == "bf16":
            # Batch norm folded into the convolutions, then the whole network converted to bfloat16
            # and channels_last: oneDNN runs it on AMX/AVX512-BF16, ~1.7x faster than autocast
            # (README "Performance").
            self.model = fuse(self.model).to(torch.bfloat16).to(memory_format=torch.channels_last)

    def embed_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Vectors (N, dim) for an already normalised input batch (N, 3, H, W)."""
        with torch.inference_mode():
            if self.precision == "bf16":
                output = self.model(batch.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
            else:
                output = self.model(batch)
        return output.float().reshape(len(batch), -1).numpy().copy()

    def get_vec(self, image: Image.Image) -> np.ndarray:
        """The embedding of one PIL image: a float32 array of shape (dim,)."""
        return self.embed_images([image])[0]

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embeddings (N, dim) of PIL images of any size and mode."""
        return self.embed_tensor(image_batch(images))

    def embed_batch(
        self, sources: Sequence[Path | bytes], draft: bool = False, pool: Executor | None = None
    ) -> EmbeddedBatch:
        """Decode (in ``pool``'s threads when given) and embed image files, as paths or bytes, in one forward pass.

        Indices and failures refer to positions in ``sources``; an unreadable file is a failure, not an error.
        """
        decoded = _decode_all(sources, draft, pool)
        ok = [position for position, (tensor, _) in enumerate(decoded) if tensor is not None]
        failures = {position: reason for position, (tensor, reason) in enumerate(decoded) if tensor is None}
        if not ok:
            return EmbeddedBatch([], np.empty((0, self.dim), np.float32), failures)
        batch = torch.stack([decoded[position][0] for position in ok])
        return EmbeddedBatch(ok, self.embed_tensor(normalize_pixels(batch) if draft else batch), failures)

    def iter_files(
        self,
        paths: Sequence[Path],
        batch_size: int = 32,
        workers: int | None = None,
        draft: bool = False,
        progress: bool = False,
    ) -> Iterator[EmbeddedBatch]:
        """Embed files in order, batch by batch; unreadable files come back as failures, not exceptions.

        ``workers`` threads decode (default: one per core, up to 2); ``draft`` takes the fast decoding path.
        """
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if len(paths) > batch_size else 0
        with (
            ThreadPoolExecutor(workers) if workers else nullcontext() as pool,
            tqdm(total=len(paths), unit="img", disable=not progress, desc="embedding") as bar,
        ):
            for start in range(0, len(paths), batch_size):
                # Decoding and the forward pass take turns, each on every core: run side by side they
                # would stall the forward pass's threads at every barrier (README "Performance").
                found = self.embed_batch(paths[start : start + batch_size], draft, pool)
                bar.update(len(found.indices) + len(found.failures))
                yield EmbeddedBatch(
                    [start + p for p in found.indices], found.vectors, {start + p: r for p, r in found.failures.items()}
                )

    def embed_files(self, paths: Sequence[Path], **options) -> tuple[np.ndarray, dict[int, str]]:
        """Vectors (N, dim) in the order of ``paths`` (NaN rows for failures) and the failures by index.

        ``options`` as for :meth:`iter_files` (batch_size, workers, draft, progress).
        """
        vectors = np.full((len(paths), self.dim), np.nan, dtype=np.float32)
        failures: dict[int, str] = {}
        for batch in self.iter_files(paths, **options):
            vectors[batch.indices] = batch.vectors
            failures.update(batch.failures)
        return vectors, failures

    def embed_folder(self, folder: Path, names: Sequence[str], **options) -> Embeddings:
        """Embed the named files of ``folder`` (options as for :meth:`iter_files`), keeping the readable ones."""
        vectors, failures = self.embed_files([Path(folder) / name for name in names], **options)
        return Embeddings.keep_readable(names, vectors, failures)
