"""Q1's reference: every image of the run squashed to a 224x224 RGB JPEG."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.images import IMAGE_SIZE, JPEG_QUALITY, load_rgb
from helpers.store import atomic_write

if TYPE_CHECKING:  # torchvision only where it resizes: the Spark notebooks check Q1's files without it
    from torchvision import transforms as T

    from helpers.lab import LabSetup


def resize_transform(size: int = IMAGE_SIZE) -> T.Resize:
    """Q1's transform: squash to exactly size x size (a tuple size ignores the aspect ratio)."""
    from torchvision import transforms as T

    return T.Resize((size, size), antialias=True)


def resize_folder(
    names: Iterable[str], source_dir: Path, target_dir: Path, size: int = IMAGE_SIZE, quality: int = JPEG_QUALITY
) -> list[Path]:
    """Write each named image as a size x size RGB JPEG with the same name into target_dir.

    Files already present are not redone, so an interrupted run simply continues.
    """
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    resize = None
    written = []
    for name in names:
        target = target_dir / name
        if not target.exists():
            resize = resize or resize_transform(size)
            image = resize(load_rgb(source_dir / name))
            atomic_write(target, lambda partial, image=image: image.save(partial, format="JPEG", quality=quality))
        written.append(target)
    return written


def resized_dir(lab: LabSetup) -> Path:
    """Q1's reference output for the run, made once in the reference folder (``lab.reference_dir``)."""
    folder = lab.reference_dir / "resized"
    resize_folder(lab.image_names, lab.image_dir, folder)
    return folder
