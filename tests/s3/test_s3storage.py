"""What only the S3 backend does: object metadata, presigned and CDN URLs, the bucket at startup, outages."""

import io

import pytest
import requests
from sqlalchemy import func, select

from app import create_app
from app.exceptions import StorageUnavailable
from app.storage.range_reader import READ_AHEAD, RangeReader
from app.storage.s3 import BucketMissing, S3Storage
from config import settings_from_env
from tests.conftest import base_config
from tests.s3.conftest import S3Endpoint, s3_config, s3_settings
from tests.support.images import encoded


def test_objects_carry_content_type_and_cache_control(s3_storage, bucket_client):
    s3_storage.save("variants/a/thumb.webp", b"webp", "image/webp")
    s3_storage.save("originals/a.jpg", b"jpeg", "image/jpeg")
    variant = bucket_client.head_object(Bucket=s3_storage.bucket, Key="variants/a/thumb.webp")
    original = bucket_client.head_object(Bucket=s3_storage.bucket, Key="originals/a.jpg")
    assert variant["ContentType"] == "image/webp"
    assert variant["CacheControl"] == "public, max-age=31536000, immutable"
    assert original["CacheControl"] == "private, max-age=31536000"


def test_media_url_is_presigned_and_fetchable_with_plain_http(s3_storage):
    s3_storage.save("variants/a/thumb.webp", b"webp bytes", "image/webp")
    url = s3_storage.url("variants/a/thumb.webp")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == b"webp bytes"
    assert response.headers["Content-Type"] == "image/webp"


def test_original_urls_download_instead_of_rendering(s3_storage):
    s3_storage.save("originals/a.jpg", b"jpeg bytes", "image/jpeg")
    response = requests.get(s3_storage.url("originals/a.jpg"), timeout=10)
    assert response.headers["Content-Disposition"] == "attachment"


def test_media_base_url_gives_plain_urls(s3_endpoint, bucket):
    settings = settings_from_env({**s3_settings(s3_endpoint, bucket), "MEDIA_BASE_URL": "https://cdn.example/px/"})
    storage = S3Storage.from_config(settings)
    assert storage.url("variants/a/thumb.webp") == "https://cdn.example/px/variants/a/thumb.webp"


def test_head_reports_size_and_type_or_none(s3_storage):
    s3_storage.save("originals/a.png", b"12345", "image/png")
    head = s3_storage.head("originals/a.png")
    assert (head.size, head.content_type) == (5, "image/png")
    assert s3_storage.head("originals/none.png") is None


def test_missing_bucket_stops_the_app_at_startup_with_a_clear_error(tmp_path, s3_endpoint, bucket, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(BucketMissing, match="S3_CREATE_BUCKET=1"):
        create_app({**base_config(tmp_path), **s3_config(s3_endpoint, bucket, S3_CREATE_BUCKET=False)})


def test_missing_bucket_is_created_at_startup_when_asked(s3_app, bucket, bucket_client):
    assert bucket in {entry["Name"] for entry in bucket_client.list_buckets()["Buckets"]}


def test_unreachable_endpoint_is_storage_unavailable(bucket):
    dead = S3Endpoint()  # never started: connections are refused
    settings = settings_from_env({**s3_settings(dead, bucket), "S3_MAX_ATTEMPTS": "1"})
    storage = S3Storage.from_config(settings)  # warns, does not fail: the endpoint may come up later
    for attempt in (
        lambda: storage.save("originals/a.jpg", b"x", "image/jpeg"),
        lambda: storage.open("originals/a.jpg"),
        lambda: storage.head("originals/a.jpg"),
        lambda: list(storage.keys("originals/")),
        storage.check,
    ):
        with pytest.raises(StorageUnavailable):
            attempt()


def test_upload_while_storage_is_down_answers_503_and_leaves_no_row(make_s3_app, s3_endpoint, bucket):
    make_s3_app()  # creates the schema and the bucket
    app = make_s3_app(S3_ENDPOINT_URL=S3Endpoint().url, S3_MAX_ATTEMPTS=1)
    response = app.test_client().post(
        "/api/images", data={"file": (io.BytesIO(encoded(40, 30)), "a.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    with app.app_context():
        from app.extensions import db
        from app.models import Image

        assert db.session.scalar(select(func.count()).select_from(Image)) == 0


def test_range_reader_fetches_only_the_prefix_it_reads():
    content = bytes(range(256)) * 1024
    fetched = []

    def fetch(first, last):
        fetched.append((first, last))
        return content[first : last + 1]

    reader = RangeReader(fetch, len(content))
    assert reader.read(10) == content[:10]
    reader.seek(100)
    assert reader.read(5) == content[100:105]
    assert fetched == [(0, READ_AHEAD - 1)]
    reader.seek(-3, io.SEEK_END)
    assert reader.read() == content[-3:]
    assert reader.tell() == len(content)


def test_pages_may_show_images_from_and_upload_to_the_bucket(s3_client, s3_endpoint):
    policy = s3_client.get("/").headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert s3_endpoint.url in directives["img-src"] and s3_endpoint.url in directives["connect-src"]
    assert s3_endpoint.url not in directives["script-src"]
