"""The JSON API contract, on fakeredis: what clients see, and that refusals leave nothing behind."""

import io

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from app.extensions import db
from app.models import Image, ImageStatus
from tests.support.images import encoded


def post_file(client, data: bytes, filename: str = "photo.jpg", field: str = "file"):
    """Upload bytes in one multipart field."""
    return client.post("/api/images", data={field: (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def stored_files(app) -> list[str]:
    """Every file in the storage root."""
    from app.storage import LocalStorage

    return list(LocalStorage(app.config["STORAGE_ROOT"]).keys())


def queued_job_ids(app, fake_redis) -> list[str]:
    """Job ids waiting in the images queue."""
    return Queue("images", connection=fake_redis, serializer=JSONSerializer).job_ids


def assert_nothing_stored(app, fake_redis) -> None:
    """No row, no file, no job."""
    with app.app_context():
        assert db.session.query(Image).count() == 0
    assert stored_files(app) == []
    assert queued_job_ids(app, fake_redis) == []


def test_upload_answers_202_with_location_and_queued_resource(client):
    response = post_file(client, encoded(640, 480))
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"/api/images/{body['id']}"
    assert body["status"] == "queued"
    assert (body["width"], body["height"], body["content_type"]) == (640, 480, "image/jpeg")
    assert body["variants"] == {} and body["error"] is None and body["attempts"] == 0


def test_upload_stores_file_row_and_one_job(app, client, fake_redis):
    body = post_file(client, encoded(), "cat.jpg").get_json()
    assert stored_files(app) == [f"originals/{body['id']}.jpg"]
    assert queued_job_ids(app, fake_redis) == [f"image-{body['id']}"]
    with app.app_context():
        assert db.session.get(Image, body["id"]).status == ImageStatus.QUEUED.value


def test_upload_key_ignores_client_filename(app, client):
    body = post_file(client, encoded(), "../../etc/passwd.jpg").get_json()
    assert stored_files(app) == [f"originals/{body['id']}.jpg"]
    assert body["filename"] == "passwd.jpg"


@pytest.mark.parametrize(
    ("data", "field"),
    [(b"", "file"), (encoded(), "image")],
    ids=["empty-file", "wrong-field"],
)
def test_missing_or_empty_file_is_no_file(app, client, fake_redis, data, field):
    response = post_file(client, data, field=field)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "no_file"
    assert_nothing_stored(app, fake_redis)


def test_two_files_are_no_file(app, client, fake_redis):
    files = [(io.BytesIO(encoded()), "a.jpg"), (io.BytesIO(encoded()), "b.jpg")]
    response = client.post("/api/images", data={"file": files}, content_type="multipart/form-data")
    assert response.get_json()["error"]["code"] == "no_file"
    assert_nothing_stored(app, fake_redis)


def test_too_large_is_413(app, client, fake_redis):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    response = post_file(client, encoded(300, 300, "PNG", "RGB", (1, 2, 3)) + b"\0" * 2000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert_nothing_stored(app, fake_redis)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some text, honestly", "notes.jpg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.svg"),
        (b"<!doctype html><html><body>hi</body></html>", "page.png"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "doc.jpg"),
        (encoded(fmt="BMP"), "bitmap.jpg"),
        (encoded(fmt="TIFF"), "scan.jpg"),
    ],
    ids=["text", "svg", "html", "pdf", "bmp", "tiff"],
)
def test_non_images_are_unsupported_type(app, client, fake_redis, data, name):
    response = post_file(client, data, name)
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_type"
    assert_nothing_stored(app, fake_redis)


def test_too_many_pixels_from_header_is_422(app, client, fake_redis):
    app.config["MAX_IMAGE_PIXELS"] = 100 * 100
    response = post_file(client, encoded(101, 100, "PNG"))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "too_many_pixels"
    assert_nothing_stored(app, fake_redis)


def test_storage_failure_is_503_and_leaves_no_row(app, client, fake_redis, monkeypatch):
    from app.exceptions import StorageUnavailable
    from app.storage import LocalStorage

    def refuse(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(LocalStorage, "save", refuse)
    response = post_file(client, encoded())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert_nothing_stored(app, fake_redis)


def test_database_failure_is_503_and_leaves_no_file(app, client, fake_redis, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(db.session, "commit", refuse)
    response = post_file(client, encoded())
    assert response.status_code == 503
    assert stored_files(app) == []
    assert queued_job_ids(app, fake_redis) == []


def test_unknown_image_is_404_json(client):
    response = client.get("/api/images/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_api_route_is_json_not_html(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.is_json


def test_list_is_newest_first_and_paginates(client):
    ids = [post_file(client, encoded()).get_json()["id"] for _ in range(5)]
    first = client.get("/api/images?limit=2").get_json()
    second = client.get(f"/api/images?limit=2&cursor={first['next_cursor']}").get_json()
    third = client.get(f"/api/images?limit=2&cursor={second['next_cursor']}").get_json()
    listed = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert listed == list(reversed(ids))
    assert third["next_cursor"] is None


def test_list_filters_by_status(client):
    post_file(client, encoded())
    assert client.get("/api/images?status=done").get_json()["items"] == []
    assert len(client.get("/api/images?status=queued").get_json()["items"]) == 1


def test_list_refuses_unknown_status_and_bad_cursor(client):
    assert client.get("/api/images?status=bogus").status_code == 400
    assert client.get("/api/images?cursor=!!!").status_code == 400


def test_delete_removes_row_and_files(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    assert client.delete(f"/api/images/{image_id}").status_code == 204
    assert client.get(f"/api/images/{image_id}").status_code == 404
    assert stored_files(app) == []


def test_retry_of_image_that_is_not_failed_is_409(client):
    image_id = post_file(client, encoded()).get_json()["id"]
    response = client.post(f"/api/images/{image_id}/retry")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"


def test_retry_of_failed_image_requeues_it(app, client, fake_redis):
    image_id = post_file(client, encoded()).get_json()["id"]
    with app.app_context():
        image = db.session.get(Image, image_id)
        image.status, image.error_code, image.error_message = "failed", "invalid_image", "bad"
        db.session.commit()
    fake_redis.flushall()
    response = client.post(f"/api/images/{image_id}/retry")
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued" and response.get_json()["error"] is None
    assert queued_job_ids(app, fake_redis) == [f"image-{image_id}"]


def test_long_poll_returns_after_wait_when_nothing_changes(client):
    image_id = post_file(client, encoded()).get_json()["id"]
    response = client.get(f"/api/images/{image_id}?wait=1&status=queued")
    assert response.status_code == 200
    assert response.get_json()["status"] == "queued"


def test_long_poll_returns_at_once_when_status_already_differs(client):
    image_id = post_file(client, encoded()).get_json()["id"]
    response = client.get(f"/api/images/{image_id}?wait=30&status=processing")
    assert response.get_json()["status"] == "queued"


def test_wait_must_be_a_number(client):
    image_id = post_file(client, encoded()).get_json()["id"]
    assert client.get(f"/api/images/{image_id}?wait=soon").status_code == 400


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_originals_are_private_by_default(client):
    body = post_file(client, encoded()).get_json()
    assert body["original_url"] is None
    assert client.get(f"/media/originals/{body['id']}.jpg").status_code == 404


def test_originals_are_served_when_enabled(app, client):
    app.config["SERVE_ORIGINALS"] = True
    body = post_file(client, encoded()).get_json()
    response = client.get(body["original_url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "path",
    [
        "/media/../instance/secret_key",
        "/media/variants/..%2f..%2fsecret_key",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/variants/x/../../originals/a.jpg",
    ],
)
def test_media_paths_cannot_leave_storage_root(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("setting", "value"),
    [("IMAGE_VARIANTS", "thumb:0"), ("IMAGE_VARIANTS", "thumb:160,thumb:480"), ("OUTPUT_FORMAT", "bmp")],
)
def test_bad_processing_settings_stop_the_app_at_startup(tmp_path, monkeypatch, fake_redis, setting, value):
    from app import create_app

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ValueError, match=setting):
        create_app({"TESTING": True, "REDIS_CLIENT": fake_redis, setting: value})
