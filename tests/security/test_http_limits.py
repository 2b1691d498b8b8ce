"""Request limits: an oversized body is refused before it is read, and so are floods of form parts."""

import io
import json
import socket

from tests import imagegen
from tests.security.conftest import assert_nothing_stored, read_response


def test_huge_content_length_is_413_json_before_the_body_is_sent(app, server, fake_redis):
    with socket.create_connection(server, timeout=10) as connection:
        connection.sendall(
            b"POST /api/images HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        )
        # Only the headers and a few bytes were sent: the answer must come without waiting for 10 GB.
        status, headers, body = read_response(connection)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "too_large"
    assert_nothing_stored(app, fake_redis)


def test_body_just_over_the_limit_is_413(make_app, fake_redis):
    app = make_app(MAX_UPLOAD_BYTES=10_000)
    data = imagegen.solid_jpeg((8, 8)) + b"\0" * 80_000
    response = app.test_client().post(
        "/api/images", data={"file": (io.BytesIO(data), "a.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert_nothing_stored(app, fake_redis)


def test_too_many_form_parts_is_413(app, client, fake_redis):
    form = {f"field{i}": "x" for i in range(50)}
    form["file"] = (io.BytesIO(imagegen.solid_jpeg((8, 8))), "a.jpg")
    response = client.post("/api/images", data=form, content_type="multipart/form-data")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert_nothing_stored(app, fake_redis)


def test_huge_text_field_is_413(app, client, fake_redis):
    form = {"note": "x" * (2 * 1024 * 1024), "file": (io.BytesIO(imagegen.solid_jpeg((8, 8))), "a.jpg")}
    response = client.post("/api/images", data=form, content_type="multipart/form-data")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert_nothing_stored(app, fake_redis)


def test_huge_urlencoded_form_on_an_html_route_is_413(client):
    response = client.post("/images/x/delete", data={"csrf_token": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


def test_file_sized_body_on_a_route_that_takes_no_file_is_413(client):
    body = b'{"filename": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/api/uploads", data=body, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
