"""The similar-car finder, tested as a person uses it: a real Streamlit server driven by Playwright in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

from app import index as lab_index
from helpers.config import PROJECT_ROOT, artifacts_dir

pytestmark = pytest.mark.slow

APP = PROJECT_ROOT / "app" / "similar_cars.py"


def test_upload_is_decoded_in_memory_and_bad_uploads_are_named():
    """read_upload returns RGB for a PNG with alpha and a clear UnreadableImageError for junk, empty and huge input."""
    import io

    buffer = io.BytesIO()
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(buffer, format="PNG")
    assert lab_index.read_upload(buffer.getvalue(), "a.png").mode == "RGB"
    for data, expected in [
        (b"hello", "not a readable"),
        (b"", "empty"),
        (b"\0" * (lab_index.MAX_UPLOAD_BYTES + 1), "limit"),
    ]:
        with pytest.raises(lab_index.UnreadableImageError, match=expected):
            lab_index.read_upload(data, "x.jpg")


def test_index_is_built_once_and_reused(spark, monkeypatch, tmp_path):
    """The first start embeds and saves the index; the second loads it and answers the same queries."""
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_WEIGHTS", "random")
    first = lab_index.build_or_load(spark)
    second = lab_index.build_or_load(spark)
    assert first.built and not second.built and first.folder == second.folder
    query = Image.open(first.dataset.image_path(first.names[7])).convert("RGB")
    assert first.query(query, 5)["image"].tolist() == second.query(query, 5)["image"].tolist()
    assert second.query(query, 5)["image"].iloc[0] == first.names[7]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, servers):
    """The app served by `streamlit run` on a free port, with seeded random weights; stopped afterwards."""
    port = servers.free_port()
    log = (tmp_path_factory.mktemp("app") / "streamlit.log").open("w")
    environment = {**os.environ, "LAB_WEIGHTS": "random", "LAB_SPARK_UI": "false"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_for_http(f"{url}/_stcore/health", server)
    except BaseException:
        server.kill()
        raise
    yield url
    os.killpg(server.pid, 15)
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(chromium, app_url):
    """A Chromium page on the app, once the index is loaded."""
    page = chromium.new_page()
    page.goto(app_url)
    _wait_for(page, "Upload a photo or pick a random image")
    yield page
    page.close()


def _wait_for(page, text: str) -> None:
    """Wait until ``text`` is on the page; fail with Streamlit's message if the app shows an error instead."""
    error = page.get_by_test_id("stException")
    page.get_by_text(text).or_(error).first.wait_for()
    assert not error.count(), error.first.inner_text()


def _captions(page) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="stImageCaption"]').all_inner_texts()]


def _result_captions(page) -> list[str]:
    """The captions once the query and its 5 neighbours are on the page (Streamlit draws them one by one)."""
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=\"stImageCaption\"]').length >= 6"
        " || document.querySelector('[data-testid=\"stException\"]') !== null"
    )
    return _captions(page)


def test_upload_shows_five_neighbours_with_the_image_itself_first(page, default_dataset):
    """Uploading a dataset image shows 5 results, the first being that image; nothing is written to the dataset."""
    before = sorted(default_dataset.image_dir.iterdir())
    name = default_dataset.usable_labels()["image"].iloc[11]
    page.locator('input[type="file"]').set_input_files(str(default_dataset.image_path(name)))
    _wait_for(page, "The 5 most similar images")
    captions = _result_captions(page)
    artifacts_dir().mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts_dir() / "webapp_results.png"), full_page=True)
    results = [c for c in captions if "distance" in c]
    assert len(results) == 5, captions
    assert results[0].startswith(name), results
    assert "random" in page.content().lower()  # the note that the weights are not ImageNet
    assert sorted(default_dataset.image_dir.iterdir()) == before


def test_corrupt_upload_gets_a_message_and_the_app_keeps_working(page, default_dataset, tmp_path):
    """A truncated JPEG gets a clear error on the page; picking a random image afterwards still works."""
    whole = default_dataset.image_path(default_dataset.usable_labels()["image"].iloc[3]).read_bytes()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(whole[:200])
    page.locator('input[type="file"]').set_input_files(str(corrupt))
    _wait_for(page, "Could not use that file")
    assert "corrupt.jpg is not a readable JPEG or PNG image" in page.content()
    page.screenshot(path=str(artifacts_dir() / "webapp_corrupt_upload.png"), full_page=True)
    page.get_by_role("button", name="Pick a random image from the dataset").click()
    _wait_for(page, "random pick:")
    assert len([c for c in _result_captions(page) if "distance" in c]) == 5
