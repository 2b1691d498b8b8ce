"""A direct upload's object cannot be swapped after it was checked: the POST policy can only write uploads/<id>.<ext>,
completion copies the object to the original's key, and the worker checks again what it reads."""

import pytest

from app.exceptions import InvalidImage, TooLarge, UnsupportedType
from app.extensions import db
from app.models import Image
from app.pipeline.jobs import process_image
from app.storage import get_storage
from tests.s3.conftest import s3_settings
from tests.s3.direct import JPEG, send, start
from tests.support.images import encoded
from tests.support.polling import wait_for_status

LIMIT = 1024 * 1024
# A real, different image padded to 9 MB: over the 1 MB limit, yet it would decode if anything processed it.
SWAPPED = encoded(300, 200) + b"\0" * (9 * 1024 * 1024)


def bucket_keys(bucket_client, bucket: str) -> set[str]:
    """Every key in the bucket."""
    return {entry["Key"] for entry in bucket_client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def stored(bucket_client, bucket: str, key: str) -> bytes:
    """The bytes of one object."""
    return bucket_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def completed_upload(client) -> dict:
    """Start a direct upload, POST the small JPEG and complete it; the start response's body."""
    body = start(client).get_json()
    assert send(body["upload"], JPEG).ok
    assert client.post(body["complete_url"]).status_code == 202
    return body


@pytest.fixture
def limited_app(make_s3_app):
    """An s3 app with a 1 MB upload limit."""
    return make_s3_app(MAX_UPLOAD_BYTES=LIMIT)


def test_the_post_policy_cannot_write_the_key_that_is_processed(limited_app):
    body = start(limited_app.test_client()).get_json()
    with limited_app.app_context():
        original_key = db.session.get(Image, body["id"]).original_key
    assert body["upload"]["fields"]["key"] != original_key
    assert original_key == f"originals/{body['id']}.jpg"


def test_a_second_post_after_complete_changes_nothing_that_is_processed(limited_app, bucket_client, bucket):
    client = limited_app.test_client()
    body = completed_upload(client)
    # moto does not enforce POST policies: the 9 MB file is stored, as on a server that ignores content-length-range.
    assert send(body["upload"], SWAPPED).ok
    original_key = f"originals/{body['id']}.jpg"
    assert stored(bucket_client, bucket, original_key) == JPEG
    with limited_app.app_context():
        result = process_image(body["id"])
    image = client.get(f"/api/images/{body['id']}").get_json()
    assert image["status"] == "done", result
    assert (image["width"], image["height"], image["bytes"]) == (120, 80, len(JPEG))
    assert image["bytes"] == len(stored(bucket_client, bucket, original_key))


def test_complete_removes_the_upload_object_and_cleanup_removes_a_second_post(limited_app, bucket_client, bucket):
    from app.pipeline.direct import cleanup_expired_uploads

    body = completed_upload(limited_app.test_client())
    upload_key = body["upload"]["fields"]["key"]
    assert upload_key not in bucket_keys(bucket_client, bucket)
    send(body["upload"], SWAPPED)
    with limited_app.app_context():
        cleanup_expired_uploads()
    assert bucket_keys(bucket_client, bucket) == {f"originals/{body['id']}.jpg"}


def test_a_refused_upload_posted_again_and_retried_processes_nothing(limited_app, bucket_client, bucket):
    client = limited_app.test_client()
    body = start(client).get_json()
    send(body["upload"], SWAPPED)
    refused = client.post(body["complete_url"])
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (413, "too_large")
    send(body["upload"], SWAPPED)
    assert client.post(f"/api/images/{body['id']}/retry").status_code == 202
    with limited_app.app_context(), pytest.raises(InvalidImage):
        process_image(body["id"])
    assert not any(key.startswith("variants/") for key in bucket_keys(bucket_client, bucket))


@pytest.mark.parametrize(
    ("replacement", "error"),
    [(SWAPPED, TooLarge), (b"<html>" + b"x" * (len(JPEG) - 6), UnsupportedType), (encoded(300, 200), InvalidImage)],
    ids=["over the limit", "not an image", "not the checked size"],
)
def test_the_worker_refuses_an_original_that_is_not_what_was_checked(limited_app, replacement, error):
    client = limited_app.test_client()
    body = completed_upload(client)
    with limited_app.app_context():
        # However it got there (an old policy, an operator, a bug): the worker checks what it reads.
        get_storage().save(f"originals/{body['id']}.jpg", replacement, "image/jpeg")
        with pytest.raises(error):
            process_image(body["id"])


@pytest.mark.integration
def test_a_real_worker_processes_the_checked_object_after_a_second_post(make_stack, s3_endpoint, bucket, bucket_client):
    stack = make_stack(**s3_settings(s3_endpoint, bucket), MAX_UPLOAD_BYTES=str(LIMIT))
    body = completed_upload(stack.client)
    assert send(body["upload"], SWAPPED).ok
    stack.start_worker()
    image = wait_for_status(stack.client, body["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "done", stack.worker_logs()
    assert (image["width"], image["height"], image["bytes"]) == (120, 80, len(JPEG))
    assert image["bytes"] == len(stored(bucket_client, bucket, f"originals/{body['id']}.jpg"))


@pytest.mark.integration
def test_a_real_worker_fails_a_swapped_original_for_good(make_stack, s3_endpoint, bucket):
    stack = make_stack(**s3_settings(s3_endpoint, bucket), MAX_UPLOAD_BYTES=str(LIMIT))
    body = completed_upload(stack.client)
    with stack.app.app_context():
        get_storage().save(f"originals/{body['id']}.jpg", SWAPPED, "image/jpeg")
    stack.start_worker()
    image = wait_for_status(stack.client, body["id"], {"done", "failed"}, timeout=90)
    assert (image["status"], image["error"]["code"], image["attempts"]) == ("failed", "too_large", 1)


def test_deleting_an_upload_before_complete_removes_the_object_it_was_sent_as(limited_app, bucket_client, bucket):
    client = limited_app.test_client()
    body = start(client).get_json()
    assert send(body["upload"], JPEG).ok
    assert client.delete(f"/api/images/{body['id']}").status_code == 204
    assert bucket_keys(bucket_client, bucket) == set()
