"""helpers.images (any file to RGB, the fast decoding path) and Q1's reference resize and network input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.images import IMAGE_SIZE, IMAGENET_MEAN, load_rgb, to_rgb
from helpers.reference.embedding import image_batch, tensor_transform
from helpers.reference.resize import resize_folder


def test_resize_folder_outputs(default_dataset, tmp_path):
    """resize_folder writes 224x224 RGB JPEGs with the same names (grayscale and landscape sources included)."""
    names = default_dataset.image_files()[:12]
    source_modes = set()
    for name in names:
        with Image.open(default_dataset.image_path(name)) as image:
            source_modes.add(image.mode)
            assert image.size != (IMAGE_SIZE, IMAGE_SIZE)
    written = resize_folder(names, default_dataset.image_dir, tmp_path / "resized")
    assert [path.name for path in written] == names
    assert sorted(path.name for path in (tmp_path / "resized").iterdir()) == sorted(names)
    for path in written:
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert image.size == (IMAGE_SIZE, IMAGE_SIZE)


def test_resize_folder_handles_grayscale_source(tmp_path):
    """A grayscale source becomes a 3-channel RGB JPEG."""
    source = tmp_path / "src"
    source.mkdir()
    Image.new("L", (300, 120), 90).save(source / "gray.jpg")
    [out] = resize_folder(["gray.jpg"], source, tmp_path / "out")
    with Image.open(out) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (IMAGE_SIZE, IMAGE_SIZE))


def test_resize_folder_is_idempotent(default_dataset, tmp_path):
    """A second resize_folder call leaves existing outputs untouched (same bytes, same mtime) and fills gaps."""
    names = default_dataset.image_files()[:4]
    target = tmp_path / "resized"
    first = resize_folder(names, default_dataset.image_dir, target)
    stamps = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in first}
    first[1].unlink()
    second = resize_folder(names, default_dataset.image_dir, target)
    assert second == first
    for path in second:
        if path == first[1]:
            assert path.is_file()  # the missing one is redone
            continue
        assert (path.stat().st_mtime_ns, path.read_bytes()) == stamps[path.name]
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


def pixel(image: Image.Image, xy=(0, 0)) -> tuple[int, ...]:
    """One pixel of an image as a tuple of ints."""
    return tuple(int(v) for v in np.asarray(image)[xy[1], xy[0]])


def test_to_rgb_keeps_rgb():
    """An RGB image is returned as it is."""
    image = Image.new("RGB", (3, 3), (1, 2, 3))
    assert to_rgb(image) is image


def test_to_rgb_grayscale():
    """L becomes RGB with equal channels."""
    out = to_rgb(Image.new("L", (4, 4), 77))
    assert out.mode == "RGB"
    assert pixel(out) == (77, 77, 77)


def test_to_rgb_palette():
    """P without transparency becomes the palette colours."""
    image = Image.new("P", (4, 4), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    out = to_rgb(image)
    assert out.mode == "RGB"
    assert pixel(out) == (0, 0, 255)


def test_to_rgb_palette_with_transparency(tmp_path):
    """P with a transparent index (saved as PNG and reopened) shows white where transparent."""
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.save(tmp_path / "p.png", transparency=1)
    with Image.open(tmp_path / "p.png") as reopened:
        assert reopened.mode == "P" and reopened.info.get("transparency") == 1
        out = to_rgb(reopened)
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (255, 255, 255)
    assert pixel(out, (1, 1)) == (255, 0, 0)


def test_to_rgb_rgba_transparent_is_white():
    """RGBA: fully transparent pixels become white, opaque ones keep their colour."""
    image = Image.new("RGBA", (2, 1), (10, 20, 30, 0))
    image.putpixel((1, 0), (10, 20, 30, 255))
    out = to_rgb(image)
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (255, 255, 255)
    assert pixel(out, (1, 0)) == (10, 20, 30)


def test_to_rgb_la():
    """LA: transparent becomes white, opaque gray stays gray."""
    image = Image.new("LA", (2, 1), (100, 0))
    image.putpixel((1, 0), (100, 255))
    out = to_rgb(image)
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (255, 255, 255)
    assert pixel(out, (1, 0)) == (100, 100, 100)


def test_to_rgb_cmyk():
    """CMYK converts to RGB (pure magenta + yellow ink is red)."""
    out = to_rgb(Image.new("CMYK", (2, 2), (0, 255, 255, 0)))
    assert out.mode == "RGB"
    assert pixel(out) == (255, 0, 0)


def test_to_rgb_16_bit_png_is_not_clipped_to_white(tmp_path):
    """A 16-bit PNG of mid-gray 32768 comes out near 128, not clipped to 255."""
    Image.fromarray(np.full((6, 6), 32768, dtype=np.uint16)).save(tmp_path / "gray16.png")
    with Image.open(tmp_path / "gray16.png") as reopened:
        assert reopened.mode in ("I;16", "I")  # Pillow's mode for a 16-bit grayscale PNG
        out = to_rgb(reopened)
    assert out.mode == "RGB"
    assert all(abs(value - 128) <= 1 for value in pixel(out))


def test_to_rgb_16_bit_extremes():
    """16-bit black and white map to 0 and 255."""
    array = np.array([[0, 65535]], dtype=np.uint16)
    out = to_rgb(Image.fromarray(array))
    assert out.mode == "RGB"
    assert pixel(out, (0, 0)) == (0, 0, 0)
    assert pixel(out, (1, 0)) == (255, 255, 255)


def test_tensor_transform_shape_and_normalisation():
    """tensor_transform gives (3, H, W) float; the ImageNet mean colour maps to ~0 in every channel."""
    mean_colour = tuple(round(m * 255) for m in IMAGENET_MEAN)
    tensor = tensor_transform()(Image.new("RGB", (50, 30), mean_colour))
    assert tensor.shape == (3, 30, 50)
    assert tensor.dtype == torch.float32
    assert tensor.abs().max().item() < 0.01
    white = tensor_transform()(Image.new("RGB", (2, 2), (255, 255, 255)))
    assert white[0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229, abs=1e-4)


def test_image_batch_squashes_any_size_and_mode():
    """image_batch turns images of any size and mode into one (N, 3, 224, 224) batch."""
    batch = image_batch([Image.new("L", (500, 200), 10), Image.new("RGBA", (30, 90), (1, 2, 3, 4))])
    assert batch.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)


def test_load_rgb_draft_covers_requested_size(tmp_path):
    """load_rgb with draft_size decodes a large JPEG smaller, but never below draft_size on either side."""
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(1100, 2000, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "big.jpg", quality=90)
    full = load_rgb(tmp_path / "big.jpg")
    assert full.size == (2000, 1100)
    drafted = load_rgb(tmp_path / "big.jpg", draft_size=IMAGE_SIZE)
    assert drafted.mode == "RGB"
    assert drafted.width >= IMAGE_SIZE and drafted.height >= IMAGE_SIZE
    assert drafted.width < full.width  # the draft did skip detail


def test_load_rgb_draft_grayscale_jpeg(tmp_path):
    """A grayscale JPEG loaded with a draft size is still returned as RGB."""
    Image.new("L", (900, 700), 60).save(tmp_path / "gray.jpg")
    image = load_rgb(tmp_path / "gray.jpg", draft_size=IMAGE_SIZE)
    assert image.mode == "RGB"
    assert min(image.size) >= IMAGE_SIZE


def test_load_rgb_closes_file(tmp_path):
    """load_rgb returns a fully loaded image; the file can be deleted right after."""
    Image.new("RGB", (20, 20), (5, 6, 7)).save(tmp_path / "a.png")
    image = load_rgb(tmp_path / "a.png")
    (tmp_path / "a.png").unlink()
    assert pixel(image) == (5, 6, 7)
