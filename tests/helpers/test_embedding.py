"""helpers.models (networks, weights) and helpers.reference.embedding (the reference class C): images to vectors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.config import shared_dir
from helpers.images import load_rgb
from helpers.models import WeightsUnavailableError, bf16_supported, load_model
from helpers.reference.embedding import Embedder
from helpers.reference.neighbors import exact_neighbors
from helpers.vectors import unit_vectors

#: A real ImageNet-pretrained MobileNetV2 state_dict that sits beside the checkout (never in the repository).
MOBILENET_CHECKPOINT = shared_dir() / "models" / "mobilenet_v2_imagenet.pth"


@pytest.fixture(scope="module")
def sample_paths(default_dataset):
    """Eight images of the default dataset (grayscale and colour), as paths."""
    return [default_dataset.image_path(name) for name in default_dataset.image_files()[:8]]


def test_resnet18_vectors_are_512_float32(random_embedder, sample_paths):
    """ResNet-18 gives one finite 512-d float32 vector per image."""
    vector = random_embedder.get_vec(load_rgb(sample_paths[0]))
    assert vector.shape == (512,)
    assert vector.dtype == np.float32
    assert np.isfinite(vector).all()
    assert random_embedder.dim == 512


def test_mobilenet_v2_vectors_are_1280():
    """MobileNetV2 with random weights gives 1280-d float32 vectors."""
    embedder = Embedder("mobilenet_v2", weights="random", precision="fp32")
    vectors = embedder.embed_images([Image.new("RGB", (120, 80), (90, 120, 30))])
    assert vectors.shape == (1, 1280)
    assert vectors.dtype == np.float32
    assert embedder.dim == 1280


def test_unknown_backbone_is_rejected():
    """An unknown backbone name is a ValueError that lists the choices."""
    with pytest.raises(ValueError, match="resnet18"):
        Embedder("vgg99", weights="random")


def test_same_image_twice_gives_identical_vectors(random_embedder, sample_paths):
    """Embedding the same image twice gives bit-identical vectors (eval mode, no randomness)."""
    image = load_rgb(sample_paths[1])
    assert np.array_equal(random_embedder.get_vec(image), random_embedder.get_vec(image))


def test_get_vec_and_embed_files_agree(random_embedder, sample_paths):
    """get_vec on each decoded image and embed_files on the paths give the same vectors (atol 1e-4)."""
    from_files, failures = random_embedder.embed_files(sample_paths, batch_size=3, workers=0)
    assert failures == {}
    one_by_one = np.stack([random_embedder.get_vec(load_rgb(path)) for path in sample_paths])
    np.testing.assert_allclose(from_files, one_by_one, atol=1e-4, rtol=0)
    # different images really give different vectors, so the comparison above means something
    assert not np.allclose(from_files[0], from_files[1], atol=1e-3)


def test_embed_files_reports_unreadable_file(random_embedder, sample_paths, tmp_path):
    """An unreadable file gives a NaN row and a failure entry; the other files are still embedded."""
    broken = tmp_path / "x.jpg"
    broken.write_text("this is not a JPEG\n")
    paths = [sample_paths[0], broken, sample_paths[2]]
    vectors, failures = random_embedder.embed_files(paths)
    assert vectors.shape == (3, 512)
    assert set(failures) == {1}
    assert "x.jpg" in failures[1] or "identify" in failures[1]
    assert np.isnan(vectors[1]).all()
    assert np.isfinite(vectors[[0, 2]]).all()
    reference, _ = random_embedder.embed_files([sample_paths[0], sample_paths[2]])
    np.testing.assert_allclose(vectors[[0, 2]], reference, atol=1e-4, rtol=0)


def test_embed_files_with_workers_keeps_order(random_embedder, default_dataset):
    """With decoding threads and several batches, rows still follow the order of the paths."""
    paths = [default_dataset.image_path(name) for name in default_dataset.image_files()[:10]]
    parallel, failures = random_embedder.embed_files(paths, batch_size=4, workers=2)
    serial, _ = random_embedder.embed_files(paths, batch_size=4, workers=0)
    assert failures == {}
    np.testing.assert_allclose(parallel, serial, atol=1e-5, rtol=0)


def test_random_weights_are_deterministic(random_embedder, sample_paths):
    """Two Embedders with random weights have identical parameters and give identical vectors."""
    other = Embedder(weights="random", precision="fp32")
    for (name, a), (_, b) in zip(random_embedder.model.state_dict().items(), other.model.state_dict().items()):
        assert torch.equal(a, b), name
    image = load_rgb(sample_paths[3])
    assert np.array_equal(random_embedder.get_vec(image), other.get_vec(image))


def test_random_weights_are_the_same_when_threads_build_them_at_once():
    """The grading checker builds networks from several threads: each gets the seeded weights, not a share of
    one generator's draws.
    """
    expected = load_model(weights="random").state_dict()
    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(lambda _: load_model(weights="random"), range(4)))
    for model in built:
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, expected[name]), name


def test_random_weights_do_not_disturb_global_rng():
    """Building seeded random weights leaves torch's global random state as it was."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_model("resnet18", "random")
    assert torch.equal(torch.rand(3), expected)


def test_load_model_is_full_classifier_in_train_mode():
    """load_model returns torchvision's classifier in train mode with its 1000-way fc layer."""
    model = load_model("resnet18", "random")
    assert model.training
    assert isinstance(model.fc, torch.nn.Linear)
    assert model.fc.out_features == 1000
    model.eval()
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_embedder_model_is_headless_in_eval_mode(random_embedder):
    """The Embedder's model is in eval mode, fc replaced by identity, output 512."""
    assert not random_embedder.model.training
    assert all(not module.training for module in random_embedder.model.modules())
    assert isinstance(random_embedder.model.fc, torch.nn.Identity)
    assert random_embedder.embed_tensor(torch.zeros(2, 3, 224, 224)).shape == (2, 512)


def test_missing_weights_path_is_a_helpful_error(monkeypatch):
    """LAB_WEIGHTS=/nonexistent raises WeightsUnavailableError naming the path and the alternatives."""
    monkeypatch.setenv("LAB_WEIGHTS", "/nonexistent")
    with pytest.raises(WeightsUnavailableError) as error:
        Embedder()
    message = str(error.value)
    assert "/nonexistent" in message
    assert "no such file" in message
    assert "random" in message and "imagenet" in message


def test_wrong_checkpoint_is_a_helpful_error(tmp_path):
    """A checkpoint of another architecture raises WeightsUnavailableError naming the file."""
    path = tmp_path / "mobilenet.pth"
    torch.save(load_model("mobilenet_v2", "random").state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match="not a resnet18 state_dict") as error:
        load_model("resnet18", str(path))
    assert str(path) in str(error.value)


def test_checkpoint_path_from_lab_weights(monkeypatch, tmp_path, sample_paths):
    """LAB_WEIGHTS=<checkpoint> loads that state_dict: same vectors as an Embedder built on the model itself."""
    model = load_model("resnet18", "random", seed=11)  # not the default seed, so the file really is used
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("LAB_WEIGHTS", str(path))
    from_env = Embedder(precision="fp32")
    from_model = Embedder(model=load_model("resnet18", "random", seed=11), precision="fp32")
    default_seed = Embedder(weights="random", precision="fp32")
    image = load_rgb(sample_paths[0])
    assert np.array_equal(from_env.get_vec(image), from_model.get_vec(image))
    assert not np.allclose(from_env.get_vec(image), default_seed.get_vec(image))


@pytest.mark.skipif(
    not bf16_supported(), reason="this CPU has no native bfloat16 (avx512_bf16/amx_bf16), bf16 is not used"
)
def test_bf16_agrees_with_fp32(random_embedder, default_dataset):
    """bf16 autocast gives vectors with mean cosine similarity >= 0.999 to fp32 ones."""
    paths = [default_dataset.image_path(name) for name in default_dataset.image_files()[:24]]
    bf16 = Embedder(weights="random", precision="bf16")
    assert bf16.precision == "bf16"
    low, _ = bf16.embed_files(paths, workers=0)
    high, _ = random_embedder.embed_files(paths, workers=0)
    assert low.dtype == np.float32
    cosine = (unit_vectors(low) * unit_vectors(high)).sum(axis=1)
    print(f"bf16 vs fp32 cosine: mean {cosine.mean():.6f}, min {cosine.min():.6f}")
    assert cosine.mean() >= 0.999


def test_precision_is_validated():
    """Precision must be auto, fp32 or bf16; auto resolves to one of the latter."""
    with pytest.raises(ValueError, match="precision"):
        Embedder(weights="random", precision="fp16")
    assert Embedder(weights="random", precision="auto").precision == ("bf16" if bf16_supported() else "fp32")


# Measured on ../shared/data/stanford-cars-mini (20 classes x 8 images), fp32, exact neighbours: 0.231.
# Random weights score 0.085 (MobileNetV2) / 0.099 (ResNet-18) there; chance is 7/159 = 0.044.
MOBILENET_MIN_PRECISION_AT_5 = 0.20


def class_precision_at_k(names: list[str], classes: list[int], vectors: np.ndarray, k: int = 5) -> float:
    """Mean share of each image's k exact nearest neighbours (itself excluded) that have its class."""
    units = unit_vectors(vectors)
    class_of = dict(zip(names, classes))
    scores = []
    for name, query in zip(names, units):
        found = exact_neighbors(names, units, query, k + 1)
        found = found[found["image"] != name].head(k)
        assert len(found) == k
        scores.append(np.mean([class_of[other] == class_of[name] for other in found["image"]]))
    return float(np.mean(scores))


@pytest.mark.slow
def test_imagenet_mobilenet_finds_same_car_model(mini_dataset, embed):
    """Real ImageNet MobileNetV2 features: class precision@5 on real Stanford Cars is far above chance."""
    if not MOBILENET_CHECKPOINT.is_file():
        pytest.skip(
            "../shared/models/mobilenet_v2_imagenet.pth not found: the pretrained-feature test needs "
            "the shared checkpoint beside the checkout (CI has it)"
        )
    embedder = Embedder("mobilenet_v2", weights=str(MOBILENET_CHECKPOINT), precision="fp32")
    embedded = embed(mini_dataset, embedder)
    assert len(embedded.names) == 160 and len(set(embedded.classes)) == 20
    precision = class_precision_at_k(embedded.names, embedded.classes, embedded.vectors)
    print(f"MobileNetV2 (ImageNet) class precision@5 on stanford-cars-mini: {precision:.4f}")
    assert precision >= MOBILENET_MIN_PRECISION_AT_5


def test_draft_path_is_the_reference_arithmetic_on_the_same_pixels(random_embedder, sample_paths):
    """The fast path's batched uint8 normalisation gives the reference transform's floats for the same pixels."""
    from helpers.images import decode_pixels, normalize_pixels
    from helpers.reference.embedding import tensor_transform

    pixels = decode_pixels(sample_paths[0])
    assert pixels.dtype == torch.uint8 and pixels.shape == (3, 224, 224)
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    torch.testing.assert_close(normalize_pixels(pixels[None])[0], tensor_transform()(image), rtol=0, atol=1e-6)


def test_draft_embeddings_stay_close_to_the_reference(random_embedder, mini_dataset):
    """Fast decoding (draft + 8-bit resize) on real photos: cosine >= 0.999 to full decoding, not identical."""
    paths = [mini_dataset.image_path(name) for name in mini_dataset.image_files()[:16]]
    fast, failures = random_embedder.embed_files(paths, batch_size=8, draft=True)
    reference, _ = random_embedder.embed_files(paths, batch_size=8, draft=False)
    assert failures == {}
    cosine = (unit_vectors(fast) * unit_vectors(reference)).sum(axis=1)
    assert cosine.min() >= 0.999
    assert not np.allclose(fast, reference, atol=1e-6)  # the draft path really decodes differently


def test_embed_batch_takes_bytes_and_paths_alike(random_embedder, sample_paths):
    """embed_batch on file bytes equals embed_batch on the paths (both decoding paths); bad bytes are failures."""
    contents = [path.read_bytes() for path in sample_paths[:3]] + [b"not an image"]
    for draft in (False, True):
        from_bytes = random_embedder.embed_batch(contents, draft=draft)
        from_paths = random_embedder.embed_batch(sample_paths[:3], draft=draft)
        assert from_bytes.indices == [0, 1, 2] and set(from_bytes.failures) == {3}
        np.testing.assert_array_equal(from_bytes.vectors, from_paths.vectors)


def test_decoding_threads_do_not_change_vectors(random_embedder, default_dataset):
    """Decoding in 0, 1 or 2 threads gives identical vectors in the order of the paths (draft path too)."""
    paths = [default_dataset.image_path(name) for name in default_dataset.image_files()[:10]]
    serial, _ = random_embedder.embed_files(paths, batch_size=4, workers=0, draft=True)
    for workers in (1, 2):
        threaded, failures = random_embedder.embed_files(paths, batch_size=4, workers=workers, draft=True)
        assert failures == {}
        np.testing.assert_array_equal(threaded, serial)


def test_pixel_limit_is_refused_before_decoding(random_embedder, tmp_path, monkeypatch):
    """An image over Pillow's pixel limit (where Pillow only warns) is a failure on both decoding paths."""
    path = tmp_path / "large.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 - 1)
    for draft in (False, True):
        with pytest.warns(Image.DecompressionBombWarning):  # Pillow's own, on opening it: it would decode it
            found = random_embedder.embed_batch([path], draft=draft)
        assert found.indices == [] and "DecompressionBomb" in found.failures[0]


def test_checkpoints_are_where_torchvision_puts_them():
    """Finding the ImageNet checkpoints without torch gives torchvision's own answers (hub folder, file names)."""
    from torchvision import models

    from helpers import models as lab_models

    assert lab_models.hub_dir() == Path(torch.hub.get_dir())
    assert (
        models.ResNet18_Weights.IMAGENET1K_V1.url
        == lab_models.WEIGHTS_URL + lab_models.BACKBONES["resnet18"].checkpoint
    )
    assert models.MobileNet_V2_Weights.IMAGENET1K_V1.url.endswith(lab_models.BACKBONES["mobilenet_v2"].checkpoint)


def test_offline_the_lab_continues_with_random_weights_and_says_so_in_one_paragraph(monkeypatch, tmp_path):
    """No internet and no cached checkpoint: random weights, and one paragraph that says why and how to fix it."""
    from helpers import models as lab_models

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(lab_models, "WEIGHTS_URL", "http://127.0.0.1:9/")  # nothing listens there: refused at once
    lab_models.choose_weights.cache_clear()
    try:
        weights, note = lab_models.choose_weights("resnet18", "imagenet")
    finally:
        lab_models.choose_weights.cache_clear()
    assert weights == "random"
    assert "\n" not in note and "Traceback" not in note and "RANDOM" in note
    assert str(tmp_path / "hub" / "checkpoints") in note and "resnet18-f37072fd.pth" in note
    assert not list(tmp_path.rglob("*.pth*")), "a failed download must leave no partial file"
