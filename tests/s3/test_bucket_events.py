"""The event path: MinIO's Redis notifications (real S3 event records) complete direct uploads."""

import json
from urllib.parse import quote, quote_plus

from app.extensions import redis_queue
from app.pipeline.bucket_events import created_keys
from tests.s3.direct import JPEG, queued_job_ids, send, start

EVENTS_LIST = "pixline:s3-events"


def s3_record(bucket: str, key: str, event_name: str = "s3:ObjectCreated:Post", size: int = 1234) -> dict:
    """One S3 event record as MinIO writes it (the key URL-encoded, '/' included)."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "10.0.0.7"},
        "responseElements": {"x-amz-id-2": "dd9025bab4ad", "x-amz-request-id": "17B1E5C6A3C5A2D4"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minioadmin"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote(key, safe=""),
                "size": size,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "contentType": "image/jpeg",
                "sequencer": "17B1E5C6A3D7E0F1",
            },
        },
        "source": {"host": "10.0.0.7", "port": "", "userAgent": "Mozilla/5.0"},
    }


def access_notification(*records: dict) -> str:
    """A list entry as MinIO's Redis target pushes it in "access" format."""
    return json.dumps([{"Event": list(records), "EventTime": records[0]["eventTime"]}])


def test_keys_are_read_from_minio_access_format_and_decoded():
    notification = access_notification(s3_record("photos", "originals/abc.jpg"), s3_record("photos", "a b/c+d.jpg"))
    assert created_keys(notification, "photos") == ["originals/abc.jpg", "a b/c+d.jpg"]


def test_keys_are_read_from_the_plain_records_format_with_plus_for_space():
    record = s3_record("photos", "x")
    record["s3"]["object"]["key"] = quote_plus("originals/my photo.jpg", safe="/")
    assert created_keys(json.dumps({"Records": [record]}), "photos") == ["originals/my photo.jpg"]


def test_other_buckets_removals_and_garbage_are_ignored():
    notification = access_notification(
        s3_record("elsewhere", "originals/a.jpg"), s3_record("photos", "originals/b.jpg", "s3:ObjectRemoved:Delete")
    )
    assert created_keys(notification, "photos") == []
    assert created_keys("not json", "photos") == []
    assert created_keys(json.dumps({"EventName": "s3:TestEvent"}), "photos") == []


def listen_once(app):
    """Run `flask storage listen --once` against the app."""
    result = app.test_cli_runner().invoke(args=["storage", "listen", "--once", "--idle-timeout", "10"])
    assert result.exit_code == 0, result.output
    return result


def push(app, notification: str) -> None:
    """Do what MinIO does: RPUSH the notification onto the configured list."""
    with app.app_context():
        redis_queue.connection.rpush(app.config["S3_EVENTS_LIST"], notification)


def test_listener_completes_the_upload_a_notification_announces(s3_app, s3_client, bucket):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    push(s3_app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"], size=len(JPEG))))
    assert "handled 1 notification(s)" in listen_once(s3_app).output
    image = s3_client.get(f"/api/images/{body['id']}").get_json()
    assert (image["status"], image["width"], image["height"]) == ("queued", 120, 80)
    assert queued_job_ids(s3_app) == [f"image-{body['id']}"]


def test_listener_and_complete_together_queue_once(s3_app, s3_client, bucket):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    push(s3_app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"])))
    listen_once(s3_app)
    assert s3_client.post(f"/api/images/{body['id']}/complete").status_code == 202
    push(s3_app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"])))
    listen_once(s3_app)
    assert queued_job_ids(s3_app) == [f"image-{body['id']}"]


def test_listener_skips_keys_that_are_no_upload(s3_app, s3_client, bucket):
    push(s3_app, access_notification(s3_record(bucket, "originals/0123456789abcdef.jpg"), s3_record(bucket, "x.txt")))
    listen_once(s3_app)
    assert queued_job_ids(s3_app) == []


def test_listener_refuses_a_bad_object_like_complete_does(make_s3_app, bucket, bucket_client):
    app = make_s3_app()
    client = app.test_client()
    body = start(client).get_json()
    send(body["upload"], b"<html>not an image</html>")
    push(app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"])))
    listen_once(app)
    image = client.get(f"/api/images/{body['id']}").get_json()
    assert (image["status"], image["error"]["code"]) == ("failed", "unsupported_type")
    assert bucket_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
