"""The whole path with real parts: API → storage → database → real Redis → real worker processes → variants."""

import io

import pytest
from PIL import Image as PILImage

from app.storage import LocalStorage
from tests.support.images import corpus_photo, encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.integration

VARIANT_BOXES = {"thumb": 160, "small": 480, "medium": 1024, "large": 2048}


def fetch_variant(stack, variant: dict) -> PILImage.Image:
    """Download a variant through /media and decode it fully."""
    response = stack.client.get(variant["url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    picture = PILImage.open(io.BytesIO(response.data))
    picture.load()
    assert len(response.data) == variant["bytes"]
    return picture


@pytest.mark.parametrize("photo", ["storm_1920x1280.jpg", "safelanding_1622x2880.jpg", "kay_5120x2880.png"])
def test_corpus_photo_becomes_four_decodable_variants(stack, photo):
    path = corpus_photo(photo)
    created = stack.upload(path, photo)
    assert created.status_code == 202
    image = wait_for_status(stack.client, created.get_json()["id"], {"done", "failed"})
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 1
    original_width, original_height = PILImage.open(path).size
    assert (image["width"], image["height"]) == (original_width, original_height)
    assert set(image["variants"]) == set(VARIANT_BOXES)
    for name, variant in image["variants"].items():
        picture = fetch_variant(stack, variant)
        assert picture.format == "WEBP" and variant["format"] == "webp"
        assert picture.size == (variant["width"], variant["height"])
        assert max(picture.size) == min(VARIANT_BOXES[name], max(original_width, original_height))
        assert abs(picture.width / picture.height - original_width / original_height) < 0.02


def test_small_image_is_never_upscaled(stack):
    created = stack.upload(encoded(100, 50), "tiny.jpg").get_json()
    image = wait_for_status(stack.client, created["id"], {"done", "failed"})
    assert {(v["width"], v["height"]) for v in image["variants"].values()} == {(100, 50)}


def test_truncated_jpeg_fails_at_once_without_retry(stack):
    whole = corpus_photo("storm_1920x1280.jpg").read_bytes()
    created = stack.upload(whole[: len(whole) // 3], "cut.jpg")
    assert created.status_code == 202
    image = wait_for_status(stack.client, created.get_json()["id"], {"done", "failed"})
    assert image["status"] == "failed"
    assert image["error"]["code"] == "invalid_image"
    assert image["attempts"] == 1
    from rq.registry import FailedJobRegistry

    with stack.app.app_context():
        from app.extensions import redis_queue

        registry = FailedJobRegistry(queue=redis_queue.queue)
        # The row is marked failed by the failure callback, a moment before RQ files the job.
        wait_until(lambda: f"image-{image['id']}" in registry.get_job_ids(), 10, what="failed registry entry")


def test_requeue_of_expired_job_is_reported(stack):
    result = stack.app.test_cli_runner().invoke(args=["jobs", "requeue", "image-doesnotexist"])
    assert result.exit_code == 1  # README: exit status 1 when something named is not found
    assert "expired" in result.output


def test_reprocessing_a_done_image_is_harmless(stack):
    created = stack.upload(encoded(800, 600), "again.jpg").get_json()
    first = wait_for_status(stack.client, created["id"], "done")
    with stack.app.app_context():
        from app.pipeline.jobs import enqueue_processing

        enqueue_processing(created["id"])
    storage = LocalStorage(stack.env["STORAGE_ROOT"])
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        wait_until(lambda: fetch_job(f"image-{created['id']}").get_status() == "finished", what="second job")
    second = stack.client.get(f"/api/images/{created['id']}").get_json()
    assert second["status"] == "done" and second["variants"] == first["variants"]
    assert len(list(storage.keys(f"variants/{created['id']}/"))) == 4
