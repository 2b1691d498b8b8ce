"""A variant key never changes content: a new rendering gets new keys, the old files go, the same bytes keep theirs."""

import pytest

from app.storage import LocalStorage
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.integration


def served(stack, image: dict) -> dict[str, bytes]:
    """Every variant URL of the image and the bytes /media answers for it."""
    urls = [variant["url"] for variant in image["variants"].values()]
    responses = {url: stack.client.get(url) for url in urls}
    assert all(response.status_code == 200 for response in responses.values())
    return {url: response.data for url, response in responses.items()}


def reprocess(stack, image_id: str) -> dict:
    """`flask images reprocess <id>`, then wait for the real worker to finish it (old files go after the row)."""
    result = stack.app.test_cli_runner().invoke(args=["images", "reprocess", image_id])
    assert result.exit_code == 0 and "requeued" in result.output, result.output
    image = wait_for_status(stack.client, image_id, {"done", "failed"})
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        wait_until(lambda: fetch_job(f"image-{image_id}").get_status() == "finished", 30, what="the job to end")
    return image


def audit(stack) -> None:
    """`flask images audit` must find nothing wrong."""
    result = stack.app.test_cli_runner().invoke(args=["images", "audit"])
    assert result.exit_code == 0, result.output


def test_reprocess_under_new_settings_gives_new_urls_and_the_old_ones_404(make_stack):
    stack = make_stack(OUTPUT_QUALITY="80")
    stack.start_worker()
    image_id = stack.upload(encoded(900, 600, color="navy")).get_json()["id"]
    before = served(stack, wait_for_status(stack.client, image_id, "done"))

    stack.stop()
    stack.env["OUTPUT_QUALITY"] = "30"
    stack.start_worker()
    after = reprocess(stack, image_id)

    assert after["status"] == "done", after["error"]
    assert set(served(stack, after)).isdisjoint(before)
    assert all(stack.client.get(url).status_code == 404 for url in before)
    keys = set(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image_id}/"))
    assert {f"/media/{key}" for key in keys} == {variant["url"] for variant in after["variants"].values()}
    audit(stack)


def test_reprocess_under_the_same_settings_keeps_each_url_and_its_bytes(make_stack):
    stack = make_stack()
    stack.start_worker()
    image_id = stack.upload(encoded(900, 600, color="teal")).get_json()["id"]
    before = served(stack, wait_for_status(stack.client, image_id, "done"))
    # What an attempt interrupted between its files and its rows leaves: a rendering no row names.
    storage = LocalStorage(stack.env["STORAGE_ROOT"])
    storage.save(f"variants/{image_id}/thumb.0123456789abcdef.webp", b"interrupted", "image/webp")

    after = reprocess(stack, image_id)

    assert after["status"] == "done", after["error"]
    assert served(stack, after) == before
    assert not storage.exists(f"variants/{image_id}/thumb.0123456789abcdef.webp")
    audit(stack)
