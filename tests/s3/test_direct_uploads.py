"""Direct uploads against a real S3 HTTP endpoint: presigned POST, completion, refusals, expiry."""

import io
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import Image, utcnow
from tests.s3.direct import JPEG, policy_of, queued_job_ids, send, start
from tests.support.images import encoded


def test_start_answers_a_presigned_post_and_records_the_image_awaiting_upload(s3_client):
    response = start(s3_client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "awaiting_upload"
    assert body["upload"]["method"] == "POST"
    assert body["upload"]["fields"]["key"] == f"uploads/{body['id']}.jpg"
    image = s3_client.get(response.headers["Location"]).get_json()
    assert (image["status"], image["content_type"], image["bytes"]) == ("awaiting_upload", "image/jpeg", len(JPEG))


def test_policy_pins_key_size_range_type_and_expiry(s3_app, s3_client, bucket):
    body = start(s3_client, content_type="image/png").get_json()
    policy = policy_of(body["upload"])
    conditions = policy["conditions"]
    assert {"key": f"uploads/{body['id']}.png"} in conditions
    assert {"bucket": bucket} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, s3_app.config["MAX_UPLOAD_BYTES"]] in conditions
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiration - (datetime.now(UTC) + timedelta(seconds=900))) < timedelta(seconds=30)
    assert body["upload"]["expires_at"] == policy["expiration"]
    # Every condition names a field the client must send as given: nothing is left open.
    for condition in conditions:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            assert name == "bucket" or body["upload"]["fields"][name] == value


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 30 * 1024 * 1024}, 413, "too_large"),
        ({"filename": "a.svg", "content_type": "image/svg+xml", "bytes": 100}, 415, "unsupported_type"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": "100"}, 400, "bad_request"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 0}, 400, "bad_request"),
        ({"filename": "a.jpg", "bytes": 100}, 400, "bad_request"),
        ([1, 2], 400, "bad_request"),
    ],
)
def test_start_refuses_what_the_request_already_shows_wrong(s3_app, s3_client, payload, status, code):
    response = s3_client.post("/api/uploads", json=payload)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    with s3_app.app_context():
        assert db.session.query(Image).count() == 0


def test_start_refuses_a_body_that_is_not_json(s3_client):
    response = s3_client.post("/api/uploads", data="{not json", content_type="application/json")
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "bad_request")


def test_direct_uploads_need_object_storage(client):
    response = start(client)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "conflict")


def test_complete_before_the_file_arrived_is_a_conflict(s3_app, s3_client):
    body = start(s3_client).get_json()
    response = s3_client.post(f"/api/images/{body['id']}/complete")
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "conflict")
    assert s3_client.get(f"/api/images/{body['id']}").get_json()["status"] == "awaiting_upload"
    assert queued_job_ids(s3_app) == []


def test_complete_of_an_unknown_image_is_404(s3_client):
    assert s3_client.post("/api/images/nope/complete").status_code == 404


def test_complete_after_the_post_records_the_real_image_and_queues_it_once(s3_app, s3_client):
    body = start(s3_client, size=999).get_json()
    assert send(body["upload"], JPEG).status_code in (200, 201, 204)
    first = s3_client.post(f"/api/images/{body['id']}/complete")
    assert first.status_code == 202
    image = first.get_json()
    assert (image["status"], image["bytes"], image["width"], image["height"]) == ("queued", len(JPEG), 120, 80)
    second = s3_client.post(body["complete_url"])
    assert second.status_code == 202 and second.get_json()["status"] == "queued"
    assert queued_job_ids(s3_app) == [f"image-{body['id']}"]


def test_real_type_wins_over_the_declared_one(s3_client):
    body = start(s3_client, content_type="image/png").get_json()
    send(body["upload"], JPEG)
    image = s3_client.post(f"/api/images/{body['id']}/complete").get_json()
    assert image["content_type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("content", "config", "status", "code"),
    [
        (encoded(400, 300, "PNG"), {"MAX_UPLOAD_BYTES": 1000}, 413, "too_large"),
        (b"just some text, not an image\n" * 10, {}, 415, "unsupported_type"),
        (encoded(200, 200), {"MAX_IMAGE_PIXELS": 100}, 422, "too_many_pixels"),
    ],
)
def test_an_object_the_policy_should_have_stopped_is_deleted_and_the_image_fails(
    make_s3_app, bucket_client, bucket, content, config, status, code
):
    # moto does not enforce POST policies, so this is the app's own second line of defence.
    app = make_s3_app(**config)
    client = app.test_client()
    body = start(client, size=100).get_json()
    send(body["upload"], content)
    response = client.post(f"/api/images/{body['id']}/complete")
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    image = client.get(f"/api/images/{body['id']}").get_json()
    assert (image["status"], image["error"]["code"]) == ("failed", code)
    assert bucket_client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    again = client.post(f"/api/images/{body['id']}/complete")
    assert again.status_code == 409
    assert queued_job_ids(app) == []


def test_expired_uploads_are_removed_with_their_stray_objects(s3_app, s3_client, bucket_client, bucket):
    abandoned = start(s3_client).get_json()
    send(abandoned["upload"], JPEG)
    fresh = start(s3_client).get_json()
    from app.pipeline.direct import cleanup_expired_uploads

    with s3_app.app_context():
        later = utcnow() + timedelta(seconds=900 + 3600 + 1)
        db.session.get(Image, fresh["id"]).created_at = later - timedelta(seconds=60)
        db.session.commit()
        assert cleanup_expired_uploads(now=later) == 1
        assert db.session.get(Image, abandoned["id"]) is None
        assert db.session.get(Image, fresh["id"]) is not None
    assert bucket_client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_cleanup_command_leaves_uploads_that_have_not_expired(s3_app, s3_client):
    start(s3_client)
    result = s3_app.test_cli_runner().invoke(args=["storage", "cleanup-uploads"])
    assert result.exit_code == 0 and "removed 0 expired upload(s)" in result.output


def test_delete_removes_every_object_of_the_image(s3_app, s3_client, bucket_client, bucket):
    created = s3_client.post(
        "/api/images", data={"file": (io.BytesIO(JPEG), "a.jpg")}, content_type="multipart/form-data"
    ).get_json()
    with s3_app.app_context():
        from app.storage import get_storage

        get_storage().save(f"variants/{created['id']}/thumb.webp", b"webp", "image/webp")
    assert bucket_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    assert s3_client.delete(f"/api/images/{created['id']}").status_code == 204
    assert bucket_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_cleanup_runs_as_a_periodic_maintenance_task(s3_app):
    from app.maintenance.schedule import periodic_tasks

    tasks = {task.name: task for task in periodic_tasks()}
    assert tasks["cleanup-uploads"].func_path == "app.pipeline.direct.cleanup_expired_uploads"
    assert tasks["cleanup-uploads"].interval_seconds(s3_app.config) == 600
