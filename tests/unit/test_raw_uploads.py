"""Raw-body uploads (`POST /api/images` with the image as the body): the multipart contract, every refusal alike."""

import io

import pytest

from app.extensions import db
from app.models import Image
from tests.security.test_hostile_uploads import gif_with_a_frame_cut_short
from tests.support.images import encoded
from tests.unit.test_api import assert_nothing_stored, queued_job_ids, stored_files


def post_raw(client, data: bytes, content_type: str = "image/jpeg", chunked: bool = False, **headers):
    """POST bytes as the raw body; chunked: without a Content-Length, as a streamed (chunked) request arrives."""
    if not chunked:
        return client.post("/api/images", data=data, headers={"Content-Type": content_type, **headers})
    environ = {"wsgi.input_terminated": True}  # what gunicorn sets for a chunked body it decodes
    return client.post("/api/images", input_stream=io.BytesIO(data), headers={"Content-Type": content_type, **headers},
                       environ_overrides=environ)  # fmt: skip


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/octet-stream"])
def test_a_raw_body_is_accepted_like_a_multipart_file(app, client, fake_redis, content_type, chunked):
    response = post_raw(client, encoded(64, 48), content_type, chunked, **{"X-Filename": "holiday.jpg"})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/api/images/{body['id']}"
    assert (body["status"], body["content_type"], body["filename"]) == ("queued", "image/jpeg", "holiday.jpg")
    assert body["width"] == 64 and body["bytes"] == len(encoded(64, 48))
    assert stored_files(app) == [f"originals/{body['id']}.jpg"]
    assert queued_job_ids(app, fake_redis) == [f"image-{body['id']}"]


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"Content-Disposition": 'attachment; filename="beach.jpg"'}, "beach.jpg"),
        ({"Content-Disposition": "attachment; filename*=UTF-8''pl%C3%A4ge.jpg"}, "pläge.jpg"),
        ({"X-Filename": "caf%C3%A9.jpg"}, "café.jpg"),
        ({"X-Filename": "../../etc/passwd.jpg"}, "passwd.jpg"),
        ({}, "upload"),
    ],
    ids=["disposition", "disposition-utf8", "x-filename", "x-filename-path", "none"],
)
def test_the_file_name_comes_from_content_disposition_or_x_filename(client, headers, name):
    response = post_raw(client, encoded(), **headers)
    assert response.status_code == 202
    assert response.get_json()["filename"] == name


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_empty_raw_body_is_no_file(app, client, fake_redis, chunked):
    response = post_raw(client, b"", chunked=chunked)
    assert (response.status_code, error_code(response)) == (400, "no_file")
    assert_nothing_stored(app, fake_redis)


def test_a_raw_body_announced_too_large_is_413_before_it_is_read(app, client, fake_redis):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    read = []

    class Body(io.BytesIO):
        def read(self, *args):
            read.append(args)
            return super().read(*args)

    response = client.post("/api/images", input_stream=Body(b"\xff" * 5000), content_length=5000,
                           headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert (response.status_code, error_code(response)) == (413, "too_large")
    assert "1,000 bytes" in response.get_json()["error"]["message"]
    assert read == [], "the body was read although its announced size was over the limit"
    assert_nothing_stored(app, fake_redis)


def test_a_chunked_raw_body_streaming_past_the_limit_is_413(app, client, fake_redis):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    response = post_raw(client, encoded(300, 300, "PNG", "RGB", (1, 2, 3)) + b"\0" * 2000, chunked=True)
    assert (response.status_code, error_code(response)) == (413, "too_large")
    assert_nothing_stored(app, fake_redis)


@pytest.mark.parametrize(
    "data",
    [b"just some text, honestly", b"<!doctype html><html>hi</html>", encoded(fmt="BMP"), encoded(fmt="TIFF")],
    ids=["text", "html", "bmp", "tiff"],
)
def test_a_raw_body_that_is_not_an_accepted_image_is_unsupported_type(app, client, fake_redis, data):
    response = post_raw(client, data, "image/jpeg")
    assert (response.status_code, error_code(response)) == (415, "unsupported_type")
    assert_nothing_stored(app, fake_redis)


def test_a_raw_body_whose_header_cannot_be_parsed_is_invalid_image(app, client, fake_redis):
    response = post_raw(client, gif_with_a_frame_cut_short(), "image/gif")
    assert (response.status_code, error_code(response)) == (422, "invalid_image")
    assert_nothing_stored(app, fake_redis)


def test_a_raw_body_with_too_many_pixels_is_422(app, client, fake_redis):
    app.config["MAX_IMAGE_PIXELS"] = 100 * 100
    response = post_raw(client, encoded(101, 100, "PNG"), "image/png")
    assert (response.status_code, error_code(response)) == (422, "too_many_pixels")
    assert_nothing_stored(app, fake_redis)


def test_a_raw_upload_while_storage_is_down_is_503_and_leaves_nothing(app, client, fake_redis, monkeypatch):
    from app.exceptions import StorageUnavailable
    from app.storage import LocalStorage

    def refuse(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(LocalStorage, "save", refuse)
    response = post_raw(client, encoded())
    assert (response.status_code, error_code(response)) == (503, "unavailable")
    assert_nothing_stored(app, fake_redis)


def test_a_raw_upload_while_the_database_is_down_is_503_and_leaves_nothing(app, client, fake_redis, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(db.session, "commit", refuse)
    response = post_raw(client, encoded())
    assert (response.status_code, error_code(response)) == (503, "unavailable")
    assert stored_files(app) == [] and queued_job_ids(app, fake_redis) == []
    monkeypatch.undo()
    with app.app_context():
        assert db.session.query(Image).count() == 0
