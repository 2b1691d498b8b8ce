"""The whole path with real parts: API → storage → database → real Redis → real worker processes → variants."""

import io

import pytest
from PIL import Image as PILImage

from app.storage import LocalStorage
from tests.support.flaky_storage import FAILURES_KEY
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


def test_transient_storage_failure_is_retried_with_growing_waits(make_stack):
    stack = make_stack(STORAGE_BACKEND="tests.support.flaky_storage:FlakyStorage", RETRY_MAX="4")
    stack.start_worker()
    stack.redis.set(FAILURES_KEY, 3)
    created = stack.upload(encoded(300, 200), "flaky.jpg").get_json()
    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 4
    starts = attempt_starts(stack, image["id"])
    waits = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    # Base 1 s doubling: about 1, 2, 4 s apart (jitter only lengthens them).
    assert waits[0] >= 0.9 and waits[1] >= 1.9 and waits[2] >= 3.9, waits
    assert waits[0] < waits[1] < waits[2], waits


def attempt_starts(stack, image_id: str) -> list[float]:
    """When each processing attempt began, from the image's history."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        events = db.session.get(Image, image_id).events
        return [event.at.timestamp() for event in events if event.status == "processing"]


def test_permanently_failing_storage_ends_failed_then_cli_requeue_brings_it_to_done(make_stack):
    stack = make_stack(STORAGE_BACKEND="tests.support.flaky_storage:FlakyStorage", RETRY_MAX="2")
    stack.start_worker()
    stack.redis.set(FAILURES_KEY, 1000)
    created = stack.upload(encoded(300, 200), "doomed.jpg").get_json()
    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "failed"
    assert image["error"]["code"] == "unavailable"
    assert image["attempts"] == 3

    runner = stack.app.test_cli_runner()
    listing = runner.invoke(args=["jobs", "failed"])
    assert f"image-{image['id']}" in listing.output and "unavailable" in listing.output

    stack.redis.delete(FAILURES_KEY)
    result = runner.invoke(args=["jobs", "requeue", "--all"])
    assert result.exit_code == 0 and "requeued" in result.output
    again = runner.invoke(args=["jobs", "requeue", f"image-{image['id']}"])
    assert again.exit_code == 0
    image = wait_for_status(stack.client, image["id"], {"done", "failed"}, timeout=60)
    assert image["status"] == "done"
    assert runner.invoke(args=["jobs", "failed"]).output.strip() == "No failed jobs."


def test_requeue_of_expired_job_is_reported(stack):
    result = stack.app.test_cli_runner().invoke(args=["jobs", "requeue", "image-doesnotexist"])
    assert result.exit_code == 0
    assert "expired" in result.output


def test_reprocessing_a_done_image_is_harmless(stack):
    created = stack.upload(encoded(800, 600), "again.jpg").get_json()
    first = wait_for_status(stack.client, created["id"], "done")
    with stack.app.app_context():
        from app.jobs import enqueue_processing

        enqueue_processing(created["id"])
    storage = LocalStorage(stack.env["STORAGE_ROOT"])
    with stack.app.app_context():
        from app.jobs import fetch_job

        wait_until(lambda: fetch_job(f"image-{created['id']}").get_status() == "finished", what="second job")
    second = stack.client.get(f"/api/images/{created['id']}").get_json()
    assert second["status"] == "done" and second["variants"] == first["variants"]
    assert len(list(storage.keys(f"variants/{created['id']}/"))) == 4
