"""The networks and their weights: ResNet-18 (or MobileNetV2) from torchvision.

Weights come from ``LAB_WEIGHTS``: ``imagenet`` (downloaded once into torch's cache, with a progress
bar), ``random`` (seeded, for offline tests) or the path of a local ``state_dict`` checkpoint. torch is
imported only when a network is built, so the Spark notebooks, which never build one, start sooner.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.config import SEED, weights_setting

if TYPE_CHECKING:
    from torch import nn

#: Where torchvision's weights API downloads its checkpoints from (the file name ends in its hash).
WEIGHTS_URL = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class Backbone:
    """A torchvision classifier and how to turn it into an embedder."""

    builder: str  # the torchvision.models function
    checkpoint: str  # the ImageNet checkpoint's file name, as torchvision's weights API names it
    dim: int
    classifier_attribute: str


BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone("resnet18", "resnet18-f37072fd.pth", 512, "fc"),
    "mobilenet_v2": Backbone("mobilenet_v2", "mobilenet_v2-b0353104.pth", 1280, "classifier"),
}
DEFAULT_BACKBONE = "resnet18"
#: Length of ResNet-18's average-pool embedding: the lab's vectors.
EMBEDDING_DIM = BACKBONES[DEFAULT_BACKBONE].dim
#: Held while a network with seeded random weights is built (:func:`load_model`).
_SEEDED_BUILD = threading.Lock()


class WeightsUnavailableError(RuntimeError):
    """The requested weights cannot be loaded; the message says where to put them."""


def backbone(name: str) -> Backbone:
    """The backbone called ``name``, or a ValueError that lists the choices."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def hub_dir() -> Path:
    """Torch's hub folder, found as ``torch.hub.get_dir()`` finds it, without importing torch."""
    cache_home = os.environ.get("XDG_CACHE_HOME", str(Path("~/.cache")))
    return Path(os.environ.get("TORCH_HOME", str(Path(cache_home) / "torch"))).expanduser() / "hub"


def imagenet_checkpoint_path(name: str = DEFAULT_BACKBONE) -> Path:
    """Where torchvision caches (and looks for) the ImageNet checkpoint of a backbone."""
    return hub_dir() / "checkpoints" / backbone(name).checkpoint


def imagenet_available(name: str = DEFAULT_BACKBONE) -> bool:
    """True when the ImageNet checkpoint is already in torch's cache (no network needed)."""
    return imagenet_checkpoint_path(name).is_file()


def download_imagenet(name: str = DEFAULT_BACKBONE, timeout: float = 30.0) -> Path:
    """Download the ImageNet checkpoint into torch's cache with a progress bar; WeightsUnavailableError offline.

    The bar goes to stdout (a widget in Jupyter), and the file is checked against the hash in its name,
    as torchvision does, before it is renamed into place.
    """
    from tqdm.auto import tqdm

    target = imagenet_checkpoint_path(name)
    expected = target.stem.rsplit("-", 1)[-1]
    try:
        with urllib.request.urlopen(WEIGHTS_URL + target.name, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with (
                tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as partial,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"ImageNet weights ({target.name})", file=sys.stdout
                ) as bar,
            ):
                while chunk := response.read(1 << 20):
                    partial.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except OSError as error:  # URLError, timeouts, a full disk
        raise WeightsUnavailableError(f"the download failed ({error.__class__.__name__}: {error})") from None
    if not digest.hexdigest().startswith(expected):
        Path(partial.name).unlink(missing_ok=True)
        raise WeightsUnavailableError(f"the downloaded {target.name} is corrupt (its hash does not match)")
    Path(partial.name).replace(target)
    return target


def load_model(name: str = DEFAULT_BACKBONE, weights: str | None = None, seed: int = SEED) -> nn.Module:
    """The full torchvision classifier with the requested weights, as torchvision returns it (train mode).

    ``weights``: ``imagenet``, ``random`` or a checkpoint path; default: the LAB_WEIGHTS setting.
    """
    import torch
    from torchvision import models

    spec = weights or weights_setting()
    build = getattr(models, backbone(name).builder)
    if spec == "random":
        # The seed is the process's one global generator: two threads building at once (the grading checker
        # serves its jobs from threads) would draw from it in turns, and each get weights of its own.
        with _SEEDED_BUILD, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build(weights=None)
    path = imagenet_checkpoint_path(name) if spec == "imagenet" else Path(spec).expanduser()
    if spec == "imagenet" and not path.is_file():
        download_imagenet(name)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"LAB_WEIGHTS={spec}: no such file; use imagenet, random or the path of a .pth checkpoint"
        )
    model = build(weights=None)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, ValueError, OSError) as error:
        raise WeightsUnavailableError(f"{path}: not a {name} state_dict ({error}).") from error
    return model


@cache
def choose_weights(name: str = DEFAULT_BACKBONE, weights: str | None = None) -> tuple[str, str]:
    """The weights to use and a note for the user: ImageNet falls back to seeded random weights when it
    cannot be downloaded (offline and not cached), so demos and notebooks still run, and say so.

    Decided once per process, so a notebook does not retry a failing download in every cell.
    """
    spec = weights or weights_setting()
    if spec != "imagenet" or imagenet_available(name):
        return spec, ""
    try:
        download_imagenet(name)
    except WeightsUnavailableError as error:
        return "random", (
            f"NOTE: this run uses seeded RANDOM weights instead of ImageNet's: {error}. Everything works "
            "and is checked the same way, but similar photos will share colours and layout rather than car "
            "models. For ImageNet weights, connect to the internet and restart the kernel, or copy "
            f"{backbone(name).checkpoint} into {imagenet_checkpoint_path(name).parent} "
            "(or set LAB_WEIGHTS to the path of the file)."
        )
    return "imagenet", ""


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
