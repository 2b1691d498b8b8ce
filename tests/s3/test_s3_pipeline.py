"""Both upload paths end to end on S3: real Redis, real worker processes, a real S3 HTTP endpoint."""

import io

import pytest
import requests
from PIL import Image as PILImage

from tests.s3.conftest import S3Endpoint, s3_settings
from tests.s3.direct import send, start
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_stack(make_stack, s3_endpoint, bucket):
    """A live app and one worker process, both on a fresh bucket."""
    stack = make_stack(**s3_settings(s3_endpoint, bucket))
    stack.start_worker()
    return stack


def test_upload_through_the_api_lands_as_variants_in_the_bucket_fetchable_over_http(s3_stack, bucket_client, bucket):
    created = s3_stack.upload(encoded(1200, 800), "wide.jpg")
    assert created.status_code == 202, created.get_json()
    image = wait_for_status(s3_stack.client, created.get_json()["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "done", s3_stack.worker_logs()
    keys = {entry["Key"] for entry in bucket_client.list_objects_v2(Bucket=bucket)["Contents"]}
    # Each variant's key is variants/<id>/<name>.<digest>.webp, and its URL points at it.
    variant_keys = {next(key for key in keys if key in variant["url"]) for variant in image["variants"].values()}
    assert keys == {f"originals/{image['id']}.jpg"} | variant_keys
    assert {key.removeprefix(f"variants/{image['id']}/").split(".")[0] for key in variant_keys} == set(
        image["variants"]
    )
    for variant in image["variants"].values():
        assert "/media/" not in variant["url"]
        response = requests.get(variant["url"], timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/webp"
        picture = PILImage.open(io.BytesIO(response.content))
        assert picture.size == (variant["width"], variant["height"])


def test_direct_upload_is_processed_after_complete(s3_stack):
    body = start(s3_stack.client, content_type="image/png", size=5000).get_json()
    assert send(body["upload"], encoded(640, 480, "PNG")).ok
    assert s3_stack.client.post(f"/api/images/{body['id']}/complete").status_code == 202
    image = wait_for_status(s3_stack.client, body["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "done", s3_stack.worker_logs()
    assert (image["width"], image["height"], image["content_type"]) == (640, 480, "image/png")
    assert image["variants"]["thumb"]["width"] == 160


def test_storage_outage_mid_run_is_retried_until_storage_is_back(make_stack, bucket):
    endpoint = S3Endpoint().start()
    try:
        stack = make_stack(**{**s3_settings(endpoint, bucket), "RETRY_MAX": "8", "S3_MAX_ATTEMPTS": "1"})
        image_id = stack.upload(encoded(400, 300), "outage.jpg").get_json()["id"]
        endpoint.stop()
        stack.start_worker()
        failed_attempt = wait_until(
            lambda: attempt_failed_with_unavailable(stack, image_id), timeout=60, what="an attempt to fail"
        )
        assert failed_attempt["status"] == "queued"
        endpoint.start()
        image = wait_for_status(stack.client, image_id, {"done", "failed"}, timeout=120)
        assert image["status"] == "done", stack.worker_logs()
        assert image["attempts"] >= 2
    finally:
        endpoint.stop()


def attempt_failed_with_unavailable(stack, image_id: str) -> dict | None:
    """The image, once an attempt has failed because storage was unreachable."""
    image = stack.client.get(f"/api/images/{image_id}").get_json()
    return image if image["error"] and image["error"]["code"] == "unavailable" else None
