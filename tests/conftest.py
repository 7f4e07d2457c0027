"""Shared fixtures: the embedded default dataset, a seeded random embedder, ONE Spark session, real data.

Tests that run notebooks, autograde, start a cluster or drive a browser are marked ``slow``
(``make test-fast`` leaves them out); so are the notebooks that nbval collects.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request

# Before anything imports helpers.spark: the tests never need Spark's web UI (and must not fight over its port).
os.environ["LAB_SPARK_UI"] = "false"

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.config import shared_dir
from helpers.data import Dataset, find_dataset
from helpers.default_dataset import ensure_default_dataset
from helpers.reference.embedding import Embedder
from tools.cluster import free_ports

#: ../shared beside the checkout: real data and models that the repository may not contain.
MINI_DATASET_DIR = shared_dir() / "data" / "stanford-cars-mini"
MINI_SKIP_REASON = (
    "../shared/data/stanford-cars-mini not found: the real-data tests run where the shared data sits "
    "beside the checkout (CI does)"
)


@dataclass(frozen=True)
class Embedded:
    """A dataset's usable images, their classes and their vectors (one row per image, in CSV order)."""

    dataset: Dataset
    names: list[str]
    classes: list[int]
    vectors: np.ndarray


def embed_dataset(dataset: Dataset, embedder: Embedder) -> Embedded:
    """Embed every usable image of ``dataset``; fails loudly when any file cannot be embedded."""
    labels = dataset.usable_labels()
    names = labels["image"].tolist()
    vectors, failures = embedder.embed_files([dataset.image_path(name) for name in names])
    assert not failures, f"could not embed: {failures}"
    return Embedded(dataset, names, [int(c) for c in labels["Class"]], vectors)


def write_image(
    path: Path, size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30), fmt: str = "JPEG"
) -> Path:
    """A small generated image file (solid colour with a darker square so it is not flat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.paste(tuple(c // 3 for c in color), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    image.save(path, format=fmt)
    return path


#: The files that take minutes, longest first (``--durations`` in every run shows what each costs). xdist
#: hands out whole files in collection order (``--dist loadfile --no-loadscope-reorder``): a long file
#: handed out last would leave one worker running alone at the end, and that costs CI minutes.
LONGEST_FIRST = (
    "tests/grading/test_class.py",
    "tests/grading/test_mistakes.py",
    "tests/grading/test_handout.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Notebooks collected by nbval are slow tests; files run longest first, then slow ones, then unit tests."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)

    def path(item: pytest.Item) -> str:
        return item.path.relative_to(config.rootpath).as_posix()

    slow_files = {path(item) for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        if path(item) in LONGEST_FIRST:
            return LONGEST_FIRST.index(path(item))
        return len(LONGEST_FIRST) + (path(item) not in slow_files)

    items.sort(key=rank)  # stable: a file's tests stay together and in order (a notebook's cells too)


@pytest.fixture(scope="session")
def default_dataset() -> Dataset:
    """The embedded default dataset (generated on first use, then reused)."""
    return find_dataset(ensure_default_dataset())


@pytest.fixture(scope="session")
def random_embedder() -> Embedder:
    """ResNet-18 with seeded random weights in fp32: offline and deterministic."""
    return Embedder(weights="random", precision="fp32")


@pytest.fixture(scope="session")
def default_embeddings(default_dataset: Dataset, random_embedder: Embedder) -> Embedded:
    """All usable images of the default dataset embedded once per session with the random embedder."""
    return embed_dataset(default_dataset, random_embedder)


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the whole run (never stopped in between; the JVM exits with pytest)."""
    from helpers.spark import get_spark

    return get_spark("lab5-tests")


@pytest.fixture(scope="session")
def mini_dataset() -> Dataset:
    """The real 160-image Stanford Cars subset in ../shared, or a skip when it is not beside the checkout."""
    if not MINI_DATASET_DIR.is_dir():
        pytest.skip(MINI_SKIP_REASON)
    return find_dataset(MINI_DATASET_DIR)


@pytest.fixture(scope="session")
def make_image():
    """The :func:`write_image` helper, for tests that build tiny datasets in tmp_path."""
    return write_image


CHROMIUM = Path("/usr/bin/chromium")
#: Debian's Chromium as root, headless, with nothing that would try to reach the internet.
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port on the loopback nobody listens on right now."""
    return free_ports(1)[0]


def wait_for_http(url: str, server: subprocess.Popen) -> None:
    """Wait until ``url`` answers 200 (a server just started); fail the test if the server exits first.

    No deadline: a loaded machine may take any time to start a server, and a hang is pytest-timeout's to end.
    """
    while server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the server for {url} exited with code {server.returncode} before it answered")


@pytest.fixture(scope="session")
def servers():
    """Helpers for tests that start a server: ``servers.free_port()``, ``servers.wait_for_http(url)``."""
    import types

    return types.SimpleNamespace(free_port=free_port, wait_for_http=wait_for_http)


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium context driven by Playwright (Debian's browser: Playwright's own download cannot work here).

    Nothing in it has a deadline: a loaded machine may take any time to draw a page. Tests wait for what
    they expect or for an error shown on the page, and a hang is pytest-timeout's to end.
    """
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: install Debian's chromium package (.ci/run does) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_FLAGS, timeout=0)
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        context.set_default_timeout(0)
        context.set_default_navigation_timeout(0)
        yield context
        browser.close()


@pytest.fixture(scope="session")
def embed():
    """The :func:`embed_dataset` helper, for tests that embed a dataset with their own embedder."""
    return embed_dataset
