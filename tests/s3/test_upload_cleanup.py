"""Cleanup of expired direct uploads against a completion that interleaves with it (forced, not timed)."""

from datetime import timedelta

from app.extensions import db
from app.models import Image, utcnow
from app.pipeline import direct
from tests.s3.direct import JPEG, send, start


def bucket_keys(bucket_client, bucket: str) -> set[str]:
    """Every key in the bucket."""
    return {entry["Key"] for entry in bucket_client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def past_expiry(app):
    """A moment after every upload started now has expired."""
    return utcnow() + timedelta(seconds=app.config["UPLOAD_URL_TTL"] + app.config["UPLOAD_GRACE_SECONDS"] + 1)


def test_a_completion_between_listing_and_deleting_keeps_its_row_and_original(
    s3_app, s3_client, bucket_client, bucket, monkeypatch
):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    real_get_storage = direct.get_storage
    completed = []

    def complete_first():
        # Cleanup has listed the upload as expired; the client's complete lands right now (once: it asks too).
        if not completed:
            completed.append("started")
            completed.append(s3_client.post(body["complete_url"]).status_code)
        return real_get_storage()

    monkeypatch.setattr(direct, "get_storage", complete_first)
    with s3_app.app_context():
        assert direct.cleanup_expired_uploads(now=past_expiry(s3_app)) == 0
    assert completed == ["started", 202]
    image = s3_client.get(f"/api/images/{body['id']}").get_json()
    assert image["status"] == "queued"
    assert bucket_keys(bucket_client, bucket) == {f"originals/{body['id']}.jpg"}


def test_a_completion_whose_row_cleanup_removed_meanwhile_leaves_no_object(
    s3_app, s3_client, bucket_client, bucket, monkeypatch
):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    with s3_app.app_context():
        storage = direct.get_storage()
        real_copy = storage.copy

        def cleanup_first(source, target, content_type):
            # complete has read the row as awaiting; cleanup removes it before the copy is made.
            with s3_app.app_context():
                assert direct.cleanup_expired_uploads(now=past_expiry(s3_app)) == 1
            real_copy(source, target, content_type)

        monkeypatch.setattr(storage, "copy", cleanup_first)
    response = s3_client.post(body["complete_url"])
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found")
    with s3_app.app_context():
        assert db.session.get(Image, body["id"]) is None
    assert bucket_keys(bucket_client, bucket) == set()


def test_objects_cleanup_could_not_delete_are_removed_by_a_later_run(
    s3_app, s3_client, bucket_client, bucket, monkeypatch
):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    with s3_app.app_context():
        storage = direct.get_storage()
        real_delete = storage.delete

        def storage_down(key):
            from app.exceptions import StorageUnavailable

            raise StorageUnavailable()

        monkeypatch.setattr(storage, "delete", storage_down)
        assert direct.cleanup_expired_uploads(now=past_expiry(s3_app)) == 1
        assert db.session.get(Image, body["id"]) is None
        assert bucket_keys(bucket_client, bucket) == {body["upload"]["fields"]["key"]}
        monkeypatch.setattr(storage, "delete", real_delete)
        direct.cleanup_expired_uploads(now=past_expiry(s3_app))
    assert bucket_keys(bucket_client, bucket) == set()


def test_cleanup_leaves_the_object_of_an_upload_still_awaiting(s3_app, s3_client, bucket_client, bucket):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    with s3_app.app_context():
        direct.cleanup_expired_uploads()
    assert bucket_keys(bucket_client, bucket) == {body["upload"]["fields"]["key"]}
