"""ResNet-18 (or MobileNetV2) as an embedder: an image in, the penultimate layer's vector out.

The classification layer is removed, so the output is the average-pooled feature vector (512 numbers
for ResNet-18) that describes what the image looks like. Weights come from ``LAB_WEIGHTS``:
``imagenet`` (torchvision's weights API; downloaded once into torch's cache), ``random`` (seeded,
for offline tests) or the path of a local ``state_dict`` checkpoint.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.fx.experimental.optimization import fuse
from torchvision import models
from tqdm.auto import tqdm

from helpers.config import SEED, weights_setting
from helpers.transforms import decode_pixels, image_batch, load_rgb, model_input_transform, normalize_pixels


@dataclass(frozen=True)
class Backbone:
    """A torchvision classifier and how to turn it into an embedder."""

    build: Callable[..., nn.Module]
    imagenet: models.WeightsEnum
    dim: int
    classifier_attribute: str


BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone(models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, 512, "fc"),
    "mobilenet_v2": Backbone(models.mobilenet_v2, models.MobileNet_V2_Weights.IMAGENET1K_V1, 1280, "classifier"),
}
DEFAULT_BACKBONE = "resnet18"


class WeightsUnavailableError(RuntimeError):
    """The requested weights cannot be loaded; the message says where to put them."""


def _backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def imagenet_checkpoint_path(backbone: str = DEFAULT_BACKBONE) -> Path:
    """Where torchvision caches (and looks for) the ImageNet checkpoint of a backbone."""
    file_name = _backbone(backbone).imagenet.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def load_model(backbone: str = DEFAULT_BACKBONE, weights: str | None = None, seed: int = SEED) -> nn.Module:
    """The full torchvision classifier with the requested weights, as torchvision returns it (train mode).

    ``weights``: ``imagenet``, ``random`` or a checkpoint path; default: the LAB_WEIGHTS setting.
    """
    spec = weights or weights_setting()
    info = _backbone(backbone)
    if spec == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return info.build(weights=None)
    if spec == "imagenet":
        try:
            return info.build(weights=info.imagenet)
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a corrupt download a RuntimeError
            raise WeightsUnavailableError(
                f"ImageNet weights for {backbone} could not be loaded ({error.__class__.__name__}: {error}). "
                f"Without internet, copy the checkpoint to {imagenet_checkpoint_path(backbone)} "
                f"or set LAB_WEIGHTS=/path/to/checkpoint.pth (or LAB_WEIGHTS=random for seeded random weights)."
            ) from error
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(
            f"LAB_WEIGHTS={spec}: no such file; use imagenet, random or the path of a .pth checkpoint"
        )
    model = info.build(weights=None)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, ValueError, OSError) as error:
        raise WeightsUnavailableError(f"{path}: not a {backbone} state_dict ({error}).") from error
    return model


def imagenet_available(backbone: str = DEFAULT_BACKBONE) -> bool:
    """True when the ImageNet checkpoint is already in torch's cache (no network needed)."""
    return imagenet_checkpoint_path(backbone).is_file()


@cache
def choose_weights(backbone: str = DEFAULT_BACKBONE, weights: str | None = None) -> tuple[str, str]:
    """The weights to use and a note for the user: ImageNet falls back to seeded random weights when
    it cannot be loaded (offline and not cached), so demos and notebooks still run, and say so.

    Decided once per process, so a notebook does not retry a failing download in every cell.
    """
    spec = weights or weights_setting()
    if spec != "imagenet" or imagenet_available(backbone):
        return spec, ""
    try:
        load_model(backbone, "imagenet")
    except WeightsUnavailableError as error:
        return "random", (
            f"NOTE: using seeded RANDOM weights, not ImageNet. {error} "
            "Random weights still group near-duplicate photos, but not cars of the same model."
        )
    return "imagenet", ""


def strip_classifier(model: nn.Module, backbone: str = DEFAULT_BACKBONE) -> nn.Module:
    """Replace the final classification layer by the identity, so the model returns the pooled features."""
    setattr(model, _backbone(backbone).classifier_attribute, nn.Identity())
    return model


@lru_cache(maxsize=1)
def bf16_supported() -> bool:
    """True when the CPU has native bfloat16 (AVX512-BF16 or AMX), where a bf16 network pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(precision: str) -> str:
    """``auto`` becomes ``bf16`` on CPUs with native bfloat16, else ``fp32``."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_supported() else "fp32"
    return precision


_REFERENCE_INPUT = model_input_transform()


def _decode(source: Path | bytes, draft: bool) -> tuple[torch.Tensor | None, str]:
    """One image file (path or bytes) as network input, or None and why it could not be read.

    ``draft``: 8-bit pixels from the fast path (:func:`decode_pixels`), normalised later per batch;
    otherwise the reference path of :meth:`Embedder.get_vec`, a normalised float tensor.
    """
    try:
        if draft:
            return decode_pixels(source), ""
        return _REFERENCE_INPUT(load_rgb(io.BytesIO(source) if isinstance(source, bytes) else source, strict=True)), ""
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
        backbone: str = DEFAULT_BACKBONE,
        weights: str | None = None,
        precision: str = "fp32",
        model: nn.Module | None = None,
    ):
        self.backbone = backbone
        self.dim = _backbone(backbone).dim
        self.precision = resolve_precision(precision)
        network = model if model is not None else load_model(backbone, weights)
        self.model = strip_classifier(network, backbone).eval()
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
        return self._embed_decoded(_decode_all(sources, draft, pool), draft)

    def _embed_decoded(self, decoded: list[tuple[torch.Tensor | None, str]], draft: bool) -> EmbeddedBatch:
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
        starts = range(0, len(paths), batch_size)
        with (
            ThreadPoolExecutor(workers) if workers else nullcontext() as pool,
            tqdm(total=len(paths), unit="img", disable=not progress, desc="embedding") as bar,
        ):
            for start in starts:
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
